"""Each dashboard figure equals the rows of the list its card opens, for every role and scope,
and the dashboard in a real headless Chromium: the charts and a card's link."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from admin_web.app import AdminConfig, init_app
from domain.models import (
    BoxCount,
    Callback,
    CallbackStatus,
    CountKind,
    Inspection,
    InspectionKind,
    InspectionStatus,
    Role,
    TailBox,
)
from domain.platform import clock
from domain.platform.clock import day_bounds
from tests.admin_support import PASSWORD, admin_site, log_in, zh
from tests.browser_support import browser_page
from tests.case_support import ZONE
from tests.clock_support import SteadyClock
from tests.dashboard_support import NOW, World, cards
from tests.factories import person, web_user

SLA = "Reviews within the time limit today"  # a share of the decisions, not a list's length
# Cards whose list shows serial balances per place: the columns that add up to the figure.
BALANCE_COLUMNS = {"Vouchers in vaults": (3,), "Vouchers in tail boxes": (4, 5)}


async def seed_by_the_clock(seeded: World, test_clock: SteadyClock) -> str:
    """Two days after the seeded world (its callbacks and counts then lie in the past), what
    the pages count as today: callbacks due later today (one unassigned, one assigned to the
    callback agent C101, one to another agent), one of the other agent's past its deadline,
    one due tomorrow; a surprise inspection launched now; today's day-end counts (K1, V3,
    V5). Returns C101's user name."""
    test_clock.move_to(NOW + timedelta(days=2))
    now = clock.utcnow()
    end_of_day = day_bounds(now.astimezone(ZONE).date(), ZONE)[1]
    later = now + (end_of_day - now) / 2
    mine, username = await web_user(seeded.desk.ids["province"], Role.CALLBACK_AGENT, no="C101")
    other, _ = await person(seeded.desk.ids["province"], Role.CALLBACK_AGENT, no="C102")
    for index, due, assignee in ((1, later, None), (2, now - timedelta(hours=2), other.id),
                                 (3, later, mine.id), (4, later, other.id),
                                 (9, end_of_day + timedelta(hours=1), None)):
        case = seeded.cases[index]
        await Callback.create(
            case=case, org_id=case.org_id, business_type_id=case.business_type_id,  # type: ignore[attr-defined]
            field_agent_id=case.agent_id, status=CallbackStatus.SCHEDULED, draw=1,  # type: ignore[attr-defined]
            scheduled_at=due, due_at=due, assigned_to_id=assignee, created_at=now)
    box = await TailBox.filter(org_id=seeded.desk.ids["outlet_b"]).first()
    assert box is not None
    await Inspection.create(kind=InspectionKind.SURPRISE, period="S-9", box=box,
                            org_id=box.org_id, status=InspectionStatus.SCHEDULED,  # type: ignore[attr-defined]
                            created_at=now, due_at=now + timedelta(days=2))
    await BoxCount.filter(kind=CountKind.DAY_END).update(
        business_day=f"{now.astimezone(ZONE):%Y%m%d}")
    return username


@asynccontextmanager
async def site_as(seeded: World, username: str) -> AsyncIterator[TestClient]:
    """The admin site with case review configured, logged in."""
    config = AdminConfig(secret_key="test-secret", capture=seeded.desk.ctx)
    async with admin_site(config) as client:
        assert (await log_in(client, username)).url.path == "/"
        yield client


async def viewer(seeded: World, org: str, role: Role, agent: str) -> str:
    """The user name of a new staff member with one role, or of the seeded callback agent."""
    if role == Role.CALLBACK_AGENT:
        return agent
    return (await web_user(seeded.desk.ids[org], role, no="W101"))[1]


def listed_rows(page: str) -> list[str]:
    """The body rows of the page's list, without the row saying that nothing matches."""
    found = re.search(r'<table class="list[^"]*"[^>]*>.*?<tbody>(.*?)</tbody>', page, re.S)
    assert found, page
    rows = re.findall(r"<tr[\s>].*?</tr>", found.group(1), re.S)
    return [row for row in rows if "colspan" not in row]


def column_total(page: str, columns: tuple[int, ...]) -> int:
    """The sum of some numeric columns over the list's rows."""
    total = 0
    for row in listed_rows(page):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        total += sum(int(cells[n]) for n in columns)
    return total


def shown_count(caption: str, page: str) -> int:
    """What the list a card opens shows: its rows, a balance total, or the outbox's count."""
    for msgid, columns in BALANCE_COLUMNS.items():
        if caption == zh(msgid):
            return column_total(page, columns)
    if caption == zh("Outbox pending"):
        found = re.search(r"<p>(\d+)", page)
        assert found, page
        return int(found.group(1))
    return len(listed_rows(page))


async def figures_and_lists(client: TestClient) -> dict[str, tuple[int, int]]:
    """Per card caption: its figure and what the list it links to shows."""
    result = {}
    for caption, (href, figure) in cards(await (await client.get("/")).text()).items():
        if caption == zh(SLA):
            continue
        response = await client.get(href)
        assert response.status == 200, href
        result[caption] = (int(figure), shown_count(caption, await response.text()))
    return result


