"""The one reader of path, query and form values: typed, bounded, refused with a translated
message before anything reaches a service or the database.

Ids and whole numbers are ASCII digits within the range of the database's integer columns
(`str.isdigit` would accept "²"); dates lie within FIRST_DAY..LAST_DAY so time-zone
conversions never overflow; texts are no longer than their model field; no value carries a
control character (PostgreSQL refuses NUL in text).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeVar

from aiohttp import web
from multidict import MultiMapping
from tortoise.models import Model

from admin_web.i18n import gettext as _
from domain.platform.errors import N_, DomainError

MAX_INT = 2**31 - 1  # ids and counts are IntField: int4 on PostgreSQL
MAX_DECIMAL = Decimal("99999.9")  # DecimalField(max_digits=6, decimal_places=1)
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2100, 12, 31)
_DIGITS = re.compile(r"[0-9]{1,12}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
E = TypeVar("E", bound=StrEnum)


def whole(value: str | None, low: int = 0, high: int = MAX_INT) -> int | None:
    """An integer typed in ASCII digits within low..high; None when blank or not one."""
    text = (value or "").strip()
    if not _DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if low <= number <= high else None


def int_or_none(value: str | None) -> int | None:
    """An id (1..MAX_INT) from a form or query value, None when blank or not an id."""
    return whole(value, 1)


def whole_number(value: str | None) -> int | None:
    """A non-negative integer (0..MAX_INT), None when blank or not one."""
    return whole(value)


def path_id(request: web.Request, name: str) -> int:
    """The id in the URL; one no row can have is a page that does not exist."""
    found = int_or_none(request.match_info[name])
    if found is None:
        raise web.HTTPNotFound
    return found


def optional_date(value: str | None, label: str) -> date | None:
    """A date typed as YYYY-MM-DD within FIRST_DAY..LAST_DAY, None when blank; refused with
    the (msgid) label of its field when malformed or out of range."""
    text = (value or "").strip()
    if not text:
        return None
    found = parse_date(text)
    if found is None:
        raise DomainError(N_("%(field)s: enter a date as YYYY-MM-DD between %(first)s and "
                             "%(last)s."), field=_(label), first=FIRST_DAY.isoformat(),
                          last=LAST_DAY.isoformat())
    return found


def required_date(value: str | None, label: str) -> date:
    """A date typed as YYYY-MM-DD; refused with the (msgid) label of its field."""
    found = optional_date(value, label)
    if found is None:
        raise DomainError(N_("%(field)s: enter a date."), field=_(label))
    return found


def parse_date(value: str | None) -> date | None:
    """A YYYY-MM-DD date within FIRST_DAY..LAST_DAY; None when blank or not one."""
    text = (value or "").strip()
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return None
    try:
        found = date.fromisoformat(text)
    except ValueError:
        return None
    return found if FIRST_DAY <= found <= LAST_DAY else None


def date_or(value: str | None, default: date) -> date:
    """A date of a list's filter; the default when blank or not a date in range."""
    return parse_date(value) or default


def month_or(value: str | None, default: date) -> date:
    """The first day of a month typed as YYYY-MM; the default's month when blank or not one."""
    text = (value or "").strip()
    found = parse_date(f"{text}-01") if re.fullmatch(r"[0-9]{4}-[0-9]{2}", text) else None
    return found or default.replace(day=1)


def required_decimal(value: str | None, label: str) -> Decimal:
    """A number from 0 to MAX_DECIMAL; refused with the (msgid) label of its field."""
    text = (value or "").strip()
    try:
        number = Decimal(text) if len(text) <= 12 else Decimal(-1)
    except InvalidOperation:
        number = Decimal(-1)
    if not number.is_finite() or not 0 <= number <= MAX_DECIMAL:
        raise DomainError(N_("%(field)s: enter a number from 0 to %(max)s."), field=_(label),
                          max=str(MAX_DECIMAL))
    return number


def choice(value: str | None, options: type[E]) -> E | None:
    """One of an enum's values, None when blank or not one of them (filters)."""
    text = (value or "").strip()
    return options(text) if text in {option.value for option in options} else None


def max_length(model: type[Model], field: str) -> int:
    """The longest text a model's CharField holds."""
    length = model._meta.fields_map[field].max_length  # type: ignore[attr-defined]
    assert isinstance(length, int), f"{model.__name__}.{field} is not a CharField"
    return length


def text(value: str | None, label: str, longest: int) -> str:
    """A typed text, stripped; refused with the (msgid) label of its field when longer than
    the column that keeps it."""
    found = (value or "").strip()
    if len(found) > longest:
        raise DomainError(N_("%(field)s: at most %(max)s characters."), field=_(label),
                          max=longest)
    return found


def refuse_control_characters(values: MultiMapping[object]) -> None:
    """Refuse a query or form whose names or texts carry control characters (NUL…)."""
    for name, value in values.items():
        if _CONTROL.search(name) or (isinstance(value, str) and _CONTROL.search(value)):
            raise DomainError(N_("A value of this request contains control characters. "
                                 "Go back and type it again."))
