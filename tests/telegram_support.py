"""The Telegram tests' fixtures, a pytest plugin (registered in tests/conftest.py): the fake
Bot API, the FieldOps bot long polling it, and the field agent's chat read in English."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.telegram import TelegramBot
from tests.capture_support import ALWAYS
from tests.chat_driver import Chat, running_bot
from tests.fake_telegram import FakeTelegram

AGENT = 7301  # the field agent's Telegram account behind the `chat` fixture


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A running fake Bot API server."""
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def bot_world() -> object:
    """What must exist before the bot answers: nothing here; a test module whose chat needs
    its world first (the agent bound, his desk) overrides this fixture with it."""
    return None


@pytest.fixture
async def bot(database_url: str, fake: FakeTelegram, tmp_path: Path, bot_world: object
              ) -> AsyncIterator[TelegramBot]:
    """The FieldOps bot long polling the fake server, once `bot_world` is made: capture open
    at every hour, photos under tmp_path/media."""
    async with running_bot(fake, tmp_path / "media", hours=ALWAYS) as telegram:
        yield telegram


@pytest.fixture
async def chat(bot: TelegramBot, fake: FakeTelegram) -> Chat:
    """The field agent's chat (AGENT), switched to English."""
    chat = Chat(fake, AGENT)
    await chat.press("lang:en")
    return chat
