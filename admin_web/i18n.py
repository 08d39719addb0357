"""The request's locale in a context variable, and gettext callables that read it."""

from __future__ import annotations

from contextvars import ContextVar, Token
from enum import StrEnum

from domain.platform.errors import DomainError
from domain.platform.status_labels import status_label
from locales import DEFAULT_LOCALE, translate, translations

_locale: ContextVar[str] = ContextVar("admin_web_locale", default=DEFAULT_LOCALE)


def current_locale() -> str:
    """The locale of the request being handled."""
    return _locale.get()


def use_locale(locale: str) -> Token[str]:
    """Make `locale` the current one; reset with the returned token."""
    return _locale.set(locale)


def reset_locale(token: Token[str]) -> None:
    """Restore the locale that was current before `use_locale`."""
    _locale.reset(token)


def gettext(message: str) -> str:
    """Translate a msgid into the request's locale."""
    return translations(_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a plural msgid into the request's locale."""
    return translations(_locale.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """Translate a msgid of one context (msgctxt) into the request's locale."""
    return translations(_locale.get()).pgettext(context, message)


def status_text(enum: type[StrEnum], value: str) -> str:
    """The translated label of one state of a record, in that record's own context."""
    return pgettext(*status_label(enum, value))


def error_text(err: DomainError) -> str:
    """The translated message of a refused request, its parameters filled in."""
    return translate(_locale.get(), err.key, **err.params)
