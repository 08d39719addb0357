"""The dashboard: every figure of the viewer's subtree against the database, the 30-day
trends, the page with its links and SVG charts, and who sees what."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from admin_web.charts import Line, line_chart
from domain import clock
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
    QualificationBasis,
    QualificationStatus,
    Role,
    Staff,
    TailBox,
    VoidKind,
    VoidRequest,
    VoidStatus,
    Voucher,
    VoucherState,
)
from domain.services import dashboard, devices, qualifications, review, vouchers
from domain.services.access import can
from domain.services.actors import Actor
from domain.services.dashboard import FigureKey, TrendKey
from domain.services.devices import LossReport
from domain.services.vouchers import VoucherTypeForm
from tests.clock_support import SteadyClock
from tests.factories import ROOT, person, web_user
from tests.review_support import Desk, build_desk, submitted_case
from tests.test_admin_web import admin_site, log_in, zh
from tests.test_cases import MONDAY_10AM, ZONE, bound_agent

NOW = MONDAY_10AM + timedelta(hours=2)  # Monday 2026-11-23 12:00 in Shanghai
TODAY = NOW.astimezone(ZONE).date()
FRIDAY = MONDAY_10AM - timedelta(days=3)
THURSDAY = MONDAY_10AM - timedelta(days=4)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


@dataclass
class World:
    """The review desk plus a second field agent in branch b and the seeded cases."""

    desk: Desk
    agent_b: Actor
    cases: list[Case]


# (agent a or b, submitted at, decision, minutes until the decision); the SLA is 20 minutes.
PLAN = (
    ("a", MONDAY_10AM, "approve", 5),
    ("a", MONDAY_10AM, "return", 10),
    ("a", MONDAY_10AM, "reject", 30),
    ("a", MONDAY_10AM + minutes(30), None, 0),  # overdue at noon
    ("a", MONDAY_10AM + minutes(110), None, 0),  # still in time at noon
    ("b", MONDAY_10AM, "approve", 10),
    ("a", FRIDAY, "approve", 5),
    ("a", THURSDAY, "approve", 40),
    ("b", FRIDAY, "approve", 5),
    ("b", FRIDAY, None, 0),  # overdue since Friday
)


async def seed_cases(desk: Desk, agent_b: Actor) -> list[Case]:
    """Cases in several states today and on earlier days, in both branches (C8, S1)."""
    rows = []
    for seed, (who, at, decision, after) in enumerate(PLAN):
        agent, reviewer = (desk.agent, desk.reviewer) if who == "a" else (agent_b, desk.outsider)
        case = await submitted_case(desk, seed=seed, at=at, agent=agent)
        moment = at + minutes(after)
        if decision == "approve":
            await review.approve(reviewer, case.id, desk.ctx, moment)
        elif decision == "return":
            await review.return_case(reviewer, case.id, ["unclear_image"], "", desk.ctx,
                                     now=moment)
        elif decision == "reject":
            await review.reject(reviewer, case.id, "identity_doubt", "", desk.ctx, moment)
        rows.append(case)
    return rows


async def seed_vouchers(desk: Desk, agent_b: Actor) -> None:
    """Stock in both outlets' vaults, allocations to both boxes, one void waiting, and
    today's day-end count answered in branch a only (V1, V3, V6)."""
    key = await vouchers.define_voucher_type(desk.ops, "USB_KEY", VoucherTypeForm(
        "网银盾", "E-banking USB key", r"UK\d{8}", "none"))
    for outlet, first, last, allocated in (("outlet_a", 1, 10, 4), ("outlet_b", 11, 16, 2)):
        org_id = desk.ids[outlet]
        await vouchers.receive_range(desk.ops, org_id, key.id, f"UK{first:08d}", f"UK{last:08d}")
        await vouchers.set_cap(desk.ops, org_id, key.id, 50)
        agent = desk.agent if outlet == "outlet_a" else agent_b
        box = await vouchers.box_for_device((await Device.get(holder_id=agent.staff_id)).id)
        await vouchers.allocate(desk.ops, box.id, key.id, count=allocated)
    await vouchers.request_void(desk.ops, ["UK00000010"], VoidKind.EXPIRED, "有效期已过")
    await vouchers.request_day_end_counts(NOW)
    box_a = await TailBox.get(holder_id=desk.agent.staff_id)
    count = await BoxCount.get(box_id=box_a.id, kind=CountKind.DAY_END)
    await vouchers.answer_count(desk.agent, count.id, await vouchers.expected_in_box(box_a.id),
                                NOW)


