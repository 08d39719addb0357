"""Vault inspections (查库): the monthly round, surprise samples and the two-person count
(V5, K3, S1).

Decisions:
- A box is open, so inspected every month, when it has a holder and its tablet is not
  retired. A frozen box (its tablet was lost) is still inspected: freezing stops allocations,
  not the duty to count what is left in it. A box that opens during the month is picked up by
  the next hourly run, so every open box is covered each month.
- One monthly inspection per box and month ("YYYY-MM"), due at 23:59 business time on the
  last day of the month; the unique (box, kind, period) key and one transaction per box make a
  rerun or a second process create nothing twice.
- A surprise sample draws `random.Random(seed).sample(population, size)` over the open box
  ids of an org subtree in ascending order; seed, population and chosen ids are stored, so the
  draw can be redone and compared (`verify_sample`). Its inspections have period "S<id>".
- Two people count: the box holder and a supervisor (or a designee holding INSPECTION_CONDUCT
  in the box org's chain), never the holder himself. Starting records the ledger's figures per
  voucher type (`tail_boxes.expected_in_box`: what is physically in the box, not serials
  reserved by cases, which are with customers); the box is inspected as it stood then. Each
  person counts every type once; nobody is shown the other's figure or the ledger's before
  both are in, and /box shows the holder no balance meanwhile.
- All figures matching the ledger close the inspection OK and confirm the box balance for V4
  (last count, matched) when the ledger has not moved since the start. No `BoxCount` row is
  written: its one-per-day key and single counter do not fit two counts of two people.
- Any difference closes it as a discrepancy and opens a discrepancy incident with all the
  figures; allocations to the box are refused while that incident is open (V4, V5), and
  operations management and the supervisor are told. The box's last count is left alone, so
  closing the incident is what lets allocations resume.
"""

from __future__ import annotations

import math
import random
import secrets
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.models import (
    DeviceState,
    Incident,
    IncidentKind,
    Inspection,
    InspectionKind,
    InspectionResult,
    InspectionSample,
    InspectionStatus,
    Org,
    Role,
    Staff,
    TailBox,
    VoucherType,
)
from domain.platform import audit, chains, outbox
from domain.platform.access import Permission, require, require_scope, row_in_scope
from domain.platform.actors import Actor, person_label, system_actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.chat import locale_of
from domain.platform.clock import business_time, utcnow
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.intents import Action, Intent
from domain.vouchers import tail_boxes, voucher_counts
from domain.vouchers.voucher_names import label_of

STARTABLE = (InspectionStatus.SCHEDULED, InspectionStatus.OVERDUE)
SIDES = ("holder", "supervisor")
MAX_NOTE = 1000

NO_SUCH_INSPECTION = N_("No such inspection.")
NO_SUCH_SAMPLE = N_("No such surprise sample.")
NOT_STARTABLE = N_("Inspection #%(inspection)s is already started or completed.")
NOT_STARTED = N_("Inspection #%(inspection)s has not been started yet.")
ALREADY_COMPLETED = N_("Inspection #%(inspection)s is already completed.")
BOX_WITHOUT_HOLDER = N_("Tail box %(box)s has no holder; an inspection needs the holder and a "
                        "supervisor.")
HOLDER_NOT_SECOND = N_("You hold tail box %(box)s; the second person of its inspection must be "
                       "someone else.")
NOT_YOUR_INSPECTION = N_("You are not one of the two people of inspection #%(inspection)s.")
ALREADY_COUNTED = N_("You have already given your count for inspection #%(inspection)s.")
NOT_A_NUMBER = N_("The count of %(code)s must be a whole number, 0 or more.")
SAMPLE_SHAPE = N_("Give either a percentage from 1 to 100 or a number of boxes from 1, not "
                  "both.")
NOTHING_TO_SAMPLE = N_("%(org)s has no open tail box to inspect.")
SAMPLE_TOO_BIG = N_("%(org)s has only %(available)s open tail boxes; %(count)s cannot be "
                    "drawn.")
