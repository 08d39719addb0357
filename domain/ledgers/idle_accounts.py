"""Idle accounts: a qualified person with no operating need keeps no account for long; idle
field agents are flagged, then disabled, unless an admin keeps them (Q7)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.ledgers._staff_records import (
    NOT_AFTER_TODAY,
    business_today,
    required_reason,
    staff_in_scope,
)
from domain.models import Role, Staff
from domain.platform import audit, outbox
from domain.platform.access import Permission, require, scope_prefix
from domain.platform.actors import Actor, system_actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.errors import N_, DomainError
from domain.platform.intents import Intent
from domain.platform.sweeps import SweepReport

IDLE_FLAGGED_TO_STAFF = N_("Your account has not been used for %(days)s days. Unless you "
                           "operate again or an administrator keeps it, it will be disabled in "
                           "%(grace)s days.")
IDLE_DISABLED_TO_STAFF = N_("Your account was disabled because it was not used for %(days)s "
                            "days. Contact your administrator to enable it again.")
IDLE_KEPT_TO_STAFF = N_("An administrator keeps your account active until %(until)s.")


async def touch_activity(staff_id: int, now: datetime) -> None:
    """Note that a staff member operated now, which ends any idle flag (Q7)."""
    await Staff.filter(id=staff_id).update(last_active_at=now, idle_flagged_at=None)


def _idle_agents(now: datetime, idle_days: int, zone: ZoneInfo) -> Any:
    """Active field agents with no operation for `idle_days` and not kept (Q7)."""
    cutoff = now - timedelta(days=idle_days)
    return Staff.filter(
        Q(last_active_at__lte=cutoff) | Q(last_active_at__isnull=True, created_at__lte=cutoff),
        Q(idle_kept_until__isnull=True) | Q(idle_kept_until__lt=business_today(zone, now)),
        active=True, roles__role=Role.FIELD_AGENT,
    ).distinct()


async def _flag_idle(staff: Staff, now: datetime, idle_days: int, grace_days: int) -> bool:
    """Flag an idle account once, audited, and tell its holder (Q7)."""
    async with in_transaction():
        if not await Staff.filter(id=staff.id, idle_flagged_at=None, active=True).update(
                idle_flagged_at=now):
            return False
        last = staff.last_active_at or staff.created_at
        await audit.record(system_actor("idle_accounts"), "staff.idle_flagged", "staff",
                           staff.id, org_id=staff.org_id,  # type: ignore[attr-defined]
                           detail={"last_active_at": last.isoformat(), "idle_days": idle_days})
        await outbox.enqueue(staff.id, IDLE_FLAGGED_TO_STAFF,
                             {"days": idle_days, "grace": grace_days},
                             intent=Intent.of("staff.idle_flagged", staff.id),
                             idempotency_key=f"staff:{staff.id}:idle_flagged:{now.isoformat()}")
    return True


async def _disable_idle(staff: Staff, now: datetime, idle_days: int) -> bool:
    """Disable a flagged idle account once, audited, and tell its holder (Q7)."""
    flagged_at = staff.idle_flagged_at
    assert flagged_at is not None
    async with in_transaction():
        if not await Staff.filter(id=staff.id, idle_flagged_at=flagged_at, active=True).update(
                active=False, idle_flagged_at=None):
            return False
        await audit.record(system_actor("idle_accounts"), "staff.idle_disabled", "staff",
                           staff.id, org_id=staff.org_id,  # type: ignore[attr-defined]
                           detail={"flagged_at": flagged_at.isoformat(),
                                   "idle_days": idle_days})
        await outbox.enqueue(
            staff.id, IDLE_DISABLED_TO_STAFF, {"days": idle_days},
            intent=Intent.of("staff.idle_disabled", staff.id),
            idempotency_key=f"staff:{staff.id}:idle_disabled:{flagged_at.isoformat()}")
    return True


async def sweep_idle_accounts(now: datetime, idle_days: int, grace_days: int, *,
                              zone: ZoneInfo = DEFAULT_ZONE) -> SweepReport:
    """Flag staff with no operation for `idle_days`, disable them `grace_days` later unless
    an admin keeps them; audited and told in chat (Q7)."""
    flagged = disabled = 0
    grace_end = now - timedelta(days=grace_days)
    for staff in await _idle_agents(now, idle_days, zone):
        if staff.idle_flagged_at is None:
            flagged += await _flag_idle(staff, now, idle_days, grace_days)
        elif staff.idle_flagged_at <= grace_end:
            disabled += await _disable_idle(staff, now, idle_days)
    return SweepReport(warned=flagged, changed=disabled)


async def idle_accounts_to_keep(actor: Actor, today: date) -> list[Staff]:
    """Active staff in scope flagged idle and not kept active by an admin: the accounts
    waiting for a decision (Q7)."""
    require(actor, Permission.IDLE_ACCOUNT_KEEP)
    return await Staff.filter(
        Q(idle_kept_until__isnull=True) | Q(idle_kept_until__lt=today),
        active=True, idle_flagged_at__isnull=False, org__path__startswith=scope_prefix(actor),
    ).prefetch_related("org").order_by("idle_flagged_at", "id")


async def keep_idle_account(actor: Actor, staff_id: int, until: date, reason: str, *,
                            zone: ZoneInfo = DEFAULT_ZONE) -> None:
    """An admin keeps a flagged idle account active until a date (Q7)."""
    require(actor, Permission.IDLE_ACCOUNT_KEEP)
    text = required_reason(reason)
    if until <= business_today(zone):
        raise DomainError(NOT_AFTER_TODAY)
    async with in_transaction():
        staff = await staff_in_scope(actor, staff_id)
        if not staff.active:
            raise DomainError(N_("This account is deactivated."))
        await Staff.filter(id=staff.id).update(idle_kept_until=until, idle_flagged_at=None)
        row = await audit.record(actor, "staff.idle_kept", "staff", staff.id,
                                 org_id=staff.org_id,  # type: ignore[attr-defined]
                                 detail={"until": until.isoformat(), "reason": text})
        await outbox.enqueue(staff.id, IDLE_KEPT_TO_STAFF, {"until": until.isoformat()},
                             intent=Intent.of("staff.idle_kept", staff.id),
                             idempotency_key=f"staff:{staff.id}:idle_kept:{row.id}")
