"""Inbound rate limits: per chat user on the bot, per staff member on the browser chat
(issue 13). A flood is answered "slow down" once and dropped, each update marked processed."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.telegram import TelegramBot
from domain.models import ChatInboundHit, ProcessedUpdate, Role, Staff, WebChatMessage
from domain.platform.chat_limits import SLOW_DOWN, InboundLimit
from domain.platform.clock import utcnow
from locales import translate
from tests.admin_support import admin_site, log_in
from tests.bot_support import AGENT, bound_agent, config
from tests.chat_support import chat_config
from tests.clock_support import SteadyClock
from tests.factories import flow_context, org_tree, person, web_user
from tests.fake_telegram import FakeTelegram
from tests.webchat_support import say as say_in_browser

LIMIT = InboundLimit(events=3, window_seconds=60)
FLOOD = 7
WHOAMI_LEAD = translate("zh_CN", "Name: %(name)s\nEmployee number: %(employee_no)s\n"
                        "Organisation: %(org)s\nRoles: %(roles)s", name="员工F1",
                        employee_no="F1", org="网点a", roles=translate("zh_CN", "Field agent"))


@pytest.fixture
async def agent(database_url: str) -> Staff:
    """A field agent in outlet a."""
    ids = await org_tree()
    row, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    return row


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A running fake Bot API server."""
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(database_url: str, fake: FakeTelegram, tmp_path: Path
              ) -> AsyncIterator[TelegramBot]:
    """The bot with a limit of 3 updates a minute per chat user."""
    telegram = TelegramBot(config(fake, inbound_limit=LIMIT),  # type: ignore[arg-type]
                           flow_context(tmp_path))
    await telegram.start()
    try:
        yield telegram
    finally:
        await telegram.stop()


async def processed(channel: str) -> int:
    """How many updates of a channel are marked processed."""
    return await ProcessedUpdate.filter(channel=channel).count()


async def test_a_flooding_chat_user_is_told_once_and_the_rest_is_dropped(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff, test_clock: SteadyClock
) -> None:
    await bound_agent(agent)
    fake.push(*(fake.message(AGENT, "/whoami") for _ in range(FLOOD)))
    await fake.wait_until(lambda: len(fake.sent(AGENT)) >= LIMIT.events + 1)
    for _ in range(100):
        if await processed("telegram") == FLOOD:
            break
        await asyncio.sleep(0.05)
    assert await processed("telegram") == FLOOD
    slow_down = translate("zh_CN", SLOW_DOWN)
    assert fake.texts(AGENT) == [WHOAMI_LEAD] * LIMIT.events + [slow_down]
    assert await ChatInboundHit.filter(sender=str(AGENT)).count() == LIMIT.events + 1

    test_clock.move_to(utcnow() + timedelta(seconds=LIMIT.window_seconds + 1))
    before = len(fake.sent(AGENT))
    fake.push(fake.message(AGENT, "/whoami"))
    await fake.wait_until(lambda: len(fake.sent(AGENT)) > before)
    assert fake.texts(AGENT)[-1] == WHOAMI_LEAD


async def test_a_flooding_browser_chat_is_told_once_and_the_rest_is_dropped(
    database_url: str, tmp_path: Path, test_clock: SteadyClock
) -> None:
    ids = await org_tree()
    row, username = await web_user(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    site = chat_config(tmp_path)
    site.chat.inbound_limit = LIMIT  # type: ignore[union-attr]
    async with admin_site(site) as client:
        await log_in(client, username)
        pages = [await say_in_browser(client, "/whoami") for _ in range(FLOOD)]
        slow_down = translate("zh_CN", SLOW_DOWN)
        lines = [(line.from_bot, line.text)
                 for line in await WebChatMessage.filter(staff=row).order_by("id")]
        assert lines == [(False, "/whoami"), (True, WHOAMI_LEAD)] * LIMIT.events + [
            (True, slow_down)]
        assert html.unescape(pages[-1]).count(slow_down) == 1
        assert await processed("web-form") == FLOOD

        test_clock.move_to(utcnow() + timedelta(seconds=LIMIT.window_seconds + 1))
        await say_in_browser(client, "/whoami")
        last = await WebChatMessage.filter(staff=row).order_by("-id").first()
        assert last is not None and last.text == WHOAMI_LEAD
