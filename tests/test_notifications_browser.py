"""Web notifications in a real Chromium (issue 16): a reviewer who works only in the browser
sees a new case arrive on the bell while he stays on the dashboard, and in the review queue,
without a reload and without losing the boxes he ticked."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from admin_web.app import init_app
from tests.admin_support import CONFIG, PASSWORD, web_login
from tests.browser_support import browser_page, log_in
from tests.review_support import build_desk, submitted_case

POLL_MS = 20_000  # admin_web/static/refresh.js


async def test_a_reviewer_in_the_browser_sees_new_cases_arrive_without_a_reload(
        database_url: str, chromium: str, tmp_path: Path) -> None:
    desk = await build_desk(tmp_path)
    username = await web_login("R001")
    server = TestServer(init_app(CONFIG), host="127.0.0.1")
    await server.start_server()
    try:
        async with browser_page(chromium) as page:
            await page.clock.install()  # the page's timers run when the test says so
            await log_in(page, server, username, PASSWORD)
            before = await page.inner_text("[data-bell-count]")
            await page.evaluate("window.stillTheSamePage = true")

            first = await submitted_case(desk)  # the agent, in his chat
            await page.clock.run_for(POLL_MS)
            await expect(page.locator("[data-bell-count]")).to_have_text("1")
            title = await page.title()
            same_page = await page.evaluate("window.stillTheSamePage === true")
            await page.click("a.bell")
            await page.wait_for_url("**/notifications")
            listed = await page.inner_text("table.notices")

            await page.goto(str(server.make_url("/cases")))
            tick = f"table.queue input[type=checkbox][value='{first.id}']"
            await page.check(tick)  # half-way through a bulk claim
            second = await submitted_case(desk, seed=1)
            await page.clock.run_for(POLL_MS)
            await expect(page.locator("[data-bell-count]")).to_have_text("2")
            kept = await page.is_checked(tick)
            rows_while_ticked = await page.inner_text("table.queue")
            await page.uncheck(tick)
            await page.clock.run_for(POLL_MS)
            await page.wait_for_selector(f"table.queue >> text={second.case_no}")
    finally:
        await server.close()
    assert before == "0"
    assert same_page and title.startswith("(1) ")
    assert first.case_no in listed
    assert kept and second.case_no not in rows_while_ticked