COUNT_REQUESTED = N_("Vault inspection of tail box %(box)s with %(supervisor)s: count the "
                     "vouchers of each type in the box, then press Count now.")
SURPRISE_TO_SUPERVISOR = N_("Surprise inspection of tail box %(box)s (holder %(holder)s), "
                            "launched by %(actor)s: complete it with the holder by %(due)s.")
COMPLETED_OK = N_("Vault inspection of tail box %(box)s complete: the counts match the "
                  "ledger.")
COMPLETED_DISCREPANCY = N_("Vault inspection of tail box %(box)s complete: the counts do not "
                           "match the ledger. Incident #%(incident)s is open and operations "
                           "management has been told.")
DISCREPANCY_ALERT = N_("The vault inspection of tail box %(box)s of %(org)s (holder %(holder)s, "
                       "second person %(supervisor)s) found a discrepancy.\nHolder counted: "
                       "%(holder_counted)s\nSecond person counted: %(supervisor_counted)s\n"
                       "Ledger: %(expected)s\nIncident #%(incident)s is open; nothing can be "
                       "allocated to the box until it is closed.")


@dataclass(frozen=True)
class CountRequest:
    """An inspection the actor is to count: the row, the box label and the types to count."""

    inspection: Inspection
    box_label: str
    types: list[VoucherType]


@dataclass(frozen=True)
class SampleCheck:
    """A surprise sample drawn again from its seed, compared with what was recorded (K3)."""

    redrawn: list[int]
    matches_recorded: bool
    matches_inspections: bool


def _moment(now: datetime | None) -> datetime:
    return now or utcnow()


