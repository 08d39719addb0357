"""The dashboard: every figure of the viewer's org subtree with the permission that shows it,
the trends of the last 30 days and the task lists (C8, S1, V1–V6, K1, D1, D3, Q1–Q7).

Each area is counted by one or two aggregate queries (conditional COUNT/SUM/AVG in SQL);
an area is counted only for a viewer holding its permission. "Today" and "this month" are
business days in the given zone. Definitions the linked lists share:
- captured on a day: first submitted that day (the case number carries the day, C3);
- approved / returned / rejected today: in that state, decided today;
- callbacks due today: open (scheduled or attempted) ones the viewer may see (a callback
  agent his own and the unassigned ones) whose call slot falls before the end of the
  business day, deadline not passed; overdue: open and past their due time; together, what
  the callback list shows by default (callbacks.due_condition, K1, S1);
- inspections of this month: its monthly round and the surprise inspections launched in
  it, not completed; overdue: in that state, of any month (V5);
- day-end counts missing: today's day-end counts requested and not answered (V3);
- qualifications expiring: active ones valid until 30 days from today at the latest;
  suspended: in that state; each qualification counts, as the list shows one per row (Q1).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q, Subquery
from tortoise.functions import Avg, Count, Sum

from domain.cases import review, review_sla
from domain.cases.case_numbers import case_no_prefix
from domain.ledgers import devices, idle_accounts, major_incidents
from domain.models import (
    Callback,
    Case,
    CaseStatus,
    Device,
    DeviceState,
    Incident,
    IncidentStatus,
    Inspection,
    InspectionKind,
    InspectionStatus,
    Org,
    OutboxStatus,
    Qualification,
    QualificationStatus,
    Staff,
    VoidRequest,
    VoidStatus,
    VoucherBalance,
    VoucherState,
)
from domain.oversight import callbacks
from domain.people import orgs, staff
from domain.platform import outbox
from domain.platform.access import Permission, can, require, scope_prefix
from domain.platform.actors import Actor
from domain.platform.clock import day_bounds, utcnow
from domain.vouchers import day_end_counts
from domain.vouchers.voucher_balances import VAULT
from domain.vouchers.voucher_stock import IN_PLACE

TREND_DAYS = 30
EXPIRY_DAYS = 30


class FigureKey(StrEnum):
    """The figures of the dashboard."""

    CASES_CAPTURED = "cases_captured"
    CASES_OPEN = "cases_open"
    CASES_OVERDUE = "cases_overdue"
    CASES_APPROVED = "cases_approved"
    CASES_RETURNED = "cases_returned"
    CASES_REJECTED = "cases_rejected"
    SLA_KEPT = "sla_kept"
    VOUCHERS_IN_VAULTS = "vouchers_in_vaults"
    VOUCHERS_IN_BOXES = "vouchers_in_boxes"
    VOIDS_PENDING = "voids_pending"
    DAY_END_MISSING = "day_end_missing"
    INSPECTIONS_DUE = "inspections_due"
    INSPECTIONS_OVERDUE = "inspections_overdue"
    CALLBACKS_DUE = "callbacks_due"
    CALLBACKS_OVERDUE = "callbacks_overdue"
    INCIDENTS_OPEN = "incidents_open"
    DEVICES_LOST = "devices_lost"
    DEVICES_UNCONFIRMED = "devices_unconfirmed"
    QUALIFICATIONS_EXPIRING = "qualifications_expiring"
    QUALIFICATIONS_SUSPENDED = "qualifications_suspended"
    STAFF_ACTIVE = "staff_active"
    ORGS = "orgs"
    OUTBOX_PENDING = "outbox_pending"
    OUTBOX_DEAD = "outbox_dead"


# Figures that call for action whenever they are above zero.
ALERTS = frozenset({
    FigureKey.CASES_OVERDUE, FigureKey.DAY_END_MISSING, FigureKey.INSPECTIONS_OVERDUE,
    FigureKey.CALLBACKS_OVERDUE, FigureKey.INCIDENTS_OPEN, FigureKey.DEVICES_LOST,
    FigureKey.DEVICES_UNCONFIRMED, FigureKey.OUTBOX_DEAD,
})


class TrendKey(StrEnum):
    """The daily series of the last 30 days."""

    CAPTURED = "captured"
    APPROVED = "approved"
    SLA_KEPT = "sla_kept"
    SATISFACTION = "satisfaction"


@dataclass(frozen=True)
class Figure:
    """One figure, the permission that shows it, and whether it calls for action."""

    key: FigureKey
    permission: Permission
    value: int | None  # None: nothing to measure (a share of no decisions)

    @property
    def alert(self) -> bool:
        """True when the figure calls for action."""
        return self.key in ALERTS and bool(self.value)


@dataclass(frozen=True)
class Series:
    """One daily series, oldest day first; None where a day has nothing to measure."""

    key: TrendKey
    permission: Permission
    points: tuple[float | None, ...]


@dataclass(frozen=True)
class Dashboard:
    """What the viewer's dashboard shows; a task list is None when he does not act on it."""

    today: date
    figures: tuple[Figure, ...]
    days: tuple[date, ...]
    trends: tuple[Series, ...]
    withdrawal_proposals: list[Staff] | None
    retraining: list[Staff] | None
    idle_accounts: list[Staff] | None


