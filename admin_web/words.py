"""Sentences of the domain in the reader's language, each object a link to its page when the
reader may open it (issue 16): the one table of which page shows each kind of object a
sentence names, and who may open it."""

from __future__ import annotations

from collections.abc import Mapping

import jinja2
from markupsafe import Markup, escape

from admin_web.i18n import current_locale, gettext
from domain.oversight.person_history import reads_people
from domain.platform.access import Permission, can
from domain.platform.actors import Actor
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
# The permission each page needs; a person's page is his history for its readers, else his
# staff record for the staff readers.
NEEDS: dict[Ref, Permission] = {
    Ref.CASE: Permission.CASE_VIEW, Ref.DEVICE: Permission.DEVICE_VIEW,
    Ref.BOX: Permission.VOUCHER_VIEW, Ref.CALLBACK: Permission.CALLBACK_VIEW,
    Ref.INSPECTION: Permission.INSPECTION_VIEW, Ref.ORG: Permission.ORG_VIEW,
    Ref.CASE_AUDIT: Permission.CASE_AUDIT_VIEW, Ref.PERSON: Permission.STAFF_VIEW,
}
MISSING = "—"


def pages_for(actor: Actor | None) -> dict[Ref, str]:
    """The pages of the objects a reader may open: no link leads to a refusal."""
    if actor is None:
        return {}
    pages = {ref: page for ref, page in PAGES.items() if can(actor, NEEDS[ref])}
    if reads_people(actor):
        pages[Ref.PERSON] = PAGES[Ref.PERSON]
    elif Ref.PERSON in pages:
        pages[Ref.PERSON] = "/staff/{id}"
    return pages


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


def term_html(term: Term, pages: Mapping[Ref, str] = PAGES) -> Markup:
    """A word, a link to its object's page when it names one the reader may open."""
    text = term_text(term)
    page = pages.get(term.ref) if term.ref is not None else None
    if page is None or term.ref_id is None:
        return escape(text)
    return Markup('<a href="{}">{}</a>').format(page.format(id=term.ref_id), text)


def param_html(param: Param, pages: Mapping[Ref, str]) -> Markup:
    """One placeholder's word, or its words joined the reader's way."""
    if isinstance(param, Term):
        return term_html(param, pages)
    joined = Markup(escape(separator())).join(term_html(term, pages) for term in param)
    return joined or Markup(MISSING)


def words(sentence: Sentence, pages: Mapping[Ref, str] = PAGES) -> Markup:
    """A sentence translated into the reader's language, its words escaped and linked."""
    rendered = _Words({name: param_html(param, pages) for name, param in sentence.params.items()})
    return Markup(escape(gettext(sentence.msgid))) % rendered


@jinja2.pass_context
def words_filter(context: jinja2.runtime.Context, sentence: Sentence) -> Markup:
    """The `words` filter: a sentence linked for the page's reader."""
    return words(sentence, pages_for(context.get("actor")))


@jinja2.pass_context
def word_filter(context: jinja2.runtime.Context, term: Term) -> Markup:
    """The `word` filter: one word linked for the page's reader."""
    return term_html(term, pages_for(context.get("actor")))
