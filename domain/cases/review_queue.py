"""The review queue: cases of the reviewer's org subtree, page by page, in saved views (claimed
by me, waiting for my second approval, unclaimed, overdue, decided today) with a count per
view; open cases oldest first with the time left on their review deadline, decided ones
newest first with the time they took (C8, S1, S2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from domain.cases.case_numbers import case_no_prefix
from domain.cases.review import DECIDED_STATUSES, OPEN_STATUSES, awaiting_second_approval
from domain.models import Case, CaseStatus, Org
from domain.platform.access import Permission, can, require, scope_prefix
from domain.platform.actors import Actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.clock import business_date, day_bounds, utcnow
from domain.platform.paging import Page, PageRequest, keyset_page

OLDEST_FIRST = ("submitted_at", "id")
NEWEST_DECIDED_FIRST = ("-decided_at", "-id")


class QueueView(StrEnum):
    """The queue's saved views, each a tab with its count."""

    MINE = "mine"
    SECOND = "second"
    UNCLAIMED = "unclaimed"
    OVERDUE = "overdue"
    DECIDED_TODAY = "decided_today"


@dataclass(frozen=True)
class QueueFilters:
    """Filters of the review queue; None means any. Without a view or a status the queue holds
    the open cases, the decided ones of `decided_on` or every case first submitted on
    `captured_on` (business days)."""

    status: CaseStatus | None = None
    business_type_id: int | None = None
    org_id: int | None = None
    agent_id: int | None = None
    overdue_only: bool = False
    captured_on: date | None = None
    decided_on: date | None = None
    view: QueueView | None = None


@dataclass(frozen=True)
class QueueItem:
    """One row of the review queue; ID data never appears here."""

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
    decided_at: datetime | None
    claimed_by_id: int | None
    claimed_by_name: str
    awaiting_second_approval: bool
    seconds_left: int  # negative when overdue

    @property
    def overdue(self) -> bool:
        """True when the review deadline has passed."""
        return self.seconds_left < 0

    @property
    def seconds_taken(self) -> int | None:
        """From submission to decision, for a decided case (C8); None while open."""
        if self.decided_at is None or self.status not in DECIDED_STATUSES:
            return None
        return int((self.decided_at - self.submitted_at).total_seconds())


async def queue_page(actor: Actor, filters: QueueFilters, paging: PageRequest,
                     now: datetime | None = None, *, zone: ZoneInfo = DEFAULT_ZONE
                     ) -> Page[QueueItem]:
    """One page of the queue of the actor's org subtree in the chosen view (C8, S1)."""
    require(actor, Permission.CASE_VIEW)
    moment = now or utcnow()
    query = await _filtered(actor, filters, moment, zone)
    if filters.view is not None:
        query = _in_view(query, filters.view, actor, moment, zone)
    order = NEWEST_DECIDED_FIRST if newest_first(filters) else OLDEST_FIRST
    page = await keyset_page(query, order, paging, lambda rows: rows.prefetch_related(
        "business_type", "agent", "org", "claimed_by"))
    return page.map(lambda row: _queue_item(row, moment))


async def review_queue(actor: Actor, filters: QueueFilters, now: datetime | None = None, *,
                       zone: ZoneInfo = DEFAULT_ZONE, limit: int = 50) -> list[QueueItem]:
    """The first `limit` cases of the queue (C8, S1)."""
    return (await queue_page(actor, filters, PageRequest(limit), now, zone=zone)).rows


async def view_counts(actor: Actor, filters: QueueFilters, now: datetime | None = None, *,
                      zone: ZoneInfo = DEFAULT_ZONE) -> dict[QueueView, int]:
    """How many cases each saved view holds under the type, org and agent filters, counted by
    the database (C8)."""
    require(actor, Permission.CASE_VIEW)
    moment = now or utcnow()
    base = QueueFilters(business_type_id=filters.business_type_id, org_id=filters.org_id,
                        agent_id=filters.agent_id)
    query = await _scoped(actor, base)
    return {view: await _in_view(query, view, actor, moment, zone).count()
            for view in QueueView}


def newest_first(filters: QueueFilters) -> bool:
    """True when the filters hold decided cases only, which are read newest first (C8)."""
    return (filters.view == QueueView.DECIDED_TODAY or filters.status in DECIDED_STATUSES
            or (filters.status is None and filters.view is None
                and filters.decided_on is not None))


