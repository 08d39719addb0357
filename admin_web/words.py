"""Sentences of the domain in the reader's language, each object a link to its page
(issue 16): the one table of which page shows each kind of object a sentence names."""

from __future__ import annotations

from markupsafe import Markup, escape

from admin_web.i18n import current_locale, gettext
from domain.platform.sentences import Param, Ref, Sentence, Term

PAGES: dict[Ref, str] = {
    Ref.CASE: "/cases/{id}",
    Ref.PERSON: "/people/{id}",
    Ref.DEVICE: "/devices/{id}",
    Ref.BOX: "/vouchers/boxes/{id}",
    Ref.CALLBACK: "/callbacks/{id}",
    Ref.INSPECTION: "/inspections/{id}",
    Ref.ORG: "/orgs/{id}",
    Ref.CASE_AUDIT: "/case-audits/{id}",
}
MISSING = "—"


class _Words(dict[str, str]):
    """The words of a sentence by placeholder; a placeholder without a word reads as a dash."""

    def __missing__(self, key: str) -> str:
        return MISSING


def separator() -> str:
    """How the reader's language lists words: 、 in Chinese, a comma otherwise."""
    return "、" if current_locale().startswith("zh") else ", "


def term_text(term: Term) -> str:
    """A word in the reader's language."""
    if term.msgid:
        return gettext(term.msgid) % _Words(term.args) if term.args else gettext(term.msgid)
    if term.names is not None:
        return term.names[0] if current_locale().startswith("zh") else term.names[1]
    return term.text


def term_html(term: Term) -> Markup:
    """A word, a link to its object's page when it names one."""
    text = term_text(term)
    if term.ref is None or term.ref_id is None:
        return escape(text)
    return Markup('<a href="{}">{}</a>').format(PAGES[term.ref].format(id=term.ref_id), text)


def param_html(param: Param) -> Markup:
    """One placeholder's word, or its words joined the reader's way."""
    if isinstance(param, Term):
        return term_html(param)
    return Markup(escape(separator())).join(term_html(term) for term in param) or Markup(MISSING)


def words(sentence: Sentence) -> Markup:
    """A sentence translated into the reader's language, its words escaped and linked."""
    rendered = _Words({name: param_html(param) for name, param in sentence.params.items()})
    return Markup(escape(gettext(sentence.msgid))) % rendered
