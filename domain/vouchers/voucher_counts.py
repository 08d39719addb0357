"""Counts of tail boxes answered in chat, and the hand-over of a box (V3, V4, S1); the
day-end requests, reminders and list are in `day_end_counts`.

Day-end count: once the configured closing time has passed in business time, every holder
of an open box (a holder, not frozen, at least one voucher in it) is asked in chat to count
each voucher type; one `BoxCount(kind=day_end)` per box and business day, so a rerun or a
second process asks nothing twice. The ledger figure is what is physically in the box
(`tail_boxes.expected_in_box`, the figure of hand-overs and inspections too); it is never
shown to the holder, and /box shows no balance while a count waits for him. A match
is recorded on the box (V4 reads it before an allocation); a first mismatch asks once more;
a second opens a discrepancy incident with both figures and tells the supervisors of the
holder's org chain. Silence past the answer time brings one reminder, past the escalation
time the count is marked unanswered and the supervisors are told once (S1). A late answer
is still recorded.

Hand-over: the holder counts the box and names the new holder (an active, qualified field
agent of the box's org or below, holding no tablet). The count must match the ledger. A
`BoxCount(kind=handover)` is opened for the new holder (its `holder_id` is the person asked
to count), who confirms with his own count through the same answer as a day-end count; on a
match the box changes holder and its tablet goes with it: a box belongs to one tablet (V1)
and an agent works only with a tablet issued to him (D2), so the device register gets a
hand-over entry naming the new holder, whose count is his receipt (D1). The register of a
hand-over is that count row, the device entry and audit rows naming both persons and both
counts; no per-serial movement is written because no serial changes place.
The unique (box, kind, business day) key allows one completed hand-over per box and day; an
unconfirmed one is replaced when the holder starts another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.ledgers import devices, qualifications
from domain.models import (
    BoxCount,
    CountKind,
    CountStatus,
    Device,
    DeviceState,
    Incident,
    IncidentKind,
    Inspection,
    InspectionStatus,
    Org,
    Role,
    Staff,
    StaffRole,
    TailBox,
    VoucherType,
)
from domain.platform import audit, chains, outbox
from domain.platform.actors import Actor, person_label
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.chat import locale_of
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.intents import Action, Intent
from domain.vouchers import tail_boxes
from domain.vouchers.voucher_names import label_of

OPEN_STATUSES = (CountStatus.REQUESTED, CountStatus.RETRY)
ANSWERABLE = (*OPEN_STATUSES, CountStatus.UNANSWERED)
MAX_COUNT = 1_000_000
COUNT_DISCREPANCY = N_("The count of tail box %(box)s by %(holder)s does not match the ledger "
                       "after two counts.\nCounted: %(counted)s\nLedger: %(expected)s\n"
                       "Incident #%(incident)s is open.")
HANDOVER_REQUESTED = N_("%(giver)s hands tail box %(box)s over to you. Count the vouchers of "
                        "each type in it and press Count and confirm.")
HANDED_OVER = N_("%(taker)s confirmed the hand-over: tail box %(box)s is now in his hands.")
HANDOVER_MISMATCH = N_("Your count does not match the ledger. Count the box again.")


@dataclass(frozen=True)
class CountRequest:
    """An open count as the person asked sees it: the row, the box and the types to count."""

    count: BoxCount
    box_label: str
    types: list[VoucherType]
    giver: str  # the handing-over holder of a hand-over; "" for a day-end count


@dataclass(frozen=True)
class BoxSummary:
    """One box an agent holds: its balance per type, empty while a count or an inspection
    waits for his figures (the count is blind), and its open counts (for /box)."""

    box_label: str
    balance: list[tuple[VoucherType, int]]
    open_counts: list[BoxCount]
    blind: bool


async def types_to_count(expected: dict[str, int]) -> list[VoucherType]:
    """Every active voucher type, and any type the box holds, in code order (V3)."""
    return await VoucherType.filter(Q(active=True) | Q(code__in=list(expected))).order_by("code")


def counts_match(expected: dict[str, int], counted: dict[str, int]) -> bool:
    """True when every type has the same figure in both (a missing type counts 0)."""
    return all(expected.get(code, 0) == counted.get(code, 0) for code in {*expected, *counted})


def clean_counted(counted: dict[str, int], types: list[VoucherType]) -> dict[str, int]:
    """The count per type code: every type given, each a whole number from 0 (V3)."""
    codes = {t.code for t in types}
    unknown = sorted(set(counted) - codes)
    if unknown:
        raise DomainError(N_("%(code)s is not a voucher type to count."), code=unknown[0])
    missing = [t.code for t in types if t.code not in counted]
    if missing:
        raise DomainError(N_("Give a count for every voucher type; %(code)s is missing."),
                          code=missing[0])
    for code, n in counted.items():
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_COUNT:
            raise DomainError(N_("The count of %(code)s must be a whole number, 0 or more."),
                              code=code)
    return {code: counted[code] for code in sorted(counted)}


def figures_text(types: dict[str, VoucherType], figures: dict[str, int], locale: str) -> str:
    """Figures per type as "name n" joined for a reader of the locale."""
    names = [f"{types[c].name_in(locale) if c in types else c} {figures.get(c, 0)}"
             for c in sorted({*types, *figures})]
    return ("、" if locale.startswith("zh") else ", ").join(names) or "–"


async def box_with_device(box_id: int) -> TailBox:
    """A tail box with its device and org."""
    box = await TailBox.get_or_none(id=box_id).prefetch_related("device", "org", "holder")
    if box is None:
        raise NotFound(N_("No such tail box."))
    return box


def business_day(now: datetime, zone: ZoneInfo) -> str:
    """The business day of a moment as YYYYMMDD in the business time zone."""
    return now.astimezone(zone).strftime("%Y%m%d")


def day_label(day: str) -> str:
    """A YYYYMMDD business day written as YYYY-MM-DD."""
    return f"{day[:4]}-{day[4:6]}-{day[6:]}"


async def count_to_answer(actor: Actor, count_id: int) -> CountRequest:
    """An open count the actor is asked to answer, with the types to count (V3)."""
    count = await BoxCount.get_or_none(id=count_id)
    if count is None or count.holder_id != actor.staff_id:
        raise PermissionDenied(N_("This count is not yours to answer."))
    if count.status not in ANSWERABLE:
        raise DomainError(N_("This count is already closed."))
    box = await box_with_device(count.box_id)  # type: ignore[attr-defined]
    giver = ""
    if count.kind == CountKind.HANDOVER and box.holder_id is not None:  # type: ignore[attr-defined]
        giver = person_label(await Staff.get(id=box.holder_id))  # type: ignore[attr-defined]
    types = await types_to_count(await tail_boxes.expected_in_box(box.id))
    # A hand-over changes the holder: its texts name the tablet and, apart, the giver.
    label = box.device.asset_tag if giver else label_of(box)
    return CountRequest(count, label, types, giver)


async def answer_count(actor: Actor, count_id: int, counted: dict[str, int],
                       now: datetime | None = None) -> BoxCount:
    """The holder's count: a match is recorded; a first mismatch asks once more; a second
    opens a discrepancy incident and tells the supervisors; a matching hand-over count moves
    the box to the new holder (V3)."""
    moment = now or utcnow()
    request = await count_to_answer(actor, count_id)
    count = request.count
    clean = clean_counted(counted, request.types)
    async with in_transaction():
        box = await box_with_device(count.box_id)  # type: ignore[attr-defined]
        expected = await tail_boxes.expected_in_box(box.id)
        matched = counts_match(expected, clean)
        status = (CountStatus.MATCHED if matched else
                  CountStatus.RETRY if count.attempts == 0 else CountStatus.DISCREPANCY)
        won = await BoxCount.filter(id=count.id, status=count.status,
                                    attempts=count.attempts).update(
            status=status, attempts=count.attempts + 1, expected=expected, counted=clean,
            answered_at=moment)
        if not won:
            raise DomainError(N_("This count was answered meanwhile; send /box to see it."))
        await count.refresh_from_db()
        await audit.record(actor, "voucher_box.counted", "tail_box", box.id, org_id=box.org.id,
                           detail={"count_id": count.id, "kind": count.kind.value,
                                   "status": status.value, "attempt": count.attempts,
                                   "expected": expected, "counted": clean})
        if status == CountStatus.MATCHED and count.kind == CountKind.HANDOVER:
            await _complete_hand_over(actor, box, count, moment)
        elif status != CountStatus.RETRY:
            await TailBox.filter(id=box.id).update(last_count_at=moment,
                                                   last_count_matched=matched)
        if status == CountStatus.DISCREPANCY:
            await _open_discrepancy(actor, box, count, moment)
    return count


async def _open_discrepancy(actor: Actor, box: TailBox, count: BoxCount, moment: datetime
                            ) -> None:
    """Open the discrepancy incident with both figures and tell the supervisors once (V3)."""
    holder_id = box.holder_id or count.holder_id  # type: ignore[attr-defined]
    holder = await Staff.get(id=holder_id)
    figures = ", ".join(f"{code}: {count.counted.get(code, 0)}/{count.expected.get(code, 0)}"
                        for code in sorted({*count.expected, *count.counted}))
    incident = await Incident.create(
        kind=IncidentKind.DISCREPANCY, staff=holder, org=box.org, device=box.device,
        item=box.device.asset_tag, occurred_at=moment,
        description=f"{count.kind.value} {count.business_day} (counted/ledger) {figures}",
        detail={"box_id": box.id, "count_id": count.id, "count_kind": count.kind.value,
                "business_day": count.business_day, "expected": count.expected,
                "counted": count.counted},
        reported_by_id=actor.staff_id, reported_at=moment)
    await BoxCount.filter(id=count.id).update(incident_id=incident.id)
    count.incident_id = incident.id  # type: ignore[attr-defined]
    await audit.record(actor, "incident.reported", "incident", incident.id, org_id=box.org.id,
                       detail={"kind": incident.kind.value, "box_id": box.id,
                               "count_id": count.id})
    types = {t.code: t for t in await types_to_count(count.expected)}
    for supervisor in await supervisors_of(holder, count.holder_id):
        locale = locale_of(supervisor)
        await outbox.enqueue(supervisor.id, COUNT_DISCREPANCY, {
            "box": box.device.asset_tag, "holder": person_label(holder), "incident": incident.id,
            "counted": figures_text(types, count.counted, locale),
            "expected": figures_text(types, count.expected, locale)},
            intent=Intent.of("box_count.discrepancy", count.id),
            idempotency_key=f"box_count:{count.id}:discrepancy:{supervisor.id}")


async def supervisors_of(holder: Staff, *also_not: int | None) -> list[Staff]:
    """The supervisors of the holder's org chain, without the persons involved (V3, S1)."""
    org = await Org.get(id=holder.org_id)  # type: ignore[attr-defined]
    skip = {holder.id, *also_not}
    return [s for s in await chains.staff_in_chain(org, Role.SUPERVISOR) if s.id not in skip]


