"""Web notifications in a real Chromium (issue 16): a reviewer who works only in the browser
sees a new case arrive on the bell while he stays on the dashboard, without a reload."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestServer

from admin_web.app import init_app
from tests.admin_support import CONFIG, PASSWORD, web_login
from tests.browser_support import browser_page
from tests.review_support import build_desk, submitted_case

POLL_MS = 20_000  # admin_web/static/refresh.js


async def test_the_bell_counts_a_case_submitted_in_another_session(
        database_url: str, chromium: str, tmp_path: Path) -> None:
    desk = await build_desk(tmp_path)
    username = await web_login("R001")
    server = TestServer(init_app(CONFIG), host="127.0.0.1")
    await server.start_server()
    try:
        async with browser_page(chromium) as page:
            await page.clock.install()  # the page's timers run when the test says so
            await page.goto(str(server.make_url("/login")))
            await page.fill("input[name=username]", username)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("main form button.primary")
            await page.wait_for_url(str(server.make_url("/")))
            before = await page.inner_text("[data-bell-count]")
            await page.evaluate("window.stillTheSamePage = true")

            case = await submitted_case(desk)  # the agent, in his chat
            await page.clock.run_for(POLL_MS)
            await page.wait_for_function(
                "document.querySelector('[data-bell-count]').textContent === '1'")
            title = await page.title()
            same_page = await page.evaluate("window.stillTheSamePage === true")
            await page.click("a.bell")
            await page.wait_for_url("**/notifications")
            listed = await page.inner_text("table.notices")
    finally:
        await server.close()
    assert before == "0"
    assert same_page and title.startswith("(1) ")
    assert case.case_no in listed
