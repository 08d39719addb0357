"""Reads of the vault inspections: the list by month and org, completion rates, a box's
history, one inspection, and what waits for a person in chat (V5, K3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from tortoise.expressions import Q

from domain.models import (
    Inspection,
    InspectionKind,
    InspectionResult,
    InspectionSample,
    InspectionStatus,
    Org,
    TailBox,
)
from domain.platform.access import (
    Permission,
    can,
    require,
    require_scope,
    scope_prefix,
)
from domain.platform.actors import Actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.errors import N_, DomainError, NotFound
from domain.platform.paging import PAGE_ONE, Page, PageRequest, keyset_page

RELATED = ("box__device", "org", "holder", "supervisor", "incident", "sample")
BAD_MONTH = N_("%(value)s is not a month; write it as YYYY-MM.")
AWAITING_LIMIT = 10


@dataclass(frozen=True)
class InspectionFilter:
    """What the list shows: a month YYYY-MM (None: every month), and optionally an org
    subtree, a status or only those not completed, and a kind."""

    month: str | None
    org_id: int | None = None
    status: InspectionStatus | None = None
    kind: InspectionKind | None = None
    not_completed: bool = False


@dataclass(frozen=True)
class CompletionRow:
    """One org's monthly inspections of a month: how many, completed, with a discrepancy,
    overdue, and the completion rate in percent (V5)."""

    org: Org
    total: int
    completed: int
    discrepancies: int
    overdue: int

    @property
    def rate(self) -> int:
        return round(100 * self.completed / self.total) if self.total else 0


def month_start(month: str, zone: ZoneInfo = DEFAULT_ZONE) -> tuple[datetime, datetime]:
    """The first moments of a month YYYY-MM and of the next one, business time, in UTC."""
    try:
        first = date.fromisoformat(f"{month.strip()}-01")
    except ValueError:
        raise DomainError(BAD_MONTH, value=month) from None
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return tuple(datetime(d.year, d.month, 1, tzinfo=zone).astimezone(UTC)  # type: ignore[return-value]
                 for d in (first, following))


async def _prefix(actor: Actor, org_id: int | None) -> str:
    """The path prefix of the org asked for (in scope) or of the actor's whole subtree."""
    if org_id is None:
        return scope_prefix(actor)
    missing = N_("No such organisation.")
    org = await Org.get_or_none(id=org_id)
    if org is None:
        raise NotFound(missing)
    require_scope(actor, org, missing)
    return org.path


async def list_inspections(actor: Actor, terms: InspectionFilter,
                           paging: PageRequest = PAGE_ONE, *, zone: ZoneInfo = DEFAULT_ZONE
                           ) -> Page[Inspection]:
    """A page of the month's inspections of the subtree (every month's without one): the
    monthly round of that month and the surprise inspections launched in it, by due time
    (V5, K3)."""
    require(actor, Permission.INSPECTION_VIEW)
    query = Inspection.filter(org__path__startswith=await _prefix(actor, terms.org_id))
    if terms.month is not None:
        start, end = month_start(terms.month, zone)
        query = query.filter(
            Q(kind=InspectionKind.MONTHLY, period=terms.month.strip())
            | Q(kind=InspectionKind.SURPRISE, created_at__gte=start, created_at__lt=end))
    if terms.status is not None:
        query = query.filter(status=terms.status)
    if terms.not_completed:
        query = query.exclude(status=InspectionStatus.COMPLETED)
    if terms.kind is not None:
        query = query.filter(kind=terms.kind)
    return await keyset_page(query, ("due_at", "id"), paging,
                             lambda rows: rows.prefetch_related(*RELATED))


async def completion_rates(actor: Actor, month: str, org_id: int | None = None
                           ) -> list[CompletionRow]:
    """Per org of the subtree, the monthly inspections of a month and how many are done (V5)."""
    require(actor, Permission.INSPECTION_VIEW)
    month_start(month)
    rows = await Inspection.filter(kind=InspectionKind.MONTHLY, period=month.strip(),
                                   org__path__startswith=await _prefix(actor, org_id)
                                   ).values_list("org_id", "status", "result", "escalated_at")
    tally: dict[int, list[int]] = {}
    for org_id_, status, result, escalated_at in rows:
        counts = tally.setdefault(org_id_, [0, 0, 0, 0])
        counts[0] += 1
        counts[1] += status == InspectionStatus.COMPLETED
        counts[2] += result == InspectionResult.DISCREPANCY
        counts[3] += escalated_at is not None
    orgs = {org.id: org for org in await Org.filter(id__in=list(tally))}
    return sorted((CompletionRow(orgs[key], *counts) for key, counts in tally.items()),
                  key=lambda row: row.org.path)


async def box_history(actor: Actor, box_id: int) -> tuple[TailBox, list[Inspection]]:
    """A tail box of the subtree and every inspection of it, newest first (V5)."""
    require(actor, Permission.INSPECTION_VIEW)
    missing = N_("No such tail box.")
    box = await TailBox.get_or_none(id=box_id).prefetch_related("device", "org", "holder")
    if box is None:
        raise NotFound(missing)
    require_scope(actor, box.org, missing)
    rows = await Inspection.filter(box_id=box.id).order_by("-due_at", "-id").prefetch_related(
        *RELATED)
    return box, list(rows)


async def inspection_detail(actor: Actor, inspection_id: int) -> Inspection:
    """One inspection of the subtree with its box, people, incident and sample (V5)."""
    require(actor, Permission.INSPECTION_VIEW)
    missing = N_("No such inspection.")
    row = await Inspection.get_or_none(id=inspection_id).prefetch_related(*RELATED)
    if row is None:
        raise NotFound(missing)
    require_scope(actor, row.org, missing)
    return row


async def samples(actor: Actor, limit: int = 50) -> list[InspectionSample]:
    """The surprise samples of the subtree, newest first (K3)."""
    require(actor, Permission.INSPECTION_VIEW)
    return list(await InspectionSample.filter(org__path__startswith=scope_prefix(actor))
                .order_by("-id").limit(limit).prefetch_related("org", "launched_by"))


async def sample_inspections(sample: InspectionSample) -> list[Inspection]:
    """The inspections a sample created, by box (K3)."""
    return list(await Inspection.filter(sample_id=sample.id).order_by("box_id")
                .prefetch_related(*RELATED))


async def awaiting(actor: Actor) -> list[Inspection]:
    """What waits for the actor: counts he owes as holder or second person, and, for those
    who conduct inspections, the open ones of his subtree still to be started (V5)."""
    if actor.staff_id is None:
        return []
    owed = Q(status=InspectionStatus.IN_PROGRESS) & (
        Q(holder_id=actor.staff_id, holder_counted_at=None)
        | Q(supervisor_id=actor.staff_id, supervisor_counted_at=None))
    query = owed
    if can(actor, Permission.INSPECTION_CONDUCT):
        query = owed | Q(Q(status__in=[InspectionStatus.SCHEDULED, InspectionStatus.OVERDUE]),
                         Q(org__path__startswith=actor.org_path),
                         ~Q(holder_id=actor.staff_id))
    return list(await Inspection.filter(query).order_by("due_at", "id").limit(AWAITING_LIMIT)
                .prefetch_related("box__device", "holder"))