async def hand_over(actor: Actor, box_id: int, new_holder_id: int, counted: dict[str, int],
                    now: datetime | None = None, *, zone: ZoneInfo = DEFAULT_ZONE) -> BoxCount:
    """The holder counts the box and names the new holder, who is asked to confirm with his
    own count; the count must match the ledger (V3)."""
    moment = now or utcnow()
    async with in_transaction():
        box = await _held_box(actor, box_id)
        taker = await _new_holder(box, new_holder_id, moment, zone)
        expected = await tail_boxes.expected_in_box(box.id)
        clean = clean_counted(counted, await types_to_count(expected))
        if not counts_match(expected, clean):
            raise DomainError(HANDOVER_MISMATCH)
        count = await _handover_row(box, taker, expected, clean, business_day(moment, zone),
                                    moment)
        await audit.record(actor, "voucher_box.handover_requested", "tail_box", box.id,
                           org_id=box.org.id, detail={
                               "count_id": count.id, "from_holder_id": actor.staff_id,
                               "to_holder_id": taker.id, "counted": clean})
        await outbox.enqueue(taker.id, HANDOVER_REQUESTED,
                             {"giver": actor.label, "box": box.device.asset_tag},
                             intent=Intent.of("box_count.handover", count.id, Action.TAKE_OVER),
                             idempotency_key=f"box_count:{count.id}:handover:"
                                             f"{moment.isoformat()}")
    return count