@dataclass(frozen=True)
class _Scope:
    """The viewer, his subtree and the business clock of one dashboard."""

    actor: Actor
    zone: ZoneInfo
    now: datetime

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    def orgs(self) -> Subquery:
        """The ids of the orgs of the viewer's subtree, as a subquery."""
        return Subquery(Org.filter(path__startswith=scope_prefix(self.actor)).values("id"))


async def _aggregate(query: Any, **columns: Any) -> dict[str, Any]:
    """Several aggregates of one filtered table in one SELECT without grouping."""
    [row] = await query.annotate(**columns).values(*columns)
    return row


def _decided(status: CaseStatus, start: datetime, end: datetime) -> Count:
    return Count("id", _filter=Q(status=status, decided_at__gte=start, decided_at__lt=end))


async def _cases(scope: _Scope) -> dict[FigureKey, int | None]:
    """Cases captured and decided today, open and overdue now, the SLA kept today (C8, S1)."""
    start, end = day_bounds(scope.today, scope.zone)
    open_now = Q(status__in=list(review.OPEN_STATUSES))
    row = await _aggregate(
        Case.filter(org_id__in=scope.orgs()),
        captured=Count("id", _filter=Q(case_no__startswith=case_no_prefix(scope.today))),
        open=Count("id", _filter=open_now),
        overdue=Count("id", _filter=open_now & Q(review_due_at__lt=scope.now)),
        approved=_decided(CaseStatus.APPROVED, start, end),
        returned=_decided(CaseStatus.RETURNED, start, end),
        rejected=_decided(CaseStatus.REJECTED, start, end))
    [sla] = await review_sla.sla_by_day(scope.actor, scope.zone, scope.today, scope.today,
                                        scope.now)
    return {FigureKey.CASES_CAPTURED: row["captured"], FigureKey.CASES_OPEN: row["open"],
            FigureKey.CASES_OVERDUE: row["overdue"], FigureKey.CASES_APPROVED: row["approved"],
            FigureKey.CASES_RETURNED: row["returned"],
            FigureKey.CASES_REJECTED: row["rejected"], FigureKey.SLA_KEPT: sla.kept_percent}


async def _vouchers(scope: _Scope) -> dict[FigureKey, int | None]:
    """Serials in vaults and in boxes, voids waiting, day-end counts unanswered (V1, V3, V6)."""
    row = await _aggregate(
        VoucherBalance.filter(org_id__in=scope.orgs()),
        vaults=Sum("count", _filter=Q(box_id=VAULT, state=VoucherState.IN_VAULT)),
        boxes=Sum("count", _filter=Q(box_id__gt=VAULT, state__in=list(IN_PLACE))))
    missing = await day_end_counts.count_day_end_counts(scope.actor, scope.today,
                                                        unanswered=True)
    voids = await VoidRequest.filter(org_id__in=scope.orgs(), status=VoidStatus.PENDING).count()
    return {FigureKey.VOUCHERS_IN_VAULTS: int(row["vaults"] or 0),
            FigureKey.VOUCHERS_IN_BOXES: int(row["boxes"] or 0),
            FigureKey.VOIDS_PENDING: voids, FigureKey.DAY_END_MISSING: missing}


