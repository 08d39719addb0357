"""The admin on a phone (issue 16): in Chromium at 390×844 no page of the demo's main roles
is wider than the screen, and the menu collapses behind its button."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Page

from admin_web.app import init_app
from fieldops.demo import DEMO_PASSWORD
from tests.admin_support import demo_log_in, site_config
from tests.browser_support import browser_page
from tests.page_walk_support import detail_links, list_pages, menu_links

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# Operations management and the system admin open every page between them (with detail
# pages of each kind); the other roles the pages of their menu.
EVERY_PAGE = ("ops", "admin")
OWN_PAGES = ("auditor", "reviewer", "callback", "supervisor", "bizhead", "it")
# Label sheets are laid out for A4 paper (printed, not read on a phone).
PRINT_SHEETS = frozenset({"/labels/boxes", "/labels/tablets"})
WIDTH = "document.documentElement.scrollWidth"


@asynccontextmanager
async def phone_site(media: Path) -> AsyncIterator[tuple[TestServer, TestClient]]:
    """The demo site served to Chromium, and a client that finds the pages of a role."""
    server = TestServer(init_app(site_config(media)), host="127.0.0.1")
    async with TestClient(server) as client:
        yield server, client


async def pages_of(client: TestClient, username: str) -> list[str]:
    """The pages a role opens: every page it may see with detail pages, or its menu."""
    client.session.cookie_jar.clear()
    await demo_log_in(client, username)
    menu = menu_links(await (await client.get("/")).text())
    if username not in EVERY_PAGE:
        return menu
    pages, seen = [], Counter[str]()
    for page in sorted(set(list_pages(client)) - PRINT_SHEETS):
        if html := await html_page(client, page):
            pages.append(page)
            pages += [link for link in detail_links(html, seen) if await html_page(client, link)]
    return list(dict.fromkeys(pages))


async def html_page(client: TestClient, url: str) -> str:
    """The page's HTML when it opens as a page (not a download, not refused), else ""."""
    response = await client.get(url)
    ok = response.status == 200 and response.content_type == "text/html"
    return await response.text() if ok else ""


async def log_in(page: Page, server: TestServer, username: str) -> None:
    """Log a demo user in through the form."""
    await page.goto(str(server.make_url("/login")))
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("main form button.primary")
    await page.wait_for_url(str(server.make_url("/")))


async def too_wide(page: Page, server: TestServer, urls: list[str]) -> dict[str, int]:
    """The pages wider than the phone's screen, with their width."""
    wide = {}
    for url in urls:
        await page.goto(str(server.make_url(url)))
        if (width := await page.evaluate(WIDTH)) > PHONE["width"]:
            wide[url] = width
    return wide


async def test_no_page_is_wider_than_a_phone(every_kind_media: Path, chromium: str) -> None:
    wide: dict[str, dict[str, int]] = {}
    opened = 0
    async with phone_site(every_kind_media) as (server, client):
        for username in EVERY_PAGE + OWN_PAGES:
            urls = await pages_of(client, username)
            opened += len(urls)
            async with browser_page(chromium) as page:
                await page.set_viewport_size(PHONE)
                await log_in(page, server, username)
                wide[username] = await too_wide(page, server, urls)
    assert {user: pages for user, pages in wide.items() if pages} == {}
    assert opened > 100


async def test_the_menu_folds_behind_a_button_on_a_phone(
        every_kind_media: Path, chromium: str) -> None:
    async with phone_site(every_kind_media) as (server, _client):
        async with browser_page(chromium) as page:
            await page.set_viewport_size(PHONE)
            await log_in(page, server, "ops")
            folded = await page.is_visible("nav.nav")
            await page.click("label.menu-button")
            unfolded = await page.locator("nav.nav a").evaluate_all(
                "links => links.filter(a => a.offsetParent !== null).length")
            width = await page.evaluate(WIDTH)
            await page.click("nav.nav a[href='/vouchers']")
            await page.wait_for_url("**/vouchers")
            await page.set_viewport_size(DESKTOP)
            desktop = (await page.is_visible("nav.nav"),
                       await page.is_visible("label.menu-button"))
    assert not folded
    assert unfolded >= 10
    assert width <= PHONE["width"]
    assert desktop == (True, False)