async def _held_box(actor: Actor, box_id: int) -> TailBox:
    """The box, refused unless the actor holds it and it is not frozen (V3, D3)."""
    box = await box_with_device(box_id)
    if box.holder_id is None or box.holder_id != actor.staff_id:  # type: ignore[attr-defined]
        raise PermissionDenied(N_("Only the holder of tail box %(box)s can hand it over."),
                               box=box.device.asset_tag)
    if box.frozen:
        raise DomainError(N_("Tail box %(box)s is frozen; it cannot be handed over."),
                          box=box.device.asset_tag)
    return box


async def _new_holder(box: TailBox, staff_id: int, moment: datetime, zone: ZoneInfo) -> Staff:
    """An active, qualified field agent of the box's org or below, not the holder (V3, Q1)."""
    taker = await Staff.get_or_none(id=staff_id).prefetch_related("org")
    if taker is None:
        raise NotFound(N_("No such staff member."))
    if taker.id == box.holder_id:  # type: ignore[attr-defined]
        raise DomainError(N_("You already hold this tail box."))
    qualified = await qualifications.is_qualified(taker.id, moment, zone)
    if not taker.active or not qualified or not await StaffRole.exists(
            staff_id=taker.id, role=Role.FIELD_AGENT):
        raise DomainError(N_("%(name)s is not an active, qualified field agent; a tail box can "
                             "be handed over only to one."), name=taker.name)
    if not taker.org.path.startswith(box.org.path):
        raise DomainError(N_("Tail box %(box)s belongs to %(org)s; it can be handed over only "
                             "to an agent of that organisation or below it."),
                          box=box.device.asset_tag, org=box.org.name)
    held = await Device.filter(holder_id=taker.id, state=DeviceState.ISSUED).first()
    if held is not None:
        raise DomainError(N_("%(name)s already holds tablet %(asset_tag)s; the tail box goes "
                             "with its tablet, so he must return his own first."),
                          name=taker.name, asset_tag=held.asset_tag)
    return taker