def _month_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The first instant of the business month of a day and of the next month, in UTC."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return day_bounds(first, zone)[0], day_bounds(following, zone)[0]


async def _inspections(scope: _Scope) -> dict[FigureKey, int | None]:
    """This month's vault inspections not completed, and overdue ones of any month (V5, S1)."""
    start, end = _month_bounds(scope.today, scope.zone)
    this_month = Q(kind=InspectionKind.MONTHLY, period=f"{scope.today:%Y-%m}") | Q(
        kind=InspectionKind.SURPRISE, created_at__gte=start, created_at__lt=end)
    row = await _aggregate(
        Inspection.filter(org_id__in=scope.orgs()),
        due=Count("id", _filter=this_month & ~Q(status=InspectionStatus.COMPLETED)),
        overdue=Count("id", _filter=Q(status=InspectionStatus.OVERDUE)))
    return {FigureKey.INSPECTIONS_DUE: row["due"],
            FigureKey.INSPECTIONS_OVERDUE: row["overdue"]}


async def _callbacks(scope: _Scope) -> dict[FigureKey, int | None]:
    """Open callbacks the viewer may see still due today and those past their due time, as
    the callback list shows them (K1, S1)."""
    def due(which: callbacks.Due) -> Count:
        return Count("id", _filter=callbacks.due_condition(which, scope.now, scope.zone))
    row = await _aggregate(callbacks.open_callbacks(scope.actor),
                           due=due(callbacks.Due.TODAY), overdue=due(callbacks.Due.OVERDUE))
    return {FigureKey.CALLBACKS_DUE: row["due"], FigureKey.CALLBACKS_OVERDUE: row["overdue"]}


async def _incidents(scope: _Scope) -> dict[FigureKey, int | None]:
    """Incidents still open (D3, Q4)."""
    count = await Incident.filter(org_id__in=scope.orgs(), status=IncidentStatus.OPEN).count()
    return {FigureKey.INCIDENTS_OPEN: count}


async def _devices(scope: _Scope) -> dict[FigureKey, int | None]:
    """Tablets lost, and issued ones not confirmed within 24 hours (D1, D3)."""
    lost = await Device.filter(org_id__in=scope.orgs(), state=DeviceState.LOST).count()
    return {FigureKey.DEVICES_LOST: lost, FigureKey.DEVICES_UNCONFIRMED:
            await devices.count_unconfirmed_issues(scope.actor, scope.now)}


async def _qualifications(scope: _Scope) -> dict[FigureKey, int | None]:
    """Valid qualifications expiring within 30 days, and suspended ones (Q1, Q5)."""
    members = Subquery(Staff.filter(org_id__in=scope.orgs()).values("id"))
    horizon = scope.today + timedelta(days=EXPIRY_DAYS)
    row = await _aggregate(
        Qualification.filter(staff_id__in=members),
        expiring=Count("id", _filter=Q(status=QualificationStatus.ACTIVE,
                                       valid_until__lte=horizon)),
        suspended=Count("id", _filter=Q(status=QualificationStatus.SUSPENDED)))
    return {FigureKey.QUALIFICATIONS_EXPIRING: row["expiring"],
            FigureKey.QUALIFICATIONS_SUSPENDED: row["suspended"]}


async def _administration(scope: _Scope) -> dict[FigureKey, int | None]:
    """Active staff of the subtree."""
    return {FigureKey.STAFF_ACTIVE: await staff.count_staff(scope.actor, active=True)}


async def _orgs(scope: _Scope) -> dict[FigureKey, int | None]:
    """Orgs of the subtree."""
    return {FigureKey.ORGS: await orgs.count_orgs(scope.actor)}


async def _outbox(scope: _Scope) -> dict[FigureKey, int | None]:
    """Notifications waiting and dead."""
    return {FigureKey.OUTBOX_PENDING: await outbox.count_messages(scope.actor,
                                                                  OutboxStatus.PENDING),
            FigureKey.OUTBOX_DEAD: await outbox.count_messages(scope.actor, OutboxStatus.DEAD)}


