"""Telegram test helpers: bound agents, the dispatcher against the fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from bot.dispatcher import OutboxDispatcher
from bot.telegram import BotConfig, TelegramBot
from domain.models import Staff
from domain.people import binding
from tests.factories import ROOT
from tests.fake_telegram import FakeTelegram

AGENT = 7001
NOT_BOUND = ("This chat account is not bound yet. Ask your administrator for a bind code, "
             "then send /bind followed by the code.")


# The bot's send budget is tested on its own (tests/test_send_budget.py); elsewhere a
# conversation with the fake Bot API does not wait Telegram's real second between replies.
UNPACED: dict[str, Any] = {"per_second": None, "chat_gap_seconds": 0.0,
                           "group_gap_seconds": 0.0}


def config(fake: FakeTelegram, **extra: Any) -> BotConfig:
    """Bot settings pointing at the fake server, unpaced unless `extra` says otherwise."""
    return BotConfig(token=fake.token, api_base_url=fake.api_base_url,
                     file_base_url=fake.file_base_url, poll_timeout_seconds=1,
                     **{**UNPACED, **extra})


async def code_for(member: Staff) -> str:
    """A fresh bind code for a staff member."""
    code, _ = await binding.issue_bind_code(ROOT, member.id)
    return code


async def say(fake: FakeTelegram, user: int, text: str, language_code: str | None = None
              ) -> str:
    """Send a text as a user and return the bot's answer."""
    return await _answer(fake, user, fake.message(user, text, language_code))


async def press(fake: FakeTelegram, user: int, data: str) -> str:
    """Press a button as a user and return the bot's answer."""
    return await _answer(fake, user, fake.button(user, data))


async def _answer(fake: FakeTelegram, user: int, update: dict) -> str:
    before = len(fake.sent(user))
    fake.push(update)
    await fake.wait_until(lambda: len(fake.sent(user)) > before)
    return fake.texts(user)[before]


async def bound_agent(member: Staff, user: int = AGENT) -> None:
    """Bind a staff member's chat account directly through the domain."""
    await binding.bind_chat("telegram", str(user), str(user), await code_for(member))


def dispatcher_for(bot: TelegramBot, **settings: float) -> OutboxDispatcher:
    """A dispatcher sending through the bot, with fast backoff settings."""
    return OutboxDispatcher({"telegram": bot}, poll_seconds=0.05, backoff_seconds=0.05,
                            default_locale="zh_CN", **settings)  # type: ignore[arg-type]


async def dispatching(bot: TelegramBot, until: Callable[[], Awaitable[bool]],
                      **settings: float) -> None:
    """Run dispatch rounds until a condition holds."""
    dispatcher = dispatcher_for(bot, **settings)
    async with asyncio.timeout(10):
        while not await until():
            await dispatcher.run_once()
            await asyncio.sleep(0.05)
