"""Every user-facing msgid is in the catalogs, translated to zh_CN, and no catalog is stale."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from locales import LOCALES, po_path, translate

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None,
            "translate": (2,), "translate_plural": (2, 3)}
METHODS = [
    ("domain/**.py", "python"), ("bot/**.py", "python"), ("admin_web/**.py", "python"),
    ("scheduler/**.py", "python"), ("fieldops/**.py", "python"),
    ("admin_web/templates/**.html", "jinja2"),
]
OPTIONS = {"admin_web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def source_msgids() -> set[str]:
    """Msgids found in the sources, as `make messages` extracts them."""
    found = set()
    for _, _, message, _, _ in extract_from_dir(
        str(ROOT), METHODS, options_map=OPTIONS, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return {m for m in found if m}


def catalog(locale: str):  # type: ignore[no-untyped-def]
    with po_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale)


def test_catalogs_are_not_stale() -> None:
    wanted = source_msgids()
    for locale in LOCALES:
        present = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog(locale) if m.id}
        missing = sorted(wanted - present)
        assert missing == [], f"{locale}: run `make messages`; missing {missing[:10]}"


def test_every_zh_cn_msgid_is_translated() -> None:
    untranslated = [
        m.id for m in catalog("zh_CN")
        if m.id and (m.fuzzy or not (m.string if isinstance(m.string, str) else all(m.string)))
    ]
    assert untranslated == []


def test_translation_follows_the_locale() -> None:
    msgid = "You do not have permission for this action."
    assert translate("en", msgid) == msgid
    assert translate("zh_CN", msgid) != msgid


PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%%|%[sd]")


def test_zh_cn_keeps_every_placeholder_and_no_stray_percent() -> None:
    broken = []
    for message in catalog("zh_CN"):
        if not message.id or not isinstance(message.id, str):
            continue
        wanted = sorted(PLACEHOLDER.findall(message.id))
        found = sorted(PLACEHOLDER.findall(message.string))
        if wanted != found or message.string.count("%") != message.id.count("%"):
            broken.append((message.id, message.string))
    assert broken == []
