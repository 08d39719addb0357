"""Polling handles the chats of a batch concurrently, each chat in order, and confirms the
batch only once all of it was handled (issue 14).

A photo whose download (getFile) the fake Bot API holds until the test lets it go stands for
a slow photo: what the other updates of the batch do meanwhile shows the order of handling,
without any timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from bot.telegram import TelegramBot
from bot.telegram.polling import chat_lanes
from domain.models import ProcessedUpdate
from tests.capture_support import ALWAYS, BACK_PROMPT, FRONT_PROMPT, enter_customer, start_case
from tests.case_support import noisy_jpeg
from tests.chat_driver import Chat, running_bot
from tests.fake_telegram import FakeTelegram, Params
from tests.telegram_support import AGENT, Desk, capture_desk

pytestmark = pytest.mark.bot_world("desk")
OTHER = 7399  # another user of the bot, not bound: his /whoami is answered all the same


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Desk:
    return await capture_desk(tmp_path)


class HeldPhoto:
    """Photo updates of the agent whose getFile the fake answers only once released."""

    def __init__(self, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fake = fake
        self.held: set[str] = set()
        self.released = asyncio.Event()
        served = fake._m_getFile

        async def held(params: Params) -> Params:
            if params["file_id"] in self.held:
                await self.released.wait()
            return await served(params)

        monkeypatch.setattr(fake, "_m_getFile", held)

    def photo(self) -> Params:
        """A new photo update of the agent, held until released."""
        update = self.fake.photo(AGENT, noisy_jpeg(0))
        self.held.add(update["message"]["photo"][-1]["file_id"])
        return update


async def at_the_photo_step(chat: Chat) -> None:
    """The agent's case up to its first photo."""
    await start_case(chat)
    await enter_customer(chat)
    assert FRONT_PROMPT in (await chat.location(31.2304, 121.4737)).text


@pytest.fixture
async def held(fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[HeldPhoto]:
    photo = HeldPhoto(fake, monkeypatch)
    yield photo
    photo.released.set()


async def test_a_slow_photo_of_one_chat_does_not_hold_another_chats_whoami(
    chat: Chat, fake: FakeTelegram, held: HeldPhoto
) -> None:
    await at_the_photo_step(chat)
    before = len(fake.texts(AGENT))
    fake.push(held.photo(), fake.message(OTHER, "/whoami", "en"))
    await fake.wait_until(lambda: len(fake.texts(OTHER)) == 1)
    assert len(fake.texts(AGENT)) == before  # the photo is still being downloaded
    held.released.set()
    await fake.wait_until(lambda: len(fake.texts(AGENT)) == before + 1)
    assert BACK_PROMPT in fake.texts(AGENT)[-1]


async def test_the_updates_of_one_chat_stay_in_order_behind_its_slow_photo(
    chat: Chat, fake: FakeTelegram, held: HeldPhoto
) -> None:
    await at_the_photo_step(chat)
    before = len(fake.texts(AGENT))
    fake.push(held.photo(), fake.message(AGENT, "/whoami", "en"),
              fake.message(OTHER, "/whoami", "en"))
    await fake.wait_until(lambda: len(fake.texts(OTHER)) == 1)
    assert len(fake.texts(AGENT)) == before  # its /whoami waits behind its photo
    held.released.set()
    await fake.wait_until(lambda: len(fake.texts(AGENT)) == before + 3)
    photo, whoami, again = fake.texts(AGENT)[before:]
    assert BACK_PROMPT in photo and whoami.startswith("Name: ") and BACK_PROMPT in again


async def test_a_batch_stopped_midway_is_confirmed_only_up_to_its_first_unhandled_update(
    desk: Desk, fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = Chat(fake, AGENT)
    async with running_bot(fake, tmp_path / "media", hours=ALWAYS) as telegram:
        await chat.press("lang:en")
        await at_the_photo_step(chat)
        before = len(fake.texts(AGENT))
        held = HeldPhoto(fake, monkeypatch)
        photo, whoami = held.photo(), fake.message(OTHER, "/whoami", "en")
        whoami_done = handled_signal(telegram, monkeypatch, whoami["update_id"])
        fake.push(photo, whoami)
        await whoami_done.wait()
    held.released.set()
    assert len(fake.texts(AGENT)) == before and len(fake.texts(OTHER)) == 1
    assert max(offsets(fake)) == photo["update_id"]  # confirmed up to the photo, not past it
    handled = await ProcessedUpdate.all().count()
    async with running_bot(fake, tmp_path / "media", hours=ALWAYS):
        await fake.wait_until(lambda: len(fake.texts(AGENT)) == before + 1)
        await Chat(fake, OTHER).say("/help")
    assert BACK_PROMPT in fake.texts(AGENT)[-1]
    assert len(fake.texts(OTHER)) == 2  # the /whoami came again and was not answered twice
    assert await ProcessedUpdate.all().count() == handled + 2  # the photo, then /help


def test_updates_sharing_a_sender_or_a_chat_share_a_lane_in_batch_order() -> None:
    fake = FakeTelegram()
    first, second = fake.message(1, "/a"), fake.message(2, "/b")
    in_group = fake.message(1, "/c")
    in_group["message"] = in_group["message"] | {"chat": {"id": -5, "type": "group"}}
    two_in_group = fake.message(2, "/d")
    two_in_group["message"] = two_in_group["message"] | {"chat": {"id": -5, "type": "group"}}
    third = fake.message(3, "/e")
    lanes = chat_lanes([update(u) for u in (first, second, in_group, two_in_group, third)])
    assert [[u.update_id for u in lane] for lane in lanes] == [
        [first["update_id"], second["update_id"], in_group["update_id"],
         two_in_group["update_id"]],
        [third["update_id"]]]


def handled_signal(telegram: TelegramBot, monkeypatch: pytest.MonkeyPatch,
                   update_id: int) -> asyncio.Event:
    """An event set once the bot's application has handled the update `update_id`."""
    application, done = telegram.application, asyncio.Event()
    process = application.process_update

    async def processed(update: object) -> None:
        await process(update)
        if isinstance(update, Update) and update.update_id == update_id:
            done.set()

    monkeypatch.setattr(application, "process_update", processed)
    return done


def offsets(fake: FakeTelegram) -> list[int]:
    """The offsets the bot confirmed with getUpdates."""
    return [int(call.params.get("offset") or 0) for call in fake.calls
            if call.method == "getUpdates"]


def update(params: dict[str, Any]) -> Update:
    return Update.de_json(params, None)
