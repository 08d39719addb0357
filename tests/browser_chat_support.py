"""A real admin site with the browser chat on, driven in Chromium as an agent uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp.test_utils import TestServer
from playwright.async_api import Page

from admin_web.app import init_app
from tests.admin_support import PASSWORD
from tests.browser_support import browser_page
from tests.chat_support import chat_config

POLL_WAIT_MS = 10_000


@asynccontextmanager
async def chat_in_browser(chromium: str, tmp_path: Path, username: str
                          ) -> AsyncIterator[Page]:
    """A real admin site with the chat on, and a Chromium page logged in on /chat."""
    server = TestServer(init_app(chat_config(tmp_path)), host="127.0.0.1")
    await server.start_server()
    try:
        async with browser_page(chromium) as page:
            await page.goto(str(server.make_url("/")))
            await page.fill("input[name=username]", username)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("main form button.primary")
            await page.wait_for_url("**/chat")
            yield page
    finally:
        await server.close()


async def send(page: Page, text: str) -> str:
    """Type a message, send it and return the bot's newest answer."""
    await page.fill("form.chat-text input[name=text]", text)
    async with page.expect_navigation():
        await page.click("form.chat-text button")
    return await last_answer(page)


async def tap(page: Page, label: str) -> str:
    """Tap a button under the bot's newest message and return the bot's newest answer."""
    async with page.expect_navigation():
        await page.locator(".bubble.bot").last.get_by_role("button", name=label).click()
    return await last_answer(page)


async def send_photo(page: Page, photo: Path) -> str:
    """Choose a photo file, send it and return the bot's newest answer."""
    await page.set_input_files("form.chat-photo-form input[type=file]", str(photo))
    async with page.expect_navigation():
        await page.click("form.chat-photo-form button")
    return await last_answer(page)


async def last_answer(page: Page) -> str:
    """The text of the bot's newest message."""
    return await page.locator(".bubble.bot .chat-text-body").last.inner_text()
