"""Bots in webhook mode behind their own aiohttp servers, on one database: the workers of a
deployment with several processes (issue 14)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp import web

from bot.telegram import TelegramBot
from tests.bot_support import config
from tests.capture_support import ALWAYS
from tests.factories import flow_context
from tests.fake_telegram import FakeTelegram

SECRET = "s3cret"


def webhook_bot(fake: FakeTelegram, media_root: Path) -> TelegramBot:
    """A bot in webhook mode against the fake Bot API, unpaced."""
    return TelegramBot(config(fake, webhook_url="https://bot.example/hook",
                              webhook_secret=SECRET), flow_context(media_root, hours=ALWAYS))


async def serve_webhook(telegram: TelegramBot, stack: AsyncExitStack) -> str:
    """Start a bot behind its own aiohttp server until `stack` closes; returns its hook URL."""
    app = web.Application()
    app.router.add_post("/hook", telegram.handle_webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    await telegram.start()
    stack.push_async_callback(telegram.stop)
    return f"http://127.0.0.1:{runner.addresses[0][1]}/hook"


async def until(done: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Poll a condition on the database or the workers (they have no event to wait on)."""
    async with asyncio.timeout(seconds):
        while True:
            if await done():
                return
            await asyncio.sleep(0.02)
