"""The outbox drain bench (issue 14) at a tiny size, so that it cannot rot: its core drains
notifications through the real bot process wiring to the limit-enforcing fake Bot API. The
figures are the bench's; this checks only what arrived, never how fast. And the fake's limit
mode itself, which the bench's figures rest on."""

from __future__ import annotations

from pathlib import Path

import pytest
from telegram import Bot
from telegram.error import RetryAfter

from bench.outbox_drain import drain_here
from bot.telegram.handlers import retry_after_seconds
from tests.fake_telegram import FakeTelegram, Limits


async def test_the_drain_bench_delivers_each_notification_once_in_order(
    database_url: str, tmp_path: Path
) -> None:
    async with FakeTelegram(limits=Limits()) as fake:
        result = await drain_here(database_url, fake, tmp_path, 5, audit_key="")
    assert (result.losses, result.duplicates, result.out_of_order) == (0, 0, 0)
    assert sorted(a.chat_id for a in fake.accepted) == [str(500_000 + n) for n in range(5)]
    assert "ratio" in result.line()


async def test_the_limit_mode_answers_429_past_telegrams_limits_and_during_a_flood_ban() -> None:
    limits = Limits(per_second=3, window=600, chat_gap=600, retry_after=2)  # speed-proof
    async with FakeTelegram(limits=limits) as fake:
        bot = Bot(fake.token, base_url=fake.api_base_url)
        async with bot:
            await bot.send_message(chat_id=1, text="first")
            with pytest.raises(RetryAfter):  # a second message to the chat within its gap
                await bot.send_message(chat_id=1, text="again")
            await bot.send_message(chat_id=2, text="second chat")
            await bot.send_message(chat_id=3, text="third chat")
            with pytest.raises(RetryAfter) as overall:  # a fourth message within the window
                await bot.send_message(chat_id=4, text="fourth chat")
            assert retry_after_seconds(overall.value) == 2
            fake.flood_ban(60)
            with pytest.raises(RetryAfter) as banned:  # everything, not only messages
                await bot.get_me()
            assert retry_after_seconds(banned.value) == 5
    assert [a.text for a in fake.accepted] == ["first", "second chat", "third chat"]
    assert (fake.rate_refusals, fake.ban_refusals) == (2, 1)