async def _scoped(actor: Actor, filters: QueueFilters) -> QuerySet[Case]:
    """Cases of the actor's subtree, of the type, org (with its subtree) and agent chosen."""
    query = Case.filter(org__path__startswith=scope_prefix(actor))
    if filters.business_type_id is not None:
        query = query.filter(business_type_id=filters.business_type_id)
    if filters.org_id is not None:
        org = await Org.get_or_none(id=filters.org_id)
        query = query.filter(org__path__startswith=org.path) if org else query.filter(id=0)
    if filters.agent_id is not None:
        query = query.filter(agent_id=filters.agent_id)
    return query


async def _filtered(actor: Actor, filters: QueueFilters, moment: datetime, zone: ZoneInfo
                    ) -> QuerySet[Case]:
    """The scoped cases under the status, overdue and business-day filters (C8)."""
    query = _by_status_and_day(await _scoped(actor, filters), filters, zone)
    if filters.overdue_only:
        query = query.filter(review_due_at__lt=moment, status__in=OPEN_STATUSES)
    return query


def _by_status_and_day(query: Any, filters: QueueFilters, zone: ZoneInfo) -> Any:
    """The queue's status filter and its business-day filters (C8); drafts never show."""
    if filters.status is not None:
        query = query.filter(status=filters.status)
    elif filters.view is not None:
        query = query.filter(status__in=OPEN_STATUSES + DECIDED_STATUSES)
    elif filters.decided_on is not None:
        query = query.filter(status__in=DECIDED_STATUSES)
    elif filters.captured_on is None:
        query = query.filter(status__in=OPEN_STATUSES)
    if filters.status in (CaseStatus.DRAFT, CaseStatus.CANCELLED):
        query = query.filter(id=0)
    if filters.captured_on is not None:
        query = query.filter(case_no__startswith=case_no_prefix(filters.captured_on))
    if filters.decided_on is not None:
        start, end = day_bounds(filters.decided_on, zone)
        query = query.filter(decided_at__gte=start, decided_at__lt=end)
    return query


def _in_view(query: QuerySet[Case], view: QueueView, actor: Actor, moment: datetime,
             zone: ZoneInfo) -> QuerySet[Case]:
    """The cases of one saved view (C8, S1, S2)."""
    me = actor.staff_id
    if view == QueueView.DECIDED_TODAY:
        start, end = day_bounds(business_date(moment, zone), zone)
        return query.filter(status__in=DECIDED_STATUSES, decided_at__gte=start,
                            decided_at__lt=end)
    query = query.filter(status__in=OPEN_STATUSES)
    if view == QueueView.MINE:
        return query.filter(claimed_by_id=me)
    if view == QueueView.UNCLAIMED:
        return query.filter(claimed_by_id=None)
    if view == QueueView.OVERDUE:
        return query.filter(review_due_at__lt=moment)
    if not can(actor, Permission.CASE_REVIEW):
        return query.filter(id=0)
    # a four-eyes case another reviewer approved first, which I neither captured nor gave
    # the first approval to, and nobody else holds (S2)
    return query.filter(Q(claimed_by_id=None) | Q(claimed_by_id=me),
                        first_approved_by_id__isnull=False).exclude(
        first_approved_by_id=me).exclude(agent_id=me)


def _queue_item(case: Case, moment: datetime) -> QueueItem:
    """One queue row; a decided case counts its time left at the moment of the decision."""
    assert case.submitted_at is not None and case.review_due_at is not None
    until = moment if case.status in OPEN_STATUSES else (case.decided_at or moment)
    return QueueItem(
        case_id=case.id, case_no=case.case_no or "", status=case.status, revision=case.revision,
        business_type_zh=case.business_type.name_zh, business_type_en=case.business_type.name_en,
        agent_name=case.agent.name, org_name=case.org.name, submitted_at=case.submitted_at,
        review_due_at=case.review_due_at, decided_at=case.decided_at,
        claimed_by_id=case.claimed_by_id,  # type: ignore[attr-defined]
        claimed_by_name=case.claimed_by.name if case.claimed_by else "",
        awaiting_second_approval=awaiting_second_approval(case),
        seconds_left=int((case.review_due_at - until).total_seconds()),
    )


async def case_numbers(actor: Actor, case_ids: list[int]) -> dict[int, str]:
    """The numbers of those of the cases the actor may see, by id (C8)."""
    require(actor, Permission.CASE_VIEW)
    rows = await Case.filter(id__in=case_ids, org__path__startswith=scope_prefix(actor)
                             ).values_list("id", "case_no")
    return {case_id: case_no for case_id, case_no in rows if case_no}
