"""One poller per bot (issue 14): a second process started in polling mode stops with a clear
message, and Telegram's 409 Conflict ends polling with a log line instead of a loop."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.telegram import TelegramBot
from bot.telegram.polling import POLLER_LEASE, PollingElsewhere
from domain.platform import leases
from fieldops.bootstrap import bootstrap
from fieldops.runtime import StartupError, running
from fieldops.settings import Settings
from tests.bot_support import AGENT, config, say
from tests.factories import flow_context
from tests.fake_telegram import FakeTelegram


def settings_for(fake: FakeTelegram, database_url: str, tmp_path: Path) -> Settings:
    """Settings of a `fieldops run` polling the fake Bot API."""
    return Settings(_env_file=None, database_url=database_url,  # type: ignore[call-arg]
                    media_root=tmp_path / "media", secret_key="k" * 40,
                    data_key="a-test-secret-that-is-long-enough",
                    telegram_bot_token=fake.token, telegram_api_base_url=fake.api_base_url,
                    telegram_file_base_url=fake.file_base_url)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A running fake Bot API server."""
    async with FakeTelegram() as server:
        yield server


async def test_a_second_poller_is_refused_and_the_first_keeps_the_updates(
    database_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    first = TelegramBot(config(fake), flow_context(tmp_path))
    second = TelegramBot(config(fake), flow_context(tmp_path))
    await first.start()
    try:
        with pytest.raises(PollingElsewhere, match="another process polls Telegram") as refused:
            await second.start()
        lease = await leases.holder_of(POLLER_LEASE)
        assert lease is not None and lease.holder in str(refused.value)
        assert "FIELDOPS_WEBHOOK_URL" in str(refused.value)
        assert not second.ready
        assert "/bind" in await say(fake, AGENT, "/whoami")  # answered: not bound yet
    finally:
        await first.stop()
    assert await leases.holder_of(POLLER_LEASE) is None  # released: the next one may poll
    await second.start()
    await second.stop()


async def test_fieldops_run_stops_when_another_process_polls(
    database_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    assert await leases.acquire(POLLER_LEASE, "ops-2:4242:1", timedelta(minutes=1))
    with pytest.raises(StartupError, match="ops-2:4242:1"):
        async with running(bootstrap(settings_for(fake, database_url, tmp_path)), "bot"):
            pytest.fail("a second poller must not run")
    assert not [c for c in fake.calls if c.method == "getUpdates"]


async def test_the_lease_of_a_poller_whose_process_died_here_is_taken_over(
    database_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await child.wait()  # its pid now names a process gone
    gone = child.pid
    assert await leases.acquire(POLLER_LEASE, f"{socket.gethostname()}:{gone}:1",
                                timedelta(minutes=1))
    bot = TelegramBot(config(fake), flow_context(tmp_path))
    await bot.start()
    try:
        assert "/bind" in await say(fake, AGENT, "/whoami")  # answered: not bound yet
    finally:
        await bot.stop()


async def test_409_conflict_ends_polling_with_a_clear_log_line(
    database_url: str, fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next("getUpdates", status=409)
    bot = TelegramBot(config(fake), flow_context(tmp_path))
    with caplog.at_level(logging.ERROR):
        await bot.start()
        try:
            for _ in range(500):
                if "409 Conflict" in caplog.text:
                    break
                await asyncio.sleep(0.01)
            assert await leases.holder_of(POLLER_LEASE) is None
            fake.push(fake.message(AGENT, "/whoami"))
            await asyncio.sleep(0.3)  # a looping poller would fetch it within this time
            assert [c.status for c in fake.calls if c.method == "getUpdates"] == [409]
        finally:
            await bot.stop()
    assert "another program polls this bot's token" in caplog.text