async def seed_ledgers(desk: Desk, agent_b: Actor) -> None:
    """A lost tablet with its open incident (branch a), a tablet unconfirmed for 25 hours
    (branch b), qualifications expiring and suspended in both branches (D1, D3, Q5)."""
    agent_c = await bound_agent(desk.ids["outlet_a"], "F003")
    lost = await Device.get(holder_id=agent_c.staff_id)
    await devices.report_loss(agent_c, LossReport("device", lost.asset_tag, None, "地铁",
                                                  "下车时遗落"))
    agent_d, _ = await person(desk.ids["outlet_b"], Role.FIELD_AGENT, no="F004")
    await qualifications.record_counter_qualification(ROOT, agent_d.id, "GT-F004",
                                                      date(2020, 1, 6))
    await qualifications.grant(ROOT, agent_d.id, [desk.plain_type_id], QualificationBasis.COUNTER)
    late = await devices.register_device(ROOT, devices.DeviceForm(
        asset_tag="PAD-LATE", serial="SN-LATE", imei=None, model="MatePad", purchase_date=None,
        org_id=desk.ids["outlet_b"]))
    await devices.issue_device(ROOT, late.id, agent_d.id)
    await Device.filter(id=late.id).update(issued_at=NOW - timedelta(hours=25))
    await Qualification.filter(staff_id=desk.agent.staff_id, business_type_id=desk.plain_type_id
                               ).update(valid_until=TODAY + timedelta(days=10))
    await Qualification.filter(staff_id=agent_b.staff_id).update(
        valid_until=TODAY + timedelta(days=45))
    for staff_id in (agent_c.staff_id, agent_d.id):
        grant = await Qualification.filter(staff_id=staff_id).first()
        assert grant is not None
        await qualifications.suspend(desk.ops, grant.id, "整改期间暂停")


async def seed_calendar(desk: Desk, cases: list[Case]) -> None:
    """Vault inspections due, overdue and done; callbacks due, overdue and completed with a
    satisfaction (V5, K1)."""
    boxes = {box.org_id: box for box in await TailBox.all()}  # type: ignore[attr-defined]
    box_a, box_b = boxes[desk.ids["outlet_a"]], boxes[desk.ids["outlet_b"]]
    moment = datetime(2026, 11, 1, tzinfo=ZONE)
    for box, kind, period, status, due in (
            (box_a, InspectionKind.MONTHLY, "2026-11", InspectionStatus.SCHEDULED, "2026-11-30"),
            (box_a, InspectionKind.SURPRISE, "S-1", InspectionStatus.OVERDUE, "2026-11-20"),
            (box_b, InspectionKind.MONTHLY, "2026-11", InspectionStatus.COMPLETED, "2026-11-30"),
            (box_b, InspectionKind.MONTHLY, "2026-10", InspectionStatus.OVERDUE, "2026-10-31"),
            (box_b, InspectionKind.SURPRISE, "S-2", InspectionStatus.IN_PROGRESS, "2026-11-25"),
            (box_a, InspectionKind.MONTHLY, "2026-12", InspectionStatus.SCHEDULED, "2026-12-31")):
        await Inspection.create(kind=kind, period=period, box=box, org_id=box.org_id,  # type: ignore[attr-defined]
                                status=status, created_at=moment,
                                due_at=datetime.fromisoformat(f"{due}T17:00+08:00"))
    for index, status, due, satisfaction, completed in (
            (0, CallbackStatus.SCHEDULED, NOW + timedelta(hours=3), None, None),
            (6, CallbackStatus.ATTEMPTED, MONDAY_10AM - timedelta(hours=1), None, None),
            (7, CallbackStatus.COMPLETED, FRIDAY + timedelta(hours=6), 4,
             FRIDAY + timedelta(hours=5)),
            (8, CallbackStatus.COMPLETED, FRIDAY + timedelta(hours=6), 2,
             FRIDAY + timedelta(hours=6)),
            (5, CallbackStatus.COMPLETED, NOW + timedelta(hours=3), 5, MONDAY_10AM + minutes(60))):
        case = cases[index]
        await Callback.create(
            case=case, org_id=case.org_id, business_type_id=case.business_type_id,  # type: ignore[attr-defined]
            field_agent_id=case.agent_id, status=status, draw=1, scheduled_at=due,  # type: ignore[attr-defined]
            due_at=due, satisfaction=satisfaction, completed_at=completed, created_at=moment)


@pytest.fixture
async def world(database_url: str, tmp_path: Path, test_clock: SteadyClock) -> World:
    """The seeded world, its pages read at its own noon whatever moment the suite runs at."""
    test_clock.move_to(NOW)
    desk = await build_desk(tmp_path)
    agent_b = await bound_agent(desk.ids["outlet_b"], "F002")
    cases = await seed_cases(desk, agent_b)
    await seed_vouchers(desk, agent_b)
    await seed_ledgers(desk, agent_b)
    await seed_calendar(desk, cases)
    return World(desk, agent_b, cases)


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


def cards(page: str) -> dict[str, tuple[str, str]]:
    """Caption → (link, figure) of every card on the dashboard."""
    return {caption: (href.replace("&amp;", "&"), figure) for href, figure, caption in re.findall(
        r'<a class="card[^"]*" href="([^"]+)">\s*<span class="figure">([^<]*)</span>\s*'
        r'<span class="caption">([^<]*)</span>', page)}


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
