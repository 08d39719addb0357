"""One send budget per bot for replies too (issue 14): two webhook workers, each with its
outbox dispatcher, on one database; the worker whose dispatcher does not lead the bot's
sending hands its replies to the outbox and the leader sends them, through its pacer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from bot.dispatcher import OutboxDispatcher
from bot.telegram import TelegramBot
from domain.models import ChatBinding, OutboxMessage, Role
from domain.platform import outbox
from domain.platform.intents import Intent
from domain.platform.outbox import REPLY
from tests.bot_support import bound_agent
from tests.factories import org_tree, person
from tests.fake_telegram import FakeTelegram, Params
from tests.outbox_support import counted_dispatcher
from tests.webhook_support import SECRET, serve_webhook, until, webhook_bot

AGENT = 7301
NOTICE = "Send your bind code."


@dataclass
class Worker:
    """A webhook worker with its dispatcher; `starts` are the chats its pacer let a message
    start to (the sends of this process)."""

    url: str
    dispatcher: OutboxDispatcher
    starts: list[str] = field(default_factory=list)

    @property
    def leading(self) -> bool:
        """Whether this worker's dispatcher leads the bot's sending."""
        return self.dispatcher.lanes["telegram"].leading

    async def post(self, update: Params) -> None:
        """Deliver an update to this worker's webhook."""
        async with aiohttp.ClientSession() as session, session.post(
            self.url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        ) as response:
            assert response.status == 200


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A running fake Bot API server."""
    async with FakeTelegram() as server:
        yield server


async def worker(fake: FakeTelegram, media_root: Path, stack: AsyncExitStack,
                 monkeypatch: pytest.MonkeyPatch) -> Worker:
    """A webhook worker and its dispatcher running until `stack` closes."""
    telegram: TelegramBot = webhook_bot(fake, media_root)
    url = await serve_webhook(telegram, stack)
    starts: list[str] = []
    dispatcher = await counted_dispatcher("telegram", telegram, starts, stack, monkeypatch)
    return Worker(url, dispatcher, starts)


@pytest.fixture
async def workers(database_url: str, fake: FakeTelegram, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Worker, Worker]]:
    """A bound field agent; the leading worker and the other one."""
    ids = await org_tree()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1", name="陈展业")
    await bound_agent(agent, AGENT)
    async with AsyncExitStack() as stack:
        two = [await worker(fake, tmp_path / "media", stack, monkeypatch) for _ in range(2)]

        async def elected() -> bool:  # and both asked for the lead once: both run
            lanes = [one.dispatcher.lanes["telegram"] for one in two]
            return any(one.leading for one in two) and all(lane.lease for lane in lanes)

        await until(elected)
        leader, other = two if two[0].leading else two[::-1]
        yield leader, other


async def replies_sent(fake: FakeTelegram, count: int) -> list[str]:
    """The texts sent to the agent, once there are `count` of them."""
    await fake.wait_until(lambda: len(fake.sent(AGENT)) >= count)
    return fake.texts(AGENT)


async def test_the_worker_that_does_not_lead_hands_its_replies_to_the_leader(
    workers: tuple[Worker, Worker], fake: FakeTelegram
) -> None:
    leader, other = workers
    await other.post(fake.message(AGENT, "/whoami", "en"))
    [answer] = await replies_sent(fake, 1)
    assert "陈展业" in answer and "F1" in answer
    assert other.starts == [] and leader.starts == [str(AGENT)]
    assert await OutboxMessage.filter(kind=REPLY).count() == 1  # through the outbox
    await leader.post(fake.message(AGENT, "/whoami", "en"))
    assert (await replies_sent(fake, 2))[1] == answer
    assert other.starts == [] and leader.starts == [str(AGENT)] * 2
    assert await OutboxMessage.filter(kind=REPLY).count() == 1  # the leader's own: in place


async def test_a_reply_never_overtakes_a_message_still_waiting_for_its_chat(
    workers: tuple[Worker, Worker], fake: FakeTelegram
) -> None:
    leader, other = workers
    agent_id = (await ChatBinding.get(external_user_id=str(AGENT))).staff_id  # type: ignore[attr-defined]
    fake.fail_next("sendMessage", status=500)
    await outbox.enqueue(agent_id, NOTICE, intent=Intent.of("staff.roles_changed", agent_id),
                         idempotency_key="first")
    await fake.wait_until(lambda: any(c.status == 500 for c in fake.calls))
    await leader.post(fake.message(AGENT, "/whoami", "en"))  # the notice waits for its retry
    await other.post(fake.message(AGENT, "/whoami", "en"))
    texts = await replies_sent(fake, 3)
    assert texts[0] == NOTICE and "陈展业" in texts[1] and texts[2] == texts[1]
    assert other.starts == []