AREAS: tuple[tuple[Permission, Callable[[_Scope], Awaitable[dict[FigureKey, int | None]]]],
             ...] = (
    (Permission.CASE_VIEW, _cases),
    (Permission.VOUCHER_VIEW, _vouchers),
    (Permission.INSPECTION_VIEW, _inspections),
    (Permission.CALLBACK_VIEW, _callbacks),
    (Permission.INCIDENT_VIEW, _incidents),
    (Permission.DEVICE_VIEW, _devices),
    (Permission.QUALIFICATION_VIEW, _qualifications),
    (Permission.STAFF_VIEW, _administration),
    (Permission.ORG_VIEW, _orgs),
    (Permission.OUTBOX_VIEW, _outbox),
)


def _trend_days(today: date) -> tuple[date, ...]:
    """The 30 business days of the trends, ending today."""
    return tuple(today - timedelta(days=n) for n in range(TREND_DAYS - 1, -1, -1))


async def _case_trends(scope: _Scope, days: tuple[date, ...]) -> list[Series]:
    """Cases captured and approved, and the SLA kept (%), per day (C8, S1)."""
    bounds = [day_bounds(day, scope.zone) for day in days]
    since = bounds[0][0]
    row = await _aggregate(
        Case.filter(Q(submitted_at__gte=since) | Q(decided_at__gte=since),
                    org_id__in=scope.orgs()),
        **{f"c{n}": Count("id", _filter=Q(case_no__startswith=case_no_prefix(day)))
           for n, day in enumerate(days)},
        **{f"a{n}": _decided(CaseStatus.APPROVED, start, end)
           for n, (start, end) in enumerate(bounds)})
    sla = await review_sla.sla_by_day(scope.actor, scope.zone, days[0], days[-1], scope.now)
    return [
        Series(TrendKey.CAPTURED, Permission.CASE_VIEW,
               tuple(row[f"c{n}"] for n in range(len(days)))),
        Series(TrendKey.APPROVED, Permission.CASE_VIEW,
               tuple(row[f"a{n}"] for n in range(len(days)))),
        Series(TrendKey.SLA_KEPT, Permission.CASE_VIEW, tuple(d.kept_percent for d in sla)),
    ]


async def _satisfaction_trend(scope: _Scope, days: tuple[date, ...]) -> list[Series]:
    """The average satisfaction (1 to 5) of the callbacks completed each day (K1)."""
    bounds = [day_bounds(day, scope.zone) for day in days]
    row = await _aggregate(
        Callback.filter(org_id__in=scope.orgs(), satisfaction__isnull=False,
                        completed_at__gte=bounds[0][0]),
        **{f"s{n}": Avg("satisfaction", _filter=Q(completed_at__gte=start, completed_at__lt=end))
           for n, (start, end) in enumerate(bounds)})
    points = tuple(None if row[f"s{n}"] is None else round(float(row[f"s{n}"]), 2)
                   for n in range(len(days)))
    return [Series(TrendKey.SATISFACTION, Permission.CALLBACK_VIEW, points)]


async def overview(actor: Actor, zone: ZoneInfo, now: datetime | None = None) -> Dashboard:
    """Every figure, trend and task list of the actor's org subtree that his roles show
    (C8, S1, V1–V6, K1, D1, D3, Q1–Q7)."""
    require(actor, Permission.DASHBOARD_VIEW)
    scope = _Scope(actor, zone, now or utcnow())
    figures = []
    for permission, count in AREAS:
        if can(actor, permission):
            figures += [Figure(key, permission, value)
                        for key, value in (await count(scope)).items()]
    days = _trend_days(scope.today)
    trends = []
    if can(actor, Permission.CASE_VIEW):
        trends += await _case_trends(scope, days)
    if can(actor, Permission.CALLBACK_VIEW):
        trends += await _satisfaction_trend(scope, days)
    return Dashboard(
        today=scope.today, figures=tuple(figures), days=days, trends=tuple(trends),
        withdrawal_proposals=await major_incidents.withdrawal_proposals(actor)
        if can(actor, Permission.QUALIFICATION_MANAGE) else None,
        retraining=await major_incidents.retraining_flagged(actor)
        if can(actor, Permission.QUALIFICATION_MANAGE) else None,
        idle_accounts=await idle_accounts.idle_accounts_to_keep(actor, scope.today)
        if can(actor, Permission.IDLE_ACCOUNT_KEEP) else None)
