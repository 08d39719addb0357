"""The admin site in a real headless Chromium: first log-in to an English dashboard."""

from __future__ import annotations

from aiohttp.test_utils import TestServer

from admin_web.app import AdminConfig, init_app
from domain.models import Role
from domain.people import staff
from locales import translate
from tests.browser_support import browser_page
from tests.factories import ROOT, org_tree, person

NEW_PASSWORD = "Browser-pass-2024"


async def test_first_log_in_then_english_dashboard(database_url: str, chromium: str) -> None:
    ids = await org_tree()
    admin, _ = await person(ids["province"], Role.SYSADMIN, no="S001", name="张伟")
    initial = await staff.grant_web_login(ROOT, admin.id, "zhangwei")
    server = TestServer(init_app(AdminConfig(secret_key="browser-secret")), host="127.0.0.1")
    await server.start_server()
    try:
        async with browser_page(chromium) as page:
            await page.goto(str(server.make_url("/")))
            login_heading = await page.inner_text("h1")
            await page.fill("input[name=username]", "zhangwei")
            await page.fill("input[name=password]", initial)
            await page.click("main form button.primary")
            await page.wait_for_url("**/password")
            await page.fill("input[name=current]", initial)
            await page.fill("input[name=new]", NEW_PASSWORD)
            await page.fill("input[name=repeat]", NEW_PASSWORD)
            await page.click("main form button.primary")
            await page.wait_for_url(str(server.make_url("/")))
            zh_heading = await page.inner_text("h1")
            await page.click("button[value=en]")
            await page.wait_for_selector("html[lang=en]")
            en_heading = await page.inner_text("h1")
            user_shown = await page.is_visible("header >> text=S001 张伟")
    finally:
        await server.close()
    assert login_heading == translate("zh_CN", "Log in")
    assert zh_heading == translate("zh_CN", "Dashboard")
    assert en_heading == "Dashboard"
    assert user_shown
