"""Idle latency (issue 14): a queued message wakes the dispatchers, in the process and, on
PostgreSQL, across processes by LISTEN/NOTIFY, delivered at the commit, with a listener that
connects again after a loss."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from bot.dispatcher import OutboxDispatcher
from bot.telegram import TelegramBot
from domain.models import Role
from domain.people import binding
from domain.platform import outbox, outbox_wake
from domain.platform.intents import Intent
from tests.bot_support import config as bot_config
from tests.factories import ROOT, flow_context, org_tree, person
from tests.fake_telegram import FakeTelegram

AGENT = 7301
GUARD = 10  # seconds: only a failure guard, every wait below ends on an event


class Wakes:
    """Counts the wakes a dispatcher would get; `reached(n)` waits for the n-th."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self._changed.set()

    async def reached(self, count: int) -> None:
        """Wait until `count` wakes came."""
        async with asyncio.timeout(GUARD):
            while self.count < count:
                self._changed.clear()
                await self._changed.wait()


def on_postgres() -> bool:
    """Whether the tests run on PostgreSQL."""
    return connections.get("default").capabilities.dialect == "postgres"


@asynccontextmanager
async def listening() -> AsyncIterator[Wakes]:
    """A subscribed dispatcher's wakes; on PostgreSQL once its listener is connected (it
    wakes once on connecting, for what was queued meanwhile)."""
    wakes = Wakes()
    async with outbox_wake.listening(wakes):
        if on_postgres():
            await wakes.reached(1)
        yield wakes


async def test_a_message_queued_in_a_transaction_wakes_the_dispatcher_when_committed(
    database_url: str,
) -> None:
    async with listening() as wakes:
        before = wakes.count
        async with in_transaction():
            await outbox_wake.queued()
        await wakes.reached(before + 1)


async def test_in_the_process_the_dispatcher_is_woken_again_after_the_commit_moments(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_wake, "RECHECKS", (0.01, 0.02))
    wakes = Wakes()
    async with outbox_wake.listening(wakes):
        outbox_wake.wake_here()
        assert wakes.count == 1
        await wakes.reached(3)


async def test_nothing_is_woken_without_a_subscriber(database_url: str) -> None:
    wakes = Wakes()
    async with outbox_wake.listening(wakes):
        pass
    outbox_wake.wake_here()
    await outbox_wake.queued()
    assert wakes.count == 0


async def notify_from_elsewhere(database_url: str) -> None:
    """NOTIFY as another process queueing a message does, on a connection of its own."""
    other = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        await other.execute(f"NOTIFY {outbox_wake.CHANNEL}")
    finally:
        await other.close()


async def listener_pids(database_url: str) -> list[int]:
    """The server processes of this database's outbox listeners."""
    rows = await connections.get("default").execute_query_dict(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = $1", [outbox_wake.LISTENER_NAME])
    return [row["pid"] for row in rows]


async def test_another_process_wakes_the_dispatcher_and_a_lost_listener_connects_again(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not on_postgres():
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite serves one process (README)")
    monkeypatch.setattr(outbox_wake, "RECONNECT_FIRST", 0.01)
    monkeypatch.setattr(outbox_wake, "wake_here", _no_wake_here)  # only NOTIFY may wake
    async with listening() as wakes:
        await notify_from_elsewhere(database_url)
        await wakes.reached(2)
        [pid] = await listener_pids(database_url)
        await connections.get("default").execute_query(
            "SELECT pg_terminate_backend($1)", [pid])
        await wakes.reached(3)  # connected again: a wake for what was queued meanwhile
        await notify_from_elsewhere(database_url)
        await wakes.reached(4)
    assert await listener_pids(database_url) == []  # closed with the dispatcher


def _no_wake_here() -> None:
    """Stands in for the in-process wake, so that a wake can only come through LISTEN."""




# --- the dispatcher woken -----------------------------------------------------------------


async def test_an_idle_dispatcher_sends_a_queued_notification_at_once_not_at_its_next_poll(
    database_url: str, tmp_path: Path
) -> None:
    ids = await org_tree()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1", name="陈展业")
    code, _ = await binding.issue_bind_code(ROOT, agent.id)
    await binding.bind_chat("telegram", str(AGENT), str(AGENT), code)
    async with FakeTelegram() as fake:
        bot = TelegramBot(bot_config(fake),
                          flow_context(tmp_path))
        await bot.start()
        dispatcher = OutboxDispatcher({"telegram": bot}, poll_seconds=60)
        running = asyncio.create_task(dispatcher.run_forever())
        try:
            for number in range(2):  # the second finds the dispatcher idle for a minute
                async with in_transaction():
                    await outbox.enqueue(agent.id, f"notice {number}",
                                         intent=Intent.of("staff.roles_changed", agent.id),
                                         idempotency_key=f"idle:{number}")
                await fake.wait_until(lambda n=number: f"notice {n}" in fake.texts(AGENT))
        finally:
            dispatcher.stop()
            await running
            await bot.stop()
