"""The dashboard: every figure of the viewer's subtree against the database, the 30-day
trends, the page with its links and SVG charts, and who sees what."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from admin_web.charts import Line, line_chart
from domain.cases import review
from domain.models import (
    BoxCount,
    Callback,
    CallbackStatus,
    Case,
    CaseDecision,
    CaseEvent,
    CaseEventKind,
    CaseStatus,
    CountKind,
    CountStatus,
    Device,
    DeviceState,
    Incident,
    IncidentStatus,
    Inspection,
    InspectionKind,
    InspectionStatus,
    Org,
    Qualification,
    QualificationStatus,
    Role,
    Staff,
    VoidRequest,
    VoidStatus,
    Voucher,
    VoucherState,
)
from domain.oversight import dashboard
from domain.oversight.dashboard import FigureKey, TrendKey
from domain.platform import clock
from domain.platform.access import can
from tests.admin_support import admin_site, log_in, zh
from tests.case_support import ZONE
from tests.dashboard_support import (
    FRIDAY,
    NOW,
    THURSDAY,
    TODAY,
    World,
    cards,
)
from tests.factories import person, web_user


def on_today(moment: datetime | None) -> bool:
    return moment is not None and moment.astimezone(ZONE).date() == TODAY


async def first_submissions(prefix: str) -> dict[int, datetime]:
    """When each case of the subtree was first submitted, from its timeline."""
    events = await CaseEvent.filter(kind=CaseEventKind.SUBMITTED,
                                    case__org__path__startswith=prefix).order_by("-id")
    return {event.case_id: event.at for event in events}  # type: ignore[attr-defined]


async def expected_cases(prefix: str) -> dict[FigureKey, int | None]:
    """The case figures of a subtree, straight from the case rows and their timelines."""
    rows = await Case.filter(org__path__startswith=prefix)
    first = await first_submissions(prefix)
    open_rows = [r for r in rows if r.status in review.OPEN_STATUSES]

    def decided_today(status: CaseStatus) -> int:
        return sum(1 for r in rows if r.status == status and on_today(r.decided_at))
    return {
        FigureKey.CASES_CAPTURED: sum(1 for at in first.values() if on_today(at)),
        FigureKey.CASES_OPEN: len(open_rows),
        FigureKey.CASES_OVERDUE: sum(1 for r in open_rows if r.review_due_at < NOW),
        FigureKey.CASES_APPROVED: decided_today(CaseStatus.APPROVED),
        FigureKey.CASES_RETURNED: decided_today(CaseStatus.RETURNED),
        FigureKey.CASES_REJECTED: decided_today(CaseStatus.REJECTED),
    }


async def expected_vouchers(prefix: str) -> dict[FigureKey, int | None]:
    """The voucher figures of a subtree, from the serial rows rather than stored balances."""
    in_scope = Voucher.filter(org__path__startswith=prefix)
    return {
        FigureKey.VOUCHERS_IN_VAULTS: await in_scope.filter(state=VoucherState.IN_VAULT).count(),
        FigureKey.VOUCHERS_IN_BOXES: await in_scope.filter(
            state__in=[VoucherState.IN_BOX, VoucherState.RESERVED]).count(),
        FigureKey.VOIDS_PENDING: await VoidRequest.filter(
            org__path__startswith=prefix, status=VoidStatus.PENDING).count(),
        FigureKey.DAY_END_MISSING: await BoxCount.filter(
            box__org__path__startswith=prefix, kind=CountKind.DAY_END,
            business_day=f"{TODAY:%Y%m%d}",
            status__in=[CountStatus.REQUESTED, CountStatus.RETRY, CountStatus.UNANSWERED],
        ).count(),
    }


async def expected_calendar(prefix: str) -> dict[FigureKey, int | None]:
    """Inspections and callbacks of a subtree, counted row by row."""
    inspections = await Inspection.filter(org__path__startswith=prefix)
    month = f"{TODAY:%Y-%m}"
    callbacks = await Callback.filter(org__path__startswith=prefix, status__in=[
        CallbackStatus.SCHEDULED, CallbackStatus.ATTEMPTED])
    return {
        FigureKey.INSPECTIONS_DUE: sum(
            1 for i in inspections if i.status != InspectionStatus.COMPLETED and (
                i.period == month if i.kind == InspectionKind.MONTHLY
                else f"{i.created_at.astimezone(ZONE):%Y-%m}" == month)),
        FigureKey.INSPECTIONS_OVERDUE: sum(1 for i in inspections
                                           if i.status == InspectionStatus.OVERDUE),
        FigureKey.CALLBACKS_DUE: sum(1 for c in callbacks
                                     if c.due_at >= NOW and on_today(c.due_at)),
        FigureKey.CALLBACKS_OVERDUE: sum(1 for c in callbacks if c.due_at < NOW),
    }


async def expected_ledgers(prefix: str) -> dict[FigureKey, int | None]:
    """Incidents, tablets and qualifications of a subtree, counted row by row."""
    tablets = await Device.filter(org__path__startswith=prefix)
    grants = await Qualification.filter(staff__org__path__startswith=prefix)
    horizon = TODAY + timedelta(days=30)
    return {
        FigureKey.INCIDENTS_OPEN: await Incident.filter(
            org__path__startswith=prefix, status=IncidentStatus.OPEN).count(),
        FigureKey.DEVICES_LOST: sum(1 for t in tablets if t.state == DeviceState.LOST),
        FigureKey.DEVICES_UNCONFIRMED: sum(
            1 for t in tablets if t.state == DeviceState.ISSUED and t.receipt_confirmed_at is None
            and t.issued_at is not None and NOW - t.issued_at > timedelta(hours=24)),
        FigureKey.QUALIFICATIONS_EXPIRING: sum(
            1 for g in grants if g.status == QualificationStatus.ACTIVE
            and g.valid_until is not None and g.valid_until <= horizon),
        FigureKey.QUALIFICATIONS_SUSPENDED: sum(
            1 for g in grants if g.status == QualificationStatus.SUSPENDED),
        FigureKey.STAFF_ACTIVE: await Staff.filter(org__path__startswith=prefix,
                                                   active=True).count(),
        FigureKey.ORGS: await Org.filter(path__startswith=prefix).count(),
    }


async def expected_figures(prefix: str, sla_kept: int | None) -> dict[FigureKey, int | None]:
    return (await expected_cases(prefix) | await expected_vouchers(prefix)
            | await expected_calendar(prefix) | await expected_ledgers(prefix)
            | {FigureKey.SLA_KEPT: sla_kept})


async def prefix_of(org_id: int) -> str:
    return (await Org.get(id=org_id)).path


@pytest.mark.parametrize(("viewer", "org", "sla_kept"), [
    ("ops", "province", 75),  # today: 3 of 4 decisions within 20 minutes
    ("supervisor", "sub_a", 67),  # branch a only: 2 of 3
])
async def test_every_figure_equals_the_database_for_the_viewers_subtree(
        world: World, viewer: str, org: str, sla_kept: int) -> None:
    actor = getattr(world.desk, viewer)
    board = await dashboard.overview(actor, ZONE, NOW)
    figures = {figure.key: figure.value for figure in board.figures}
    expected = await expected_figures(await prefix_of(world.desk.ids[org]), sla_kept)
    assert figures == expected
    assert all(can(actor, figure.permission) for figure in board.figures)
    assert board.today == TODAY


async def test_a_sub_org_viewer_sees_only_his_subtree(world: World) -> None:
    province = await dashboard.overview(world.desk.ops, ZONE, NOW)
    branch_a = await dashboard.overview(world.desk.supervisor, ZONE, NOW)
    whole = {f.key: f.value for f in province.figures}
    mine = {f.key: f.value for f in branch_a.figures}
    assert (whole[FigureKey.CASES_CAPTURED], mine[FigureKey.CASES_CAPTURED]) == (6, 5)
    assert (whole[FigureKey.CASES_OVERDUE], mine[FigureKey.CASES_OVERDUE]) == (2, 1)
    assert (whole[FigureKey.VOUCHERS_IN_VAULTS], mine[FigureKey.VOUCHERS_IN_VAULTS]) == (9, 5)
    assert (whole[FigureKey.VOUCHERS_IN_BOXES], mine[FigureKey.VOUCHERS_IN_BOXES]) == (6, 4)
    assert (whole[FigureKey.DAY_END_MISSING], mine[FigureKey.DAY_END_MISSING]) == (1, 0)
    assert (whole[FigureKey.INSPECTIONS_DUE], mine[FigureKey.INSPECTIONS_DUE]) == (3, 2)
    assert (whole[FigureKey.INSPECTIONS_OVERDUE], mine[FigureKey.INSPECTIONS_OVERDUE]) == (2, 1)
    assert (whole[FigureKey.DEVICES_UNCONFIRMED], mine[FigureKey.DEVICES_UNCONFIRMED]) == (1, 0)
    assert (whole[FigureKey.QUALIFICATIONS_SUSPENDED],
            mine[FigureKey.QUALIFICATIONS_SUSPENDED]) == (2, 1)
    far = await dashboard.overview(world.desk.far_supervisor, ZONE, NOW)
    assert {f.key: f.value for f in far.figures}[FigureKey.CASES_CAPTURED] == 1


async def test_the_trends_match_the_counts_of_each_day(world: World) -> None:
    board = await dashboard.overview(world.desk.ops, ZONE, NOW)
    trends = {series.key: series.points for series in board.trends}
    assert len(board.days) == 30 and board.days[-1] == TODAY
    captured = Counter(at.astimezone(ZONE).date()
                       for at in (await first_submissions("/")).values())
    approved = Counter(d.decided_at.astimezone(ZONE).date()
                       for d in await CaseDecision.filter(kind="approve"))
    ratings: defaultdict[date, list[int]] = defaultdict(list)
    for callback in await Callback.filter(satisfaction__isnull=False):
        ratings[callback.completed_at.astimezone(ZONE).date()].append(callback.satisfaction)
    assert trends[TrendKey.CAPTURED] == tuple(captured[day] for day in board.days)
    assert trends[TrendKey.APPROVED] == tuple(approved[day] for day in board.days)
    assert trends[TrendKey.SATISFACTION] == tuple(
        sum(ratings[day]) / len(ratings[day]) if ratings[day] else None for day in board.days)
    sla = dict(zip(board.days, trends[TrendKey.SLA_KEPT], strict=True))
    assert (sla[THURSDAY.date()], sla[FRIDAY.date()], sla[TODAY]) == (0, 100, 75)
    assert sum(1 for point in trends[TrendKey.SLA_KEPT] if point is not None) == 3
    mine = await dashboard.overview(world.desk.supervisor, ZONE, NOW)
    satisfaction = dict(zip(mine.days, {s.key: s.points for s in mine.trends}[
        TrendKey.SATISFACTION], strict=True))
    assert (satisfaction[FRIDAY.date()], satisfaction[TODAY]) == (4.0, None)


async def test_roles_see_only_the_figures_their_permissions_show(world: World) -> None:
    _, it = await person(world.desk.ids["province"], Role.IT_ADMIN, no="I009")
    _, callback = await person(world.desk.ids["province"], Role.CALLBACK_AGENT, no="C009")
    it_board = await dashboard.overview(it, ZONE, NOW)
    it_keys = {f.key for f in it_board.figures}
    assert {FigureKey.DEVICES_LOST, FigureKey.DEVICES_UNCONFIRMED,
            FigureKey.INCIDENTS_OPEN} <= it_keys
    assert not it_keys & {FigureKey.VOIDS_PENDING, FigureKey.VOUCHERS_IN_VAULTS,
                          FigureKey.CASES_CAPTURED, FigureKey.CALLBACKS_DUE}
    assert it_board.trends == () and it_board.idle_accounts is None
    callback_board = await dashboard.overview(callback, ZONE, NOW)
    assert {f.key for f in callback_board.figures} == {
        FigureKey.CALLBACKS_DUE, FigureKey.CALLBACKS_OVERDUE, FigureKey.ORGS}
    assert [s.key for s in callback_board.trends] == [TrendKey.SATISFACTION]


@asynccontextmanager
async def browser(org_id: int, role: Role, no: str) -> AsyncIterator[TestClient]:
    """The admin site logged in as a new staff member with one role."""
    _, username = await web_user(org_id, role, no=no)
    async with admin_site() as client:
        assert (await log_in(client, username)).url.path == "/"
        yield client


async def test_the_page_links_each_figure_to_its_filtered_list_and_draws_the_charts(
        world: World) -> None:
    today = clock.utcnow().astimezone(ZONE).date()
    async with browser(world.desk.ids["province"], Role.OPS_ADMIN, "W001") as client:
        page = await (await client.get("/")).text()
        lost = await (await client.get(cards(page)[zh("Tablets lost")][0])).text()
        suspended = await (await client.get(
            cards(page)[zh("Suspended qualifications")][0])).text()
        expiring = await (await client.get(
            cards(page)[zh("Qualifications expiring within 30 days")][0])).text()
        approved = await (await client.get(f"/cases?status=approved&decided={TODAY}")).text()
        captured = await (await client.get(f"/cases?captured={TODAY}")).text()
        bad_day = await client.get("/cases?captured=2026-13-45&decided=yesterday")
        bad_days = await client.get("/qualifications?expiring=99999999")
    shown = cards(page)
    assert shown[zh("Cases captured today")][0] == f"/cases?captured={today}"
    assert shown[zh("Approved today")][0] == f"/cases?status=approved&decided={today}"
    assert shown[zh("Open incidents")] == ("/incidents?status=open", "1")
    assert shown[zh("Tablets lost")] == ("/devices?state=lost", "1")
    assert shown[zh("Voids waiting for signatures")] == ("/vouchers/voids", "1")
    assert shown[zh("Vault inspections due this month")][0] == (
        f"/inspections?month={today:%Y-%m}&status=open")
    assert shown[zh("Overdue vault inspections")] == ("/inspections?status=overdue", "2")
    assert shown[zh("Overdue callbacks")][0] == "/callbacks?due=overdue"
    assert shown[zh("Callbacks due today")][0] == "/callbacks?due=today"
    assert shown[zh("Suspended qualifications")] == (
        "/qualifications?status=suspended", "2")
    assert page.count('<svg class="chart"') == 3 and page.count("<details>") == 3
    assert f'<title id="trend-0-title">{zh("Cases per day")}</title>' in page
    assert 'aria-labelledby="trend-2-title trend-2-desc"' in page
    assert f"<td>{TODAY}</td>" in page
    lost_tag = (await Device.get(state=DeviceState.LOST)).asset_tag
    assert lost_tag in lost and "PAD-LATE" not in lost
    assert "F003" in suspended and "F004" in suspended and "F001" not in suspended
    assert "F001" in expiring and "F002" not in expiring
    numbers = {c.case_no for c in await Case.filter(status=CaseStatus.APPROVED)
               if on_today(c.decided_at)}
    assert set(re.findall(r"YD\d{8}-\d{6}", approved)) == numbers and len(numbers) == 2
    listed = set(re.findall(r"YD\d{8}-\d{6}", captured))
    assert len(listed) == 6 and all(n.startswith(f"YD{TODAY:%Y%m%d}-") for n in listed)
    assert (bad_day.status, bad_days.status) == (200, 200)


async def test_it_sees_lost_tablets_but_not_voids_and_a_sub_org_sees_its_own(
        world: World) -> None:
    async with browser(world.desk.ids["province"], Role.IT_ADMIN, "W002") as client:
        it_page = await (await client.get("/")).text()
    async with browser(world.desk.ids["branch_b"], Role.SUPERVISOR, "W003") as client:
        branch_b = cards(await (await client.get("/")).text())
    assert "/devices?state=lost" in it_page and "/vouchers/voids" not in it_page
    assert "/cases?" not in it_page and '<svg class="chart"' not in it_page
    assert branch_b[zh("Tablets lost")][1] == "0"
    assert branch_b[zh("Tablets not confirmed within 24 hours")][1] == "1"
    assert branch_b[zh("Voids waiting for signatures")][1] == "0"


def test_a_chart_escapes_its_labels_and_breaks_its_line_at_missing_days() -> None:
    days = [date(2026, 11, 20) + timedelta(days=n) for n in range(4)]
    svg = line_chart("c1", "<b>Cases</b>", "from & to", days,
                     [Line('<script>alert("x")</script>', [1, None, 3, 2])])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "<title id=\"c1-title\">&lt;b&gt;Cases&lt;/b&gt;</title>" in svg
    assert "<desc id=\"c1-desc\">from &amp; to</desc>" in svg
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 3
