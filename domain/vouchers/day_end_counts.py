"""Day-end counts asked of every holder of an open tail box once per business day, the
reminder and the escalation of silence, and the day's list (V3, V4, S1); the answers are
`voucher_counts.answer_count`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from domain.models import BoxCount, CountKind, CountStatus, Staff, TailBox, Voucher, VoucherState
from domain.platform import audit, outbox
from domain.platform.access import Permission, require, scope_prefix
from domain.platform.actors import Actor, person_label, system_actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.clock import business_time
from domain.platform.errors import N_
from domain.platform.intents import Action, Intent
from domain.vouchers import tail_boxes
from domain.vouchers.voucher_counts import (
    ANSWERABLE,
    OPEN_STATUSES,
    box_with_device,
    business_day,
    day_label,
    supervisors_of,
)

COUNT_REQUESTED = N_("Day-end count of tail box %(box)s: count the vouchers of each type in "
                     "the box, then press Count now.")
COUNT_REMINDER = N_("Reminder: the day-end count of tail box %(box)s is still missing. Count "
                    "the box and press Count now.")
COUNT_ESCALATED = N_("%(holder)s has not answered the day-end count of tail box %(box)s for "
                     "%(day)s, requested at %(requested)s.")


@dataclass(frozen=True)
class DayEndRow:
    """A day-end count as its list shows it: the count with its box and org, and the holder
    asked to count (V3)."""

    count: BoxCount
    holder: Staff | None


async def request_day_end_counts(now: datetime, zone: ZoneInfo = DEFAULT_ZONE, *,
                                 closing: time | None = None) -> int:
    """Once closing time has passed, ask every holder of an open box to count it, once per
    business day, in chat (V3); returns how many were asked. Without `closing`, ask now."""
    if closing is not None and now.astimezone(zone).time() < closing:
        return 0
    day = business_day(now, zone)
    asked = set(await BoxCount.filter(kind=CountKind.DAY_END, business_day=day).values_list(
        "box_id", flat=True))
    holding = set(await Voucher.filter(state=VoucherState.IN_BOX, box_id__isnull=False)
                  .order_by("box_id").distinct().values_list("box_id", flat=True))
    due = await TailBox.filter(id__in=list(holding - asked), holder_id__isnull=False,
                               frozen=False).order_by("id").values_list("id", flat=True)
    return sum([await _request_one(box_id, day, now) for box_id in due])


async def _request_one(box_id: int, day: str, now: datetime) -> bool:
    """Open the day's count of one box and ask its holder; False when already asked (V3)."""
    try:
        async with in_transaction():
            box = await box_with_device(box_id)
            count = await BoxCount.create(
                box=box, kind=CountKind.DAY_END, business_day=day,
                holder_id=box.holder_id,  # type: ignore[attr-defined]
                expected=await tail_boxes.expected_in_box(box.id), requested_at=now)
            await audit.record(system_actor("vouchers"), "voucher_box.count_requested",
                               "tail_box", box.id, org_id=box.org.id, detail={
                                   "count_id": count.id, "business_day": day})
            await outbox.enqueue(count.holder_id, COUNT_REQUESTED,  # type: ignore[arg-type]
                                 {"box": box.device.asset_tag},
                                 intent=Intent.of("box_count.requested", count.id,
                                                  Action.COUNT),
                                 idempotency_key=f"box_count:{count.id}:requested")
    except IntegrityError:
        return False  # another process asked first
    return True


async def sweep_unanswered_counts(now: datetime, remind_after: timedelta,
                                  escalate_after: timedelta, *, zone: ZoneInfo = DEFAULT_ZONE
                                  ) -> int:
    """Remind holders who did not answer once, then escalate to the supervisors once and
    mark the count unanswered (V3, S1); returns how many counts were reminded or escalated."""
    open_day_end = {"kind": CountKind.DAY_END, "status__in": list(OPEN_STATUSES)}
    done = 0
    for count_id in await BoxCount.filter(
            reminded_at=None, requested_at__lte=now - remind_after, **open_day_end
    ).values_list("id", flat=True):
        done += await _remind(count_id, now)
    for count_id in await BoxCount.filter(
            escalated_at=None, requested_at__lte=now - escalate_after, **open_day_end
    ).values_list("id", flat=True):
        done += await _escalate(count_id, now, zone)
    return done


