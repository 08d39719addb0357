"""The rows of the lists a supervisor takes on paper for a period: cases (the customer
masked), incidents and the voucher movement journal, each of the actor's org subtree (S4,
C10). The lists of current state (tablets, staff, qualifications) and the audit log are
exported from their own services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from domain.models import (
    Case,
    CaseStatus,
    Incident,
    IncidentStatus,
    MovementKind,
    Org,
    Voucher,
    VoucherMovement,
    VoucherType,
)
from domain.people.orgs import get_org
from domain.platform.access import Permission, require, scope_prefix
from domain.platform.actors import Actor, person_label
from domain.platform.clock import day_bounds
from domain.platform.errors import N_, DomainError
from domain.platform.exports import MAX_ROWS
from domain.vouchers import voucher_reports
from domain.vouchers.voucher_names import box_labels

MAX_DAYS = 366
ROW_LIMIT = MAX_ROWS + 1  # one past the export's limit, so that an export past it is refused


def period_bounds(start: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC bounds of business days `start` to `end` (both included); refused when the
    end comes first or the period is longer than a year."""
    if end < start:
        raise DomainError(N_("The end of the period comes before its start."))
    if (end - start).days >= MAX_DAYS:
        raise DomainError(N_("A period may be at most %(n)s days long."), n=MAX_DAYS)
    return day_bounds(start, zone)[0], day_bounds(end, zone)[1]


def masked_name(name: str) -> str:
    """A customer's name with all but its first character hidden (C10)."""
    return name[:1] + "*" * (len(name) - 1)


@dataclass(frozen=True)
class CaseLine:
    """A case as exported: no customer data but the masked name (C10)."""

    case_no: str
    business_type_zh: str
    business_type_en: str
    status: str
    returns: int  # times returned for correction (C7)
    agent: str
    org_name: str
    customer: str
    submitted_at: datetime | None
    decided_at: datetime | None
    reviewer: str
    escalations: int


async def cases_submitted(actor: Actor, start: date, end: date, zone: ZoneInfo, *,
                          org_id: int | None = None, **chosen: object) -> list[CaseLine]:
    """Cases of the actor's subtree first submitted in the period, by the queue's filters
    (org, and `chosen` status, business_type_id, agent_id), the customer's name masked
    (C10)."""
    require(actor, Permission.CASE_VIEW)
    since, until = period_bounds(start, end, zone)
    prefix = scope_prefix(actor) if org_id is None else (await get_org(actor, org_id)).path
    query = Case.filter(org__path__startswith=prefix, submitted_at__gte=since,
                        submitted_at__lt=until)
    for name in ("status", "business_type_id", "agent_id"):
        if chosen.get(name) is not None:
            query = query.filter(**{name: chosen[name]})
    rows = await query.prefetch_related("business_type", "agent", "org", "claimed_by"
                                        ).order_by("submitted_at", "id").limit(ROW_LIMIT)
    return [CaseLine(
        case_no=row.case_no or f"#{row.id}", business_type_zh=row.business_type.name_zh,
        business_type_en=row.business_type.name_en, status=row.status,
        returns=row.revision - 1 + (row.status == CaseStatus.RETURNED),
        agent=person_label(row.agent), org_name=row.org.name,
        customer=masked_name(row.customer_name), submitted_at=row.submitted_at,
        decided_at=row.decided_at,
        reviewer=person_label(row.claimed_by), escalations=row.escalation_count,
    ) for row in rows]


async def incidents_reported(actor: Actor, status: IncidentStatus | None, start: date,
                             end: date, zone: ZoneInfo) -> list[Incident]:
    """Incidents of the actor's subtree reported in the period, oldest first (D3, Q4)."""
    require(actor, Permission.INCIDENT_VIEW)
    since, until = period_bounds(start, end, zone)
    query = Incident.filter(org__path__startswith=scope_prefix(actor), reported_at__gte=since,
                            reported_at__lt=until)
    if status is not None:
        query = query.filter(status=status)
    return await query.prefetch_related("org", "staff", "device", "reported_by", "closed_by"
                                        ).order_by("reported_at", "id").limit(ROW_LIMIT)


@dataclass(frozen=True)
class JournalLine:
    """One movement of the journal with its names resolved (V1)."""

    at: datetime
    kind: MovementKind
    serial: str
    voucher_type: VoucherType
    from_state: str | None
    to_state: str
    org_name: str
    box: str  # the asset tag of the box's tablet
    case_no: str
    actor_label: str
    note: str


async def journal_between(actor: Actor, kind: str | None, org_id: int | None,
                          serial: str | None, start: date, end: date, zone: ZoneInfo
                          ) -> list[JournalLine]:
    """The movements of the actor's subtree in the period, oldest first, by the journal's
    filters of kind, org and serial (V1)."""
    since, until = period_bounds(start, end, zone)
    query = await voucher_reports.journal_query(actor, kind=kind, org_id=org_id, serial=serial)
    rows = await query.filter(at__gte=since, at__lt=until).order_by("at", "id").limit(ROW_LIMIT)
    return await _journal_lines(rows)


async def _journal_lines(rows: list[VoucherMovement]) -> list[JournalLine]:
    """The movements with serial, type, org, box and case named, in a few statements."""
    vouchers = dict(await Voucher.filter(id__in={r.voucher_id for r in rows}  # type: ignore[attr-defined]
                                         ).values_list("id", "serial"))
    types = {t.id: t for t in await VoucherType.filter(id__in={r.voucher_type_id for r in rows})}
    orgs = dict(await Org.filter(id__in={r.org_id for r in rows}).values_list("id", "name"))
    box_ids = {r.to_box_id or r.from_box_id for r in rows} - {None}
    boxes = await box_labels(box_ids)
    cases = dict(await Case.filter(id__in={r.case_id for r in rows} - {None}
                                   ).values_list("id", "case_no"))
    return [JournalLine(
        at=r.at, kind=r.kind, serial=vouchers.get(r.voucher_id, ""),  # type: ignore[attr-defined]
        voucher_type=types[r.voucher_type_id], from_state=r.from_state, to_state=r.to_state,
        org_name=orgs.get(r.org_id, ""),
        box=boxes.get(r.to_box_id or r.from_box_id or 0, ""),
        case_no=cases.get(r.case_id) or "", actor_label=r.actor_label,
        note=r.note) for r in rows]
