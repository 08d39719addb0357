"""The review queue's saved views: claimed by me, waiting for my second approval, unclaimed,
overdue, decided today (business day in Shanghai), their counts, decided rows, bulk claim
(C8, S1, S2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestServer

from admin_web.app import init_app
from domain.cases import review_queue
from domain.cases.review_queue import QueueFilters, QueueView
from domain.models import AuditLog, Case, CaseStatus
from domain.platform.paging import PageRequest
from tests.admin_support import CONFIG, PASSWORD, web_login, zh
from tests.browser_support import browser_page, log_in
from tests.clock_support import SteadyClock
from tests.queue_support import SHOWING, QueueDesk, queue_desk, seed_cases, signed_in

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 07:30 in Shanghai is still the evening before in UTC: a day counted in UTC would take
# yesterday's 23:50 decision for today's.
NOW = datetime(2026, 12, 9, 7, 30, tzinfo=SHANGHAI).astimezone(UTC)


def shanghai(day: int, hour: int, minute: int) -> datetime:
    """A moment of December 2026, business time."""
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Queue:
    """One case of each kind the views tell apart, by name."""

    desk: QueueDesk
    cases: dict[str, Case]


@pytest.fixture
async def queue(database_url: str, test_clock: SteadyClock) -> Queue:
    test_clock.move_to(NOW)
    desk = await queue_desk()
    me, other = desk.reviewer.staff_id, desk.second.staff_id
    recent = [NOW - timedelta(minutes=5)]
    plan: dict[str, tuple[list[datetime], dict[str, object]]] = {
        "mine": (recent, {"status": CaseStatus.IN_REVIEW, "claimed_by_id": me}),
        "theirs": (recent, {"status": CaseStatus.IN_REVIEW, "claimed_by_id": other}),
        "fresh": (recent, {}),
        "late": ([NOW - timedelta(minutes=45)], {}),
        "second": (recent, {"status": CaseStatus.IN_REVIEW, "first_approved_by_id": other,
                            "business_type_id": desk.four_eyes_type_id}),
        "first_mine": (recent, {"status": CaseStatus.IN_REVIEW, "first_approved_by_id": me,
                                "business_type_id": desk.four_eyes_type_id}),
        "early_today": ([shanghai(8, 23, 40)], {"status": CaseStatus.APPROVED,
                                                 "decided_at": shanghai(9, 0, 10),
                                                 "claimed_by_id": me}),
        "late_today": ([shanghai(9, 5, 0)], {"status": CaseStatus.REJECTED,
                                              "decided_at": shanghai(9, 7, 0)}),
        "yesterday": ([shanghai(8, 23, 0)], {"status": CaseStatus.APPROVED,
                                              "decided_at": shanghai(8, 23, 50)}),
    }
    cases = {name: (await seed_cases(desk, name.upper(), moments, **values))[0]
             for name, (moments, values) in plan.items()}
    return Queue(desk, cases)


async def view_of(queue: Queue, view: QueueView | None, *, second: bool = False) -> list[str]:
    """Case numbers of one view, in the queue's order, for R001 (or R002)."""
    actor = queue.desk.second if second else queue.desk.reviewer
    page = await review_queue.queue_page(actor, QueueFilters(view=view), PageRequest(),
                                         NOW, zone=SHANGHAI)
    return [row.case_no for row in page.rows]


def numbers(queue: Queue, *names: str) -> list[str]:
    """The case numbers of named cases."""
    return [queue.cases[name].case_no or "" for name in names]


async def test_each_view_holds_its_cases_and_counts_them(queue: Queue) -> None:
    assert await view_of(queue, QueueView.MINE) == numbers(queue, "mine")
    assert await view_of(queue, QueueView.MINE, second=True) == numbers(queue, "theirs")
    assert await view_of(queue, QueueView.SECOND) == numbers(queue, "second")
    assert await view_of(queue, QueueView.SECOND, second=True) == numbers(queue, "first_mine")
    assert sorted(await view_of(queue, QueueView.UNCLAIMED)) == sorted(numbers(
        queue, "fresh", "late", "second", "first_mine"))
    assert await view_of(queue, QueueView.OVERDUE) == numbers(queue, "late")
    counts = await review_queue.view_counts(queue.desk.reviewer, QueueFilters(), NOW,
                                            zone=SHANGHAI)
    assert counts == {view: len(await view_of(queue, view)) for view in QueueView}
    assert counts[QueueView.DECIDED_TODAY] == 2


