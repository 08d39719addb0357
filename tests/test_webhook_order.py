"""Webhook workers keep each chat in order (issue 14): two real bots in webhook mode, each
behind its own aiohttp server, on one database; updates of one chat posted to both at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from tortoise.transactions import in_transaction

from bot.flows import ChatRouter, Inbound, Reply
from domain.models import Case, ChatSession
from domain.platform import chat
from tests.capture_support import ID_NUMBER, ID_PROMPT, MOBILE_PROMPT, TYPE
from tests.factories import flow_context
from tests.fake_telegram import FakeTelegram, Params
from tests.telegram_support import AGENT, capture_desk
from tests.webhook_support import SECRET, serve_webhook, webhook_bot

NAME = "张三"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A running fake Bot API server."""
    async with FakeTelegram() as server:
        yield server


@dataclass
class Workers:
    """Two webhook workers of one bot on one database, and the fake Bot API."""

    fake: FakeTelegram
    urls: tuple[str, str]

    async def post(self, worker: int, update: Params) -> int:
        """Deliver an update to one worker's webhook; returns the HTTP status."""
        async with aiohttp.ClientSession() as session, session.post(
            self.urls[worker], json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        ) as response:
            return response.status

    async def say(self, worker: int, update: Params) -> str:
        """Deliver an update to one worker and return the bot's answer."""
        before = len(self.fake.sent(AGENT))
        assert await self.post(worker, update) == 200
        return self.fake.texts(AGENT)[before]


async def webhook_worker(fake: FakeTelegram, media_root: Path, stack: AsyncExitStack) -> str:
    """One bot in webhook mode behind its own aiohttp server; returns its hook URL."""
    return await serve_webhook(webhook_bot(fake, media_root), stack)


@pytest.fixture
async def workers(database_url: str, fake: FakeTelegram, tmp_path: Path
                  ) -> AsyncIterator[Workers]:
    """A bound, operational field agent at the name step of a new case, in English, and two
    webhook workers."""
    await capture_desk(tmp_path)
    async with AsyncExitStack() as stack:
        urls = (await webhook_worker(fake, tmp_path / "media", stack),
                await webhook_worker(fake, tmp_path / "media", stack))
        two = Workers(fake, urls)
        await two.say(0, fake.button(AGENT, "lang:en"))
        await two.post(1, fake.message(AGENT, "/new", "en"))
        buttons = fake.sent(AGENT)[-1].params["reply_markup"]["inline_keyboard"]
        [choice] = [b["callback_data"] for row in buttons for b in row if b["text"] == TYPE]
        assert "full name" in await two.say(0, fake.button(AGENT, choice))
        yield two


async def draft() -> Case:
    """The agent's one case draft (its answers are kept until the mobile completes them)."""
    return await Case.get()


async def test_name_and_id_number_sent_at_once_to_two_workers_land_in_order(
    workers: Workers, fake: FakeTelegram
) -> None:
    name, id_number = fake.message(AGENT, NAME, "en"), fake.message(AGENT, ID_NUMBER, "en")
    assert await asyncio.gather(workers.post(0, name), workers.post(1, id_number)) == [200, 200]
    asked = fake.texts(AGENT)[-2:]
    assert ID_PROMPT in asked[0] and MOBILE_PROMPT in asked[1]
    answers = (await draft()).customer_answers
    assert answers["name"] == NAME and "id" in answers


async def test_a_worker_given_the_later_update_first_waits_for_the_earlier_one(
    workers: Workers, fake: FakeTelegram
) -> None:
    name, id_number = fake.message(AGENT, NAME, "en"), fake.message(AGENT, ID_NUMBER, "en")

    async def name_a_little_later() -> int:
        await asyncio.sleep(0.1)
        return await workers.post(0, name)

    assert await asyncio.gather(workers.post(1, id_number), name_a_little_later()) == [200, 200]
    asked = fake.texts(AGENT)[-2:]
    assert ID_PROMPT in asked[0] and MOBILE_PROMPT in asked[1]
    answers = (await draft()).customer_answers
    assert answers["name"] == NAME and "id" in answers


# --- the rules underneath: waiting for the chat's turn, the lock on its session ----------


async def test_an_update_waits_for_the_earlier_ones_of_its_chat_only(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for update_id, sender in ((10, "a"), (11, "b")):
        await chat.register_inbound("telegram", update_id, sender)
    await chat.register_inbound("telegram", 12, "a")
    assert await chat.await_turn("telegram", 11, "b")  # chat a's update 10 holds nothing
    turn = asyncio.create_task(chat.await_turn("telegram", 12, "a"))
    await asyncio.sleep(0.1)
    assert not turn.done()  # 10 of the same chat is not handled yet
    await chat.inbound_handled("telegram", 10)
    assert await turn
    monkeypatch.setattr(chat, "TURN_WAIT", timedelta(milliseconds=100))
    await chat.register_inbound("telegram", 13, "a")
    assert not await chat.await_turn("telegram", 14, "a")  # 13 never handled: it goes on


async def test_a_second_update_reads_the_step_the_first_left_under_the_chat_lock(
    database_url: str, tmp_path: Path
) -> None:
    router = ChatRouter(flow_context(tmp_path), "en")
    await ChatSession.create(channel="telegram", external_user_id="9", chat_id="9")
    locked = asyncio.Event()

    async def second_update() -> list[Reply]:
        await locked.wait()
        return await router.handle(Inbound.message("telegram", "2", "9", "9", "NOT-A-CODE"))

    second = asyncio.create_task(second_update())  # outside the first one's transaction
    async with in_transaction():  # the first update, holding the chat while it works
        session = await ChatSession.select_for_update().get(external_user_id="9")
        locked.set()
        await asyncio.sleep(0.3)
        await chat.save_step(session, "account", "awaiting_bind_code", {})
    replies = await second
    assert replies[0].text == "This bind code is not valid. Check it or ask for a new one."
