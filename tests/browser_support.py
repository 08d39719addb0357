"""One headless Chromium per test session, and a fresh browser context per test."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--remote-debugging-port=0"]
START_SECONDS = 30


def start_chromium(profile: Path) -> Iterator[str]:
    """Start the system Chromium once and yield its DevTools address; skipped when it is
    absent unless FIELDOPS_REQUIRE_BROWSER=1."""
    if not CHROMIUM.exists():
        if os.environ.get("FIELDOPS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and FIELDOPS_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is not installed")
    process = subprocess.Popen([str(CHROMIUM), *CHROMIUM_ARGS, f"--user-data-dir={profile}",
                                "about:blank"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{_devtools_port(profile, process)}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _devtools_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    """The port Chromium writes into its profile once DevTools listens."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{CHROMIUM} exited with {process.returncode} at start")
        if marker.exists() and (lines := marker.read_text().splitlines()):
            return int(lines[0])
        time.sleep(0.05)
    pytest.fail(f"{CHROMIUM} did not open DevTools within {START_SECONDS} s")


@asynccontextmanager
async def browser_page(chromium: str) -> AsyncIterator[Page]:
    """A page in a new, isolated browser context (own cookies) of the session's Chromium."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(chromium)
        context = await browser.new_context()
        try:
            yield await context.new_page()
        finally:
            await context.close()
            await browser.close()


async def log_in(page: Page, server: TestServer, username: str, password: str) -> None:
    """Log a user in through the form; he lands on the dashboard."""
    await page.goto(str(server.make_url("/login")))
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("main form button.primary")
    await page.wait_for_url(str(server.make_url("/")))