def month_period(moment: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> str:
    """The month of a moment in business time, as YYYY-MM."""
    return moment.astimezone(zone).strftime("%Y-%m")


def month_due(period: str, zone: ZoneInfo = DEFAULT_ZONE) -> datetime:
    """23:59 business time on the last day of the month YYYY-MM, in UTC (V5)."""
    year, month = int(period[:4]), int(period[5:7])
    last = monthrange(year, month)[1]
    return datetime(year, month, last, 23, 59, tzinfo=zone).astimezone(UTC)


async def open_box_ids(prefix: str = "/") -> list[int]:
    """The boxes under the inspection duty in an org subtree, ascending: a holder and a
    tablet not retired (V5)."""
    return list(await TailBox.filter(holder_id__isnull=False, org__path__startswith=prefix)
                .exclude(device__state=DeviceState.RETIRED).order_by("id")
                .values_list("id", flat=True))


async def nearest_in_chain(start: Org | None, roles: tuple[Role, ...], skip: set[int]
                           ) -> tuple[Org | None, list[Staff]]:
    """The first org from `start` upwards with active staff holding one of the roles (other
    than those to skip), and them; (None, []) when no org up the chain has any (V5, S1)."""
    level = start
    while level is not None:
        people = [s for s in await Staff.filter(active=True, org_id=level.id,
                                                roles__role__in=list(roles)).order_by("id")
                  if s.id not in skip]
        if people:
            return level, list({s.id: s for s in people}.values())
        parent = level.parent_id  # type: ignore[attr-defined]
        level = await Org.get(id=parent) if parent is not None else None
    return None, []


async def second_persons(org: Org, holder_id: int) -> list[Staff]:
    """Who may be the second person of a box's inspection before anyone started it: the
    nearest supervisors up the box org chain, never the holder (V5)."""
    return (await nearest_in_chain(org, (Role.SUPERVISOR,), {holder_id}))[1]


async def _box(box_id: int) -> TailBox:
    return await TailBox.get(id=box_id).prefetch_related("device", "org", "holder")


# --- the monthly round -------------------------------------------------------------------


async def create_monthly_inspections(now: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> int:
    """Create this month's inspection of every open box that has none yet; returns how many
    were created. A rerun, or another process at the same time, creates nothing twice (V5)."""
    period = month_period(now, zone)
    done = set(await Inspection.filter(kind=InspectionKind.MONTHLY, period=period)
               .values_list("box_id", flat=True))
    due = month_due(period, zone)
    return sum([await _create_monthly(box_id, period, due, now)
                for box_id in await open_box_ids() if box_id not in done])


async def _create_monthly(box_id: int, period: str, due: datetime, now: datetime) -> bool:
    """One box's inspection of the month in its own transaction; False when another run
    created it first."""
    try:
        async with in_transaction():
            box = await TailBox.get(id=box_id)
            row = await Inspection.create(
                kind=InspectionKind.MONTHLY, period=period, box_id=box.id,
                org_id=box.org_id, holder_id=box.holder_id,  # type: ignore[attr-defined]
                due_at=due, created_at=now)
            await audit.record(system_actor("inspections"), "inspection.scheduled",
                               "inspection", row.id, org_id=row.org_id,  # type: ignore[attr-defined]
                               detail={"kind": row.kind.value, "period": period,
                                       "box_id": box.id, "due_at": due.isoformat()})
    except IntegrityError:
        return False
    return True


# --- surprise samples ----------------------------------------------------------------------


def sample_size(population: int, percent: int | None, count: int | None) -> int:
    """How many boxes a sample takes: a percentage rounded up, or a count (K3)."""
    if (percent is None) == (count is None):
        raise DomainError(SAMPLE_SHAPE)
    if percent is not None:
        if not 1 <= percent <= 100:
            raise DomainError(SAMPLE_SHAPE)
        return max(1, math.ceil(population * percent / 100))
    assert count is not None
    if count < 1:
        raise DomainError(SAMPLE_SHAPE)
    return count


def draw(seed: str, population: list[int], size: int) -> list[int]:
    """The box ids a seed draws from the population, ascending; the same seed, population
    and size always draw the same boxes (K3)."""
    return sorted(random.Random(seed).sample(population, size))


async def launch_surprise(actor: Actor, org_id: int, *, percent: int | None = None,
                          count: int | None = None, note: str = "",
                          due_hours: int = 24, now: datetime | None = None,
                          zone: ZoneInfo = DEFAULT_ZONE) -> InspectionSample:
    """Operations management draws a random sample of the open boxes of an org subtree for a
    surprise inspection due within `due_hours`; the supervisors of each box are told, the
    holders are not (K3, V5)."""
    require(actor, Permission.INSPECTION_MANAGE)
    moment = _moment(now)
    missing = N_("No such organisation.")
    org = await Org.get_or_none(id=org_id)
    if org is None:
        raise NotFound(missing)
    require_scope(actor, org, missing)
    population = await open_box_ids(org.path)
    if not population:
        raise DomainError(NOTHING_TO_SAMPLE, org=org.name)
    size = sample_size(len(population), percent, count)
    if size > len(population):
        raise DomainError(SAMPLE_TOO_BIG, org=org.name, available=len(population), count=size)
    seed = secrets.token_hex(16)
    async with in_transaction():
        sample = await InspectionSample.create(
            org=org, launched_by_id=actor.staff_id, launched_at=moment, seed=seed,
            percent=percent, count=count, population=population,
            chosen=draw(seed, population, size), due_at=moment + timedelta(hours=due_hours),
            note=" ".join(note.split())[:MAX_NOTE])
        await audit.record(actor, "inspection_sample.launched", "inspection_sample", sample.id,
                           org_id=org.id, detail={"seed": seed, "percent": percent,
                                                  "count": count, "population": population,
                                                  "chosen": sample.chosen})
        for box_id in sample.chosen:
            await _create_surprise(actor, sample, box_id, zone)
    return sample


async def _create_surprise(actor: Actor, sample: InspectionSample, box_id: int,
                           zone: ZoneInfo) -> None:
    """One surprise inspection of the sample, told to the nearest supervisors of the box
    (K3)."""
    box = await _box(box_id)
    row = await Inspection.create(
        kind=InspectionKind.SURPRISE, period=f"S{sample.id}", box_id=box.id, org_id=box.org.id,
        sample=sample, holder_id=box.holder_id,  # type: ignore[attr-defined]
        due_at=sample.due_at, created_at=sample.launched_at)
    await audit.record(actor, "inspection.scheduled", "inspection", row.id, org_id=box.org.id,
                       detail={"kind": row.kind.value, "period": row.period, "box_id": box.id,
                               "due_at": row.due_at.isoformat()})
    holder = await Staff.get(id=box.holder_id)  # type: ignore[attr-defined]
    params = {"box": box.device.asset_tag, "holder": person_label(holder), "actor": actor.label,
              "due": business_time(row.due_at, zone)}
    for supervisor in await second_persons(box.org, holder.id):
        await outbox.enqueue(supervisor.id, SURPRISE_TO_SUPERVISOR, params,
                             intent=Intent.of("inspection.surprise", row.id, Action.START),
                             idempotency_key=f"inspection:{row.id}:surprise:{supervisor.id}")


async def verify_sample(actor: Actor, sample_id: int) -> tuple[InspectionSample, SampleCheck]:
    """Draw a sample again from its seed and population and compare it with the recorded
    choice and with the inspections it created (K3)."""
    require(actor, Permission.INSPECTION_VIEW)
    sample = await InspectionSample.get_or_none(id=sample_id).prefetch_related(
        "org", "launched_by")
    if sample is None:
        raise NotFound(NO_SUCH_SAMPLE)
    require_scope(actor, sample.org, NO_SUCH_SAMPLE)
    redrawn = draw(sample.seed, list(sample.population),
                   sample_size(len(sample.population), sample.percent, sample.count))
    inspected = sorted(await Inspection.filter(sample_id=sample.id).values_list(
        "box_id", flat=True))
    return sample, SampleCheck(redrawn, redrawn == list(sample.chosen), redrawn == inspected)


# --- the two-person count ------------------------------------------------------------------


async def _locked(inspection_id: int) -> Inspection:
    row = await Inspection.filter(id=inspection_id).select_for_update().first()
    if row is None:
        raise NotFound(NO_SUCH_INSPECTION)
    return row


async def in_scope(actor: Actor, inspection_id: int) -> Inspection:
    """An inspection of the actor's org subtree (V5)."""
    return await row_in_scope(actor, Inspection, inspection_id, NO_SUCH_INSPECTION)


async def start_inspection(actor: Actor, inspection_id: int, now: datetime | None = None
                           ) -> Inspection:
    """The second person starts the inspection: the ledger's figures are recorded and the
    holder is asked for his count in chat; the holder himself cannot be the second person
    (V5, S2)."""
    moment = _moment(now)
    async with in_transaction():
        row = await _locked(inspection_id)
        box = await _box(row.box_id)  # type: ignore[attr-defined]
        if actor.staff_id is not None and actor.staff_id == box.holder_id:  # type: ignore[attr-defined]
            raise PermissionDenied(HOLDER_NOT_SECOND, box=box.device.asset_tag)
        require(actor, Permission.INSPECTION_CONDUCT)
        require_scope(actor, box.org)
        if actor.staff_id is None:
            raise PermissionDenied(N_("You do not have permission for this action."))
        if row.status not in STARTABLE:
            raise DomainError(NOT_STARTABLE, inspection=row.id)
        if box.holder_id is None:  # type: ignore[attr-defined]
            raise DomainError(BOX_WITHOUT_HOLDER, box=box.device.asset_tag)
        expected = await tail_boxes.expected_in_box(box.id)
        await Inspection.filter(id=row.id, status=row.status).update(
            status=InspectionStatus.IN_PROGRESS, started_at=moment, expected=expected,
            holder_id=box.holder_id, supervisor_id=actor.staff_id)  # type: ignore[attr-defined]
        await audit.record(actor, "inspection.started", "inspection", row.id,
                           org_id=box.org.id, detail={
                               "box_id": box.id, "holder_id": box.holder_id,  # type: ignore[attr-defined]
                               "supervisor_id": actor.staff_id, "expected": expected})
        await outbox.enqueue(box.holder_id,  # type: ignore[attr-defined]
                             COUNT_REQUESTED, {"box": box.device.asset_tag,
                                               "supervisor": actor.label},
                             intent=Intent.of("inspection.count_requested", row.id,
                                              Action.COUNT),
                             idempotency_key=f"inspection:{row.id}:count_requested")
    return await Inspection.get(id=row.id)


def _side(actor: Actor, row: Inspection) -> str:
    """Which of the two people the actor is: "holder" or "supervisor" (V5)."""
    if actor.staff_id is not None and actor.staff_id == row.holder_id:  # type: ignore[attr-defined]
        return "holder"
    if actor.staff_id is not None and actor.staff_id == row.supervisor_id:  # type: ignore[attr-defined]
        return "supervisor"
    raise PermissionDenied(NOT_YOUR_INSPECTION, inspection=row.id)


def _require_countable(row: Inspection, side: str) -> None:
    """Refuse a count before the start, after the end, or a second one by the same side."""
    if row.status == InspectionStatus.COMPLETED:
        raise DomainError(ALREADY_COMPLETED, inspection=row.id)
    if row.status != InspectionStatus.IN_PROGRESS:
        raise DomainError(NOT_STARTED, inspection=row.id)
    if getattr(row, f"{side}_counted_at") is not None:
        raise DomainError(ALREADY_COUNTED, inspection=row.id)


async def count_request(actor: Actor, inspection_id: int) -> CountRequest:
    """The inspection the actor is to count now, with the voucher types to count (V5)."""
    row = await Inspection.get_or_none(id=inspection_id)
    if row is None:
        raise NotFound(NO_SUCH_INSPECTION)
    _require_countable(row, _side(actor, row))
    box = await _box(row.box_id)  # type: ignore[attr-defined]
    return CountRequest(row, label_of(box),
                        await voucher_counts.types_to_count(row.expected))


def whole_counts(texts: dict[str, str]) -> dict[str, int]:
    """Counts typed per voucher type code, each refused unless a whole number from 0."""
    counts = {}
    for code, text in texts.items():
        clean = text.strip()
        if not (clean.isascii() and clean.isdigit()):
            raise DomainError(NOT_A_NUMBER, code=code)
        counts[code] = int(clean)
    return counts


async def record_count(actor: Actor, inspection_id: int, counted: dict[str, int],
                       now: datetime | None = None) -> Inspection:
    """One of the two people gives his count of every voucher type; the second count
    completes the inspection: OK when both match the ledger, else a discrepancy incident
    (V5). Bad figures are refused and nothing is written."""
    moment = _moment(now)
    request = await count_request(actor, inspection_id)
    clean = voucher_counts.clean_counted(counted, request.types)
    async with in_transaction():
        row = await _locked(inspection_id)
        side = _side(actor, row)
        _require_countable(row, side)
        await Inspection.filter(id=row.id, **{f"{side}_counted_at": None}).update(
            **{f"{side}_counted": clean, f"{side}_counted_at": moment})
        await audit.record(actor, "inspection.counted", "inspection", row.id,
                           org_id=row.org_id,  # type: ignore[attr-defined]
                           detail={"side": side, "counted": clean})
        await row.refresh_from_db()
        if row.holder_counted is not None and row.supervisor_counted is not None:
            await _complete(actor, row, moment)
    return await Inspection.get(id=row.id)


async def _complete(actor: Actor, row: Inspection, moment: datetime) -> None:
    """Both counts are in: close the inspection OK or as a discrepancy and tell people (V5)."""
    box = await _box(row.box_id)  # type: ignore[attr-defined]
    matched = all(voucher_counts.counts_match(row.expected, getattr(row, f"{side}_counted"))
                  for side in SIDES)
    incident = None if matched else await _open_incident(actor, row, box, moment)
    await Inspection.filter(id=row.id).update(
        status=InspectionStatus.COMPLETED, completed_at=moment,
        result=InspectionResult.OK if matched else InspectionResult.DISCREPANCY,
        incident_id=incident.id if incident else None)
    await audit.record(actor, "inspection.completed", "inspection", row.id, org_id=box.org.id,
                       detail={"result": "ok" if matched else "discrepancy",
                               "incident_id": incident.id if incident else None})
    if matched and voucher_counts.counts_match(await tail_boxes.expected_in_box(box.id),
                                               row.expected):
        await TailBox.filter(id=box.id).update(last_count_at=moment, last_count_matched=True)
    template = COMPLETED_DISCREPANCY if incident else COMPLETED_OK
    params = {"box": box.device.asset_tag} | ({"incident": incident.id} if incident else {})
    for staff_id in (row.holder_id, row.supervisor_id):  # type: ignore[attr-defined]
        if staff_id != actor.staff_id:
            await outbox.enqueue(staff_id, template, params,
                                 intent=Intent.of("inspection.completed", row.id),
                                 idempotency_key=f"inspection:{row.id}:completed:{staff_id}")
    if incident is not None:
        await _alert_discrepancy(row, box, incident)


async def _open_incident(actor: Actor, row: Inspection, box: TailBox, moment: datetime
                         ) -> Incident:
    """The discrepancy incident of an inspection with every figure (V5)."""
    codes = sorted({*row.expected, *row.holder_counted, *row.supervisor_counted})
    figures = ", ".join(f"{code}: {row.holder_counted.get(code, 0)}/"
                        f"{row.supervisor_counted.get(code, 0)}/{row.expected.get(code, 0)}"
                        for code in codes)
    incident = await Incident.create(
        kind=IncidentKind.DISCREPANCY, staff_id=row.holder_id,  # type: ignore[attr-defined]
        org=box.org, device=box.device, item=box.device.asset_tag, occurred_at=moment,
        description=f"inspection #{row.id} {row.kind.value} {row.period} "
                    f"(holder/second person/ledger) {figures}",
        detail={"inspection_id": row.id, "box_id": box.id, "kind": row.kind.value,
                "period": row.period, "expected": row.expected,
                "holder_counted": row.holder_counted,
                "supervisor_counted": row.supervisor_counted},
        reported_by_id=actor.staff_id, reported_at=moment)
    await audit.record(actor, "incident.reported", "incident", incident.id, org_id=box.org.id,
                       detail={"kind": incident.kind.value, "box_id": box.id,
                               "inspection_id": row.id})
    return incident


async def _alert_discrepancy(row: Inspection, box: TailBox, incident: Incident) -> None:
    """Tell operations management of the box org chain and the second person, with the
    figures in each reader's language (V5)."""
    holder = await Staff.get(id=row.holder_id)  # type: ignore[attr-defined]
    supervisor = await Staff.get(id=row.supervisor_id)  # type: ignore[attr-defined]
    recipients = {s.id: s for s in await chains.staff_in_chain(box.org, Role.OPS_ADMIN)}
    recipients[supervisor.id] = supervisor
    types = {t.code: t for t in await voucher_counts.types_to_count(row.expected)}
    for recipient in recipients.values():
        if recipient.id == holder.id:
            continue
        locale = locale_of(recipient)
        await outbox.enqueue(recipient.id, DISCREPANCY_ALERT, {
            "box": box.device.asset_tag, "org": box.org.name, "holder": person_label(holder),
            "supervisor": person_label(supervisor), "incident": incident.id,
            "holder_counted": voucher_counts.figures_text(types, row.holder_counted, locale),
            "supervisor_counted": voucher_counts.figures_text(types, row.supervisor_counted,
                                                              locale),
            "expected": voucher_counts.figures_text(types, row.expected, locale)},
            intent=Intent.of("inspection.discrepancy", row.id),
            idempotency_key=f"inspection:{row.id}:discrepancy:{recipient.id}")
