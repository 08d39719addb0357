"""Form values of the ledger pages: dates and decimals, refused with the field's name."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from aiohttp import web

from admin_web.i18n import gettext as _
from admin_web.state import TIMEZONE_KEY
from domain import clock
from domain.errors import N_, DomainError


def required_date(value: str | None, label: str) -> date:
    """A date typed as YYYY-MM-DD; refused with the (msgid) label of its field."""
    found = optional_date(value, label)
    if found is None:
        raise DomainError(N_("%(field)s: enter a date."), field=_(label))
    return found


def optional_date(value: str | None, label: str) -> date | None:
    """A date typed as YYYY-MM-DD, None when blank; refused when malformed."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError(N_("%(field)s: enter a date as YYYY-MM-DD."), field=_(label)) from None


def required_decimal(value: str | None, label: str) -> Decimal:
    """A non-negative decimal number; refused with the (msgid) label of its field."""
    try:
        number = Decimal((value or "").strip())
    except InvalidOperation:
        number = Decimal(-1)
    if not number.is_finite() or number < 0:
        raise DomainError(N_("%(field)s: enter a number."), field=_(label))
    return number


def business_today(request: web.Request) -> date:
    """Today's date in the business time zone."""
    return clock.utcnow().astimezone(request.app[TIMEZONE_KEY]).date()