async def _handover_row(box: TailBox, taker: Staff, expected: dict[str, int],
                        counted: dict[str, int], day: str, moment: datetime) -> BoxCount:
    """The day's hand-over count of the box, new or replacing an unconfirmed one (V3)."""
    values: dict[str, Any] = {
        "holder_id": taker.id, "status": CountStatus.REQUESTED, "expected": expected,
        "counted": counted, "attempts": 0, "requested_at": moment, "answered_at": None,
        "incident_id": None}
    row = await BoxCount.filter(box_id=box.id, kind=CountKind.HANDOVER,
                                business_day=day).select_for_update().first()
    if row is None:
        return await BoxCount.create(box=box, kind=CountKind.HANDOVER, business_day=day,
                                     **values)
    if row.status == CountStatus.MATCHED:
        raise DomainError(N_("Tail box %(box)s was already handed over today; another "
                             "hand-over can be registered tomorrow."), box=box.device.asset_tag)
    await BoxCount.filter(id=row.id).update(**values)
    await row.refresh_from_db()
    return row


async def _complete_hand_over(actor: Actor, box: TailBox, count: BoxCount, moment: datetime
                              ) -> None:
    """The new holder's count matched: the box changes holder and the giver is told (V3)."""
    giver_id = box.holder_id  # type: ignore[attr-defined]
    if box.frozen or giver_id is None:
        raise DomainError(N_("Tail box %(box)s is frozen; it cannot be handed over."),
                          box=box.device.asset_tag)
    moved = await TailBox.filter(id=box.id, holder_id=giver_id).update(
        holder_id=count.holder_id, last_count_at=moment, last_count_matched=True)
    if not moved:
        raise DomainError(N_("This count was answered meanwhile; send /box to see it."))
    await devices.hand_over_with_box(actor, box.device.id, count.holder_id, moment)
    await audit.record(actor, "voucher_box.handed_over", "tail_box", box.id, org_id=box.org.id,
                       detail={"count_id": count.id, "from_holder_id": giver_id,
                               "to_holder_id": count.holder_id, "counted": count.counted})
    await outbox.enqueue(giver_id, HANDED_OVER, {"taker": actor.label,
                                                 "box": box.device.asset_tag},
                         intent=Intent.of("box_count.handed_over", count.id),
                         idempotency_key=f"box_count:{count.id}:handed_over")


async def new_holder_by_number(actor: Actor, employee_no: str, zone: ZoneInfo = DEFAULT_ZONE
                               ) -> tuple[TailBox, Staff]:
    """The box the actor holds and the named new holder, checked before counting on the
    business date of `zone` (V3, Q1)."""
    box_id = await TailBox.filter(holder_id=actor.staff_id).order_by("id").values_list(
        "id", flat=True)
    if not box_id:
        raise DomainError(N_("You hold no tail box."))
    box = await _held_box(actor, box_id[0])
    taker = await Staff.get_or_none(employee_no=employee_no.strip())
    if taker is None:
        raise NotFound(N_("No staff member has the employee number %(no)s."),
                       no=employee_no.strip())
    return box, await _new_holder(box, taker.id, utcnow(), zone)


async def my_boxes(actor: Actor) -> list[BoxSummary]:
    """The boxes the actor holds with their balance per type and open counts; no figure
    while a day-end count or an inspection waits for his count, so the count stays blind
    (V3, V5)."""
    summaries = []
    for box in await TailBox.filter(holder_id=actor.staff_id).prefetch_related(
            "device", "holder").order_by("id"):
        open_counts = await BoxCount.filter(box_id=box.id, holder_id=actor.staff_id,
                                            status__in=list(ANSWERABLE)).order_by("id")
        blind = bool(open_counts) or await _inspection_waits(box.id)
        expected = {} if blind else await tail_boxes.expected_in_box(box.id)
        balance = [] if blind else [(t, expected.get(t.code, 0))
                                    for t in await types_to_count(expected)]
        summaries.append(BoxSummary(label_of(box), balance, open_counts, blind))
    return summaries


async def _inspection_waits(box_id: int) -> bool:
    """True while an inspection of the box is started and the holder has not counted (V5)."""
    return await Inspection.exists(box_id=box_id, status=InspectionStatus.IN_PROGRESS,
                                   holder_counted_at__isnull=True)


async def hand_overs_to_confirm(actor: Actor) -> list[tuple[str, BoxCount]]:
    """Open hand-overs waiting for the actor's count, with the box label (V3)."""
    rows = await BoxCount.filter(kind=CountKind.HANDOVER, holder_id=actor.staff_id,
                                 status__in=list(OPEN_STATUSES)).prefetch_related(
        "box__device", "box__holder").order_by("id")
    return [(label_of(row.box), row) for row in rows]
