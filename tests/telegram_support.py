"""The Telegram tests' fixtures, a pytest plugin (registered in tests/conftest.py): the fake
Bot API, the FieldOps bot long polling it, the field agent's chat read in English, and the
capture desk most chat tests start from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.telegram import TelegramBot
from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.models import Role, Staff
from tests.bot_support import bound_agent
from tests.capture_support import ALWAYS, KINDS, TYPE
from tests.chat_driver import Chat, running_bot
from tests.factories import operational, org_tree, person
from tests.fake_telegram import FakeTelegram

AGENT = 7301  # the field agent's Telegram account behind the `chat` fixture


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker that names a module's world."""
    config.addinivalue_line("markers", "bot_world(fixture): the fixture to make before the "
                                       "bot answers (the agent bound, his desk)")


@dataclass
class Desk:
    """An org tree with a bound, operational field agent (AGENT) and one business type."""

    ids: dict[str, int]
    agent: Staff
    media_root: Path


async def capture_desk(tmp_path: Path) -> Desk:
    """Make the desk: the org tree, operations management's business type 借记卡开户, and
    field agent F1 陈展业 in outlet a, bound to AGENT, qualified, with his tablet."""
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O1")
    await business_types.create_business_type(
        ops, "DEBIT_CARD", BusinessTypeForm("借记卡开户", TYPE, KINDS))
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1", name="陈展业")
    await bound_agent(agent, AGENT)
    await operational(agent)
    return Desk(ids, agent, tmp_path / "media")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A running fake Bot API server."""
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def bot_world(request: pytest.FixtureRequest) -> object:
    """What must exist before the bot answers: the fixture a module names with
    `pytestmark = pytest.mark.bot_world("desk")`, else nothing."""
    marker = request.node.get_closest_marker("bot_world")
    return request.getfixturevalue(marker.args[0]) if marker else None


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
