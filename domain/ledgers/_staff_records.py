"""What every ledger of a staff member needs: the member in the actor's scope, the business
day the ledger dates by, and the reason an admin gives (Q1, Q2, Q7)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from domain.models import Staff
from domain.platform.access import row_in_scope
from domain.platform.actors import Actor
from domain.platform.clock import business_date, utcnow
from domain.platform.errors import N_, DomainError

NO_SUCH_STAFF = N_("No such staff member.")
REASON_REQUIRED = N_("Give the reason.")
NOT_AFTER_TODAY = N_("Choose a date after today.")


def business_today(zone: ZoneInfo, moment: datetime | None = None) -> date:
    """The business day of a moment (now by default) in the configured business time zone:
    the one calendar of the ledgers (Q1)."""
    return business_date(moment or utcnow(), zone)


def required_reason(text: str) -> str:
    """The reason an admin gives, trimmed; refused when blank."""
    clean = text.strip()
    if not clean:
        raise DomainError(REASON_REQUIRED)
    return clean


async def staff_in_scope(actor: Actor, staff_id: int) -> Staff:
    """A staff member inside the actor's subtree, with the org loaded."""
    return await row_in_scope(actor, Staff, staff_id, NO_SUCH_STAFF)
