"""The outbox drain bench (issue 14) at a tiny size, so that it cannot rot: its core drains
notifications through the real bot process wiring to the limit-enforcing fake Bot API. The
figures are the bench's; this checks only what arrived, never how fast."""

from __future__ import annotations

from pathlib import Path

from bench.outbox_drain import drain_here
from tests.fake_telegram import FakeTelegram, Limits


async def test_the_drain_bench_delivers_each_notification_once_in_order(
    database_url: str, tmp_path: Path
) -> None:
    async with FakeTelegram(limits=Limits()) as fake:
        result = await drain_here(database_url, fake, tmp_path, 5, audit_key="")
    assert (result.losses, result.duplicates, result.out_of_order) == (0, 0, 0)
    assert sorted(a.chat_id for a in fake.accepted) == [str(500_000 + n) for n in range(5)]
    assert "ratio" in result.line()
