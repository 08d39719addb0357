"""Gettext catalogs (zh_CN default, en) and the translator every edge uses.

Catalogs are read from the committed `.po` files and compiled in memory, so no
compiled `.mo` file can go stale.
"""

from __future__ import annotations

import gettext as _gettext
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

CATALOG_DIR = Path(__file__).parent
DOMAIN = "messages"
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"


def po_path(locale: str) -> Path:
    """Where the catalog of one locale lives."""
    return CATALOG_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(locale: str) -> _gettext.NullTranslations:
    """The compiled catalog of a locale (falls back to the msgid)."""
    path = po_path(locale)
    if locale not in LOCALES or not path.exists():
        return _gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def normalise(locale: str | None, default: str = DEFAULT_LOCALE) -> str:
    """A supported locale for whatever a user or a setting gives."""
    return locale if locale in LOCALES else default


def translate(locale: str, message: str, **params: Any) -> str:
    """Translate a msgid and fill its %(name)s parameters."""
    text = translations(locale).gettext(message)
    return text % params if params else text


def translate_plural(locale: str, singular: str, plural: str, n: int, **params: Any) -> str:
    """Translate a plural msgid; `n` is also available as %(n)s."""
    text = translations(locale).ngettext(singular, plural, n)
    return text % {"n": n, **params}
