"""The review queue: open cases of the reviewer's org subtree, oldest first, with the time
left on their review deadline; or the decided ones of a business day (C8, S1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.cases.case_numbers import case_no_prefix
from domain.cases.review import DECIDED_STATUSES, OPEN_STATUSES
from domain.models import Case, CaseStatus, Org
from domain.platform.access import Permission, require, scope_prefix
from domain.platform.actors import Actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.clock import day_bounds, utcnow

QUEUE_LIMIT = 500


@dataclass(frozen=True)
class QueueFilters:
    """Filters of the review queue; None means any. Without a status the queue holds the
    open cases, the decided ones of `decided_on` or every case first submitted on
    `captured_on` (business days)."""

    status: CaseStatus | None = None
    business_type_id: int | None = None
    org_id: int | None = None
    agent_id: int | None = None
    overdue_only: bool = False
    captured_on: date | None = None
    decided_on: date | None = None


@dataclass(frozen=True)
class QueueItem:
    """One row of the review queue, oldest submission first; ID data never appears here."""

    case_id: int
    case_no: str
    status: CaseStatus
    revision: int
    business_type_zh: str
    business_type_en: str
    agent_name: str
    org_name: str
    submitted_at: datetime
    review_due_at: datetime
    claimed_by_id: int | None
    claimed_by_name: str
    awaiting_second_approval: bool
    seconds_left: int  # negative when overdue

    @property
    def overdue(self) -> bool:
        """True when the review deadline has passed."""
        return self.seconds_left < 0


async def review_queue(actor: Actor, filters: QueueFilters, now: datetime | None = None, *,
                       zone: ZoneInfo = DEFAULT_ZONE) -> list[QueueItem]:
    """Open cases of the actor's org subtree, oldest first, with SLA time left (C8, S1)."""
    require(actor, Permission.CASE_VIEW)
    moment = now or utcnow()
    if filters.status in (CaseStatus.DRAFT, CaseStatus.CANCELLED):
        return []
    query = _by_status_and_day(Case.filter(org__path__startswith=scope_prefix(actor)),
                               filters, zone)
    if filters.business_type_id is not None:
        query = query.filter(business_type_id=filters.business_type_id)
    if filters.org_id is not None:
        org = await Org.get_or_none(id=filters.org_id)
        if org is None:
            return []
        query = query.filter(org__path__startswith=org.path)
    if filters.agent_id is not None:
        query = query.filter(agent_id=filters.agent_id)
    if filters.overdue_only:
        query = query.filter(review_due_at__lt=moment, status__in=OPEN_STATUSES)
    rows = await query.prefetch_related("business_type", "agent", "org", "claimed_by").order_by(
        "submitted_at", "id").limit(QUEUE_LIMIT)
    return [_queue_item(row, moment) for row in rows]


def _by_status_and_day(query: Any, filters: QueueFilters, zone: ZoneInfo) -> Any:
    """The queue's status filter and its business-day filters (C8)."""
    if filters.status is not None:
        query = query.filter(status=filters.status)
    elif filters.decided_on is not None:
        query = query.filter(status__in=DECIDED_STATUSES)
    elif filters.captured_on is None:
        query = query.filter(status__in=OPEN_STATUSES)
    if filters.captured_on is not None:
        query = query.filter(case_no__startswith=case_no_prefix(filters.captured_on))
    if filters.decided_on is not None:
        start, end = day_bounds(filters.decided_on, zone)
        query = query.filter(decided_at__gte=start, decided_at__lt=end)
    return query


def _queue_item(case: Case, moment: datetime) -> QueueItem:
    """One queue row; a decided case counts its time left at the moment of the decision."""
    assert case.submitted_at is not None and case.review_due_at is not None
    until = moment if case.status in OPEN_STATUSES else (case.decided_at or moment)
    return QueueItem(
        case_id=case.id, case_no=case.case_no or "", status=case.status, revision=case.revision,
        business_type_zh=case.business_type.name_zh, business_type_en=case.business_type.name_en,
        agent_name=case.agent.name, org_name=case.org.name, submitted_at=case.submitted_at,
        review_due_at=case.review_due_at,
        claimed_by_id=case.claimed_by_id,  # type: ignore[attr-defined]
        claimed_by_name=case.claimed_by.name if case.claimed_by else "",
        awaiting_second_approval=(case.first_approved_by_id is not None  # type: ignore[attr-defined]
                                  and case.status in OPEN_STATUSES),
        seconds_left=int((case.review_due_at - until).total_seconds()),
    )