async def _remind(count_id: int, now: datetime) -> bool:
    """Remind the holder once, with the button again (S1)."""
    async with in_transaction():
        won = await BoxCount.filter(id=count_id, reminded_at=None,
                                    status__in=list(OPEN_STATUSES)).update(reminded_at=now)
        if won:
            count = await BoxCount.get(id=count_id).prefetch_related("box__device")
            await outbox.enqueue(count.holder_id, COUNT_REMINDER,  # type: ignore[arg-type]
                                 {"box": count.box.device.asset_tag},
                                 intent=Intent.of("box_count.reminded", count.id,
                                                  Action.COUNT),
                                 idempotency_key=f"box_count:{count.id}:reminded")
    return bool(won)


async def _escalate(count_id: int, now: datetime, zone: ZoneInfo) -> bool:
    """Mark the count unanswered and tell the holder's supervisors once (S1)."""
    async with in_transaction():
        won = await BoxCount.filter(id=count_id, escalated_at=None,
                                    status__in=list(OPEN_STATUSES)).update(
            escalated_at=now, status=CountStatus.UNANSWERED)
        if not won:
            return False
        count = await BoxCount.get(id=count_id).prefetch_related("box__device", "box__org")
        holder = await Staff.get(id=count.holder_id)
        await audit.record(system_actor("vouchers"), "voucher_box.count_escalated", "tail_box",
                           count.box.id, org_id=count.box.org.id,
                           detail={"count_id": count.id, "holder_id": holder.id})
        params = {"holder": person_label(holder), "box": count.box.device.asset_tag,
                  "day": day_label(count.business_day),
                  "requested": business_time(count.requested_at, zone)}
        for supervisor in await supervisors_of(holder):
            await outbox.enqueue(supervisor.id, COUNT_ESCALATED, params,
                                 intent=Intent.of("box_count.escalated", count.id),
                                 idempotency_key=f"box_count:{count.id}:escalated:"
                                                 f"{supervisor.id}")
    return True


def _day_end_counts(prefix: str, day: date, unanswered: bool) -> QuerySet[BoxCount]:
    """The day-end counts of a business day for the boxes of an org subtree; with
    `unanswered` only those requested, retried or escalated and still not answered (V3)."""
    query = BoxCount.filter(kind=CountKind.DAY_END, business_day=f"{day:%Y%m%d}",
                            box__org__path__startswith=prefix)
    return query.filter(status__in=list(ANSWERABLE)) if unanswered else query


async def count_day_end_counts(actor: Actor, day: date, *, unanswered: bool = False) -> int:
    """How many day-end counts of a business day the actor's subtree has (only the unanswered
    ones with `unanswered`), as its list shows them (V3, S1)."""
    require(actor, Permission.VOUCHER_VIEW)
    return await _day_end_counts(scope_prefix(actor), day, unanswered).count()


async def day_end_counts(actor: Actor, day: date, *, unanswered: bool = False
                         ) -> list[DayEndRow]:
    """The day-end counts of a business day in the actor's subtree with box, org and holder,
    earliest request first; only the unanswered ones with `unanswered` (V3, S1)."""
    require(actor, Permission.VOUCHER_VIEW)
    rows = await _day_end_counts(scope_prefix(actor), day, unanswered).prefetch_related(
        "box__device", "box__org").order_by("requested_at", "id")
    holders = await Staff.in_bulk({row.holder_id for row in rows if row.holder_id}, "id")
    return [DayEndRow(row, holders.get(row.holder_id)) for row in rows]  # type: ignore[arg-type]