async def test_decided_today_is_the_shanghai_day_newest_first(queue: Queue) -> None:
    assert await view_of(queue, QueueView.DECIDED_TODAY) == numbers(
        queue, "late_today", "early_today")
    page = await review_queue.queue_page(queue.desk.reviewer, QueueFilters(
        view=QueueView.DECIDED_TODAY), PageRequest(), NOW, zone=SHANGHAI)
    assert [row.seconds_taken for row in page.rows] == [2 * 3600, 30 * 60]


async def test_counts_follow_the_type_filter(queue: Queue) -> None:
    counts = await review_queue.view_counts(queue.desk.reviewer, QueueFilters(
        business_type_id=queue.desk.four_eyes_type_id), NOW, zone=SHANGHAI)
    assert counts[QueueView.UNCLAIMED] == 2 and counts[QueueView.OVERDUE] == 0


async def test_decided_rows_show_time_taken_and_no_release(queue: Queue) -> None:
    async with signed_in("R001") as client:
        decided = await (await client.get("/cases?view=decided_today")).text()
        mine = await (await client.get("/cases?view=mine")).text()
    assert all(number in decided for number in numbers(queue, "late_today", "early_today"))
    assert numbers(queue, "yesterday")[0] not in decided
    assert zh("took %(minutes)s min", minutes=30) in decided
    assert zh("took %(hours)s h %(minutes)s min", hours=2, minutes=0) in decided
    assert "/release" not in decided and "/claim" not in decided.split("<tbody>")[1]
    assert f'/cases/{queue.cases["mine"].id}/release' in mine
    tab = re.search(r'view=decided_today"[^>]*>[^<]*<span class="count">(\d+)</span>', decided)
    assert tab and tab.group(1) == "2"


async def test_bulk_claim_reports_each_case(queue: Queue) -> None:
    chosen = [queue.cases[name] for name in ("fresh", "theirs", "late")]
    async with signed_in("R001") as client:
        page = await (await client.get("/cases?view=unclaimed")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        posted = await client.post("/cases/claim", allow_redirects=False, data=[
            *(("ids", str(case.id)) for case in chosen), ("next", "/cases?view=unclaimed"),
            ("csrf_token", token.group(1))])
        assert posted.status == 303 and posted.headers["Location"] == "/cases?view=unclaimed"
        shown = await (await client.get(posted.headers["Location"])).text()
        again = await (await client.get("/cases?view=unclaimed")).text()
    listed = shown.split("bulk-results")[1].split("</section>")[0]
    outcome = {label: state for state, label in re.findall(
        r'class="bulk-item (done|refused)">.*?<strong>([^<]+)</strong>', listed)}
    fresh, theirs, late = (case.case_no or "" for case in chosen)
    assert outcome == {fresh: "done", theirs: "refused", late: "done"}
    assert "审核乙" in listed and "bulk-results" not in again
    claimed = await Case.filter(id__in=[c.id for c in chosen]).values_list("claimed_by_id",
                                                                           flat=True)
    me, other = queue.desk.reviewer.staff_id, queue.desk.second.staff_id
    assert sorted(claimed) == sorted([me, other, me])
    audited = await AuditLog.filter(action="case.claimed").values_list("object_id", flat=True)
    assert sorted(audited) == sorted([str(chosen[0].id), str(chosen[2].id)])


async def test_in_chromium_tabs_switch_views_and_the_pager_pages_on(queue: Queue,
                                                                    chromium: str) -> None:
    many = await seed_cases(queue.desk, "MANY", [NOW - timedelta(minutes=10)] * 55)
    username = await web_login("R001")
    server = TestServer(init_app(CONFIG), host="127.0.0.1")
    await server.start_server()
    try:
        async with browser_page(chromium) as page:
            await log_in(page, server, username, PASSWORD)
            await page.goto(str(server.make_url("/cases")))
            await page.click(f"nav.views a:has-text('{zh('Claimed by me')}')")
            await page.wait_for_url("**/cases?view=mine")
            mine = await page.inner_text("table.queue tbody")
            await page.click(f"nav.views a:has-text('{zh('Unclaimed')}')")
            await page.wait_for_url("**/cases?view=unclaimed")
            first = await page.inner_text("table.queue tbody")
            await page.click("nav.pager a[rel=next]")
            await page.wait_for_url("**/cases?view=unclaimed&cursor=*")
            second = await page.inner_text("table.queue tbody")
            showing = await page.inner_text("nav.pager .count")
    finally:
        await server.close()
    assert queue.cases["mine"].case_no in mine and queue.cases["fresh"].case_no not in mine
    assert many[0].case_no in first and many[-1].case_no in second
    assert many[-1].case_no not in first and many[0].case_no not in second
    assert showing == zh(SHOWING, first=51, last=59, total=59)