# Cards whose lists this change made agree with their figures; seeded above zero for the
# province's ops admin.
FIXED = ("Day-end counts not answered today", "Vault inspections due this month",
         "Overdue vault inspections", "Callbacks due today", "Overdue callbacks",
         "Qualifications expiring within 30 days", "Suspended qualifications")


# Per viewer: how many cards he sees (the areas his role works with, admin_web.menu), and
# the callback figures (due today, overdue): a callback agent neither counts nor lists those
# assigned to another agent.
@pytest.mark.parametrize(("org", "role", "seen", "callbacks"), [
    ("province", Role.OPS_ADMIN, 19, (3, 3)),
    ("sub_a", Role.SUPERVISOR, 19, (3, 3)),
    ("province", Role.CALLBACK_AGENT, 2, (2, 2)),
])
async def test_every_card_figure_equals_the_rows_of_the_list_it_opens(
        world: World, org: str, role: Role, seen: int,
        callbacks: tuple[int, int], test_clock: SteadyClock) -> None:
    username = await viewer(world, org, role, await seed_by_the_clock(world, test_clock))
    async with site_as(world, username) as client:
        shown = await figures_and_lists(client)
    assert {caption: pair for caption, pair in shown.items() if pair[0] != pair[1]} == {}
    assert len(shown) == seen
    assert (shown[zh("Callbacks due today")][0], shown[zh("Overdue callbacks")][0]) == callbacks
    if role == Role.OPS_ADMIN:
        assert all(shown[zh(caption)][0] > 0 for caption in FIXED)


async def test_the_lists_behind_the_cards_show_their_filters_and_refuse_a_bad_day(
        world: World, test_clock: SteadyClock) -> None:
    await seed_by_the_clock(world, test_clock)
    today = clock.utcnow().astimezone(ZONE).date()
    username = await viewer(world, "province", Role.OPS_ADMIN, "")
    async with site_as(world, username) as client:
        every = await (await client.get(f"/vouchers/counts?day={today}")).text()
        missing = await (await client.get(f"/vouchers/counts?day={today}&open=1")).text()
        bad_day = await client.get("/vouchers/counts?day=2026-13-45&open=1")
        refusal = await bad_day.text()
        balances = await (await client.get("/vouchers")).text()
        overdue = await (await client.get("/inspections?status=overdue")).text()
        october = await (await client.get("/inspections?status=overdue&month=2026-10")).text()
        open_now = await (await client.get(f"/inspections?month={today:%Y-%m}&status=open")).text()
        later = await (await client.get("/callbacks?due=today")).text()
    assert (len(listed_rows(every)), len(listed_rows(missing))) == (2, 1)
    assert "F002" in missing and "F001" not in missing
    assert zh("Day-end counts of %(day)s not answered", day=str(today)) in missing
    assert bad_day.status == 400 and zh(
        "%(field)s: enter a date as YYYY-MM-DD between %(first)s and %(last)s.",
        field=zh("Business day"), first="1900-01-01", last="2100-12-31") in refusal
    assert 'href="/vouchers/counts?open=1"' in balances
    assert zh("Overdue inspections of every month") in overdue
    assert (len(listed_rows(overdue)), len(listed_rows(october))) == (2, 1)
    assert zh("Inspections of %(month)s not completed yet", month=f"{today:%Y-%m}") in open_now
    assert zh("Completed") not in re.sub(r"<select.*?</select>", "", open_now, flags=re.S)
    assert 'href="/callbacks?due=today" class="current"' in later
    assert zh("Open callbacks to call before the end of today whose deadline has not "
              "passed.") in later


CHARTS = ("Cases per day", "Reviews within the time limit per day, in percent",
          "Callback satisfaction per day (average, 1 to 5)")


async def test_the_dashboard_in_chromium_draws_three_charts_and_a_card_opens_its_list(
        world: World, chromium: str, test_clock: SteadyClock) -> None:
    await seed_by_the_clock(world, test_clock)
    username = await viewer(world, "province", Role.OPS_ADMIN, "")
    config = AdminConfig(secret_key="browser-secret", capture=world.desk.ctx)
    server = TestServer(init_app(config), host="127.0.0.1")
    await server.start_server()
    try:
        async with browser_page(chromium) as page:
            await page.goto(str(server.make_url("/login")))
            await page.fill("input[name=username]", username)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("main form button.primary")
            await page.wait_for_url(str(server.make_url("/")))
            charts = [await page.get_by_role("img", name=zh(title)).count() for title in CHARTS]
            drawn = await page.locator("svg.chart polyline").count()
            card = page.locator("a.card", has_text=zh("Overdue vault inspections"))
            figure = int(await card.locator(".figure").inner_text())
            await card.click()
            await page.wait_for_url("**/inspections?status=overdue")
            rows = await page.locator("table.inspections tbody tr[class^=inspection-]").count()
            caption = await page.inner_text("p.caption")
    finally:
        await server.close()
    assert charts == [1, 1, 1]
    assert drawn >= 3
    assert rows == figure == 2
    assert caption == zh("Overdue inspections of every month")
