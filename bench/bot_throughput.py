"""Updates per second: the FieldOps bot answering /whoami versus a bare python-telegram-bot echo.

Both bots long-poll the fake Bot API from tests/fake_telegram.py in the same run; the
FieldOps bot works on a fresh, migrated SQLite database in a temporary directory. Each
round runs both, one after the other, and gives their ratio; the rounds alternate which bot
goes first, and the median and spread of the ratios are printed. Beside the rates, the CPU
time of the process per update (`time.process_time`, the fake server included for both)
is a steadier measure on a shared machine.

The bench measures the bot's own handling: the reply pacer's Telegram limits (30 messages a
second, 1 s between two messages to a chat; `bot.pacer`) are lifted, as the echo bot has
none; on Telegram they bound both bots alike.

    .venv/bin/python -m bench.bot_throughput --updates 500 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.pacer import Pacer
from bot.telegram import BotConfig, TelegramBot
from domain.models import Role
from domain.people import binding, orgs, staff
from domain.platform import audit
from domain.platform.actors import system_actor
from fieldops.db import apply_migrations, close_database, open_database
from tests.factories import flow_context
from tests.fake_telegram import FakeTelegram

USER = 9001
# Generous: the machine may be shared; the figures come from the clock, not from this.
WAIT_SECONDS = 300.0


@dataclass(frozen=True)
class Rate:
    """Updates (or captures) per second, and process CPU milliseconds per update."""

    per_second: float
    cpu_ms: float


async def bound_user() -> None:
    """A field agent whose chat account USER is bound."""
    root = system_actor("bench")
    org = await orgs.create_org(root, code="P1", name="省分行", parent_id=None)
    agent = await staff.create_staff(root, staff.StaffForm(
        employee_no="F1", name="陈展业", org_id=org.id, roles=frozenset({Role.FIELD_AGENT})))
    code, _ = await binding.issue_bind_code(root, agent.id)
    await binding.bind_chat("telegram", str(USER), str(USER), code)


async def answered_per_second(fake: FakeTelegram, count: int) -> Rate:
    """Push `count` /whoami updates at once; updates per second until all are answered."""
    started, cpu = time.perf_counter(), time.process_time()
    fake.push(*(fake.message(USER, "/whoami") for _ in range(count)))
    await waited(fake, lambda: len(fake.sent(USER)) >= count)
    return Rate(count / (time.perf_counter() - started),
                (time.process_time() - cpu) * 1000 / count)


async def waited(fake: FakeTelegram, condition: Callable[[], bool]) -> None:
    """Wait until a condition on the fake's calls holds, longer than a test would."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            try:
                await fake.wait_until(condition)
                return
            except TimeoutError:  # the fake's own, shorter wait: go on waiting
                continue


def unpaced(bot: TelegramBot) -> None:
    """Lift Telegram's send limits from the bot's reply pacer (see the module doc)."""
    bot.handlers.pacer = Pacer(per_second=None, chat_gap=0.0, group_gap=0.0)


async def fieldops_rate(count: int) -> Rate:
    """Throughput of the FieldOps bot on a fresh SQLite database."""
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite://{Path(directory) / 'bench.sqlite3'}"
        audit.use_keys("a throwaway key of a throwaway database")
        await open_database(url)
        try:
            await apply_migrations(url)
            await bound_user()
            async with FakeTelegram() as fake:
                bot = TelegramBot(BotConfig(token=fake.token, api_base_url=fake.api_base_url,
                                            file_base_url=fake.file_base_url),
                                  flow_context(Path(directory) / "media"))
                unpaced(bot)
                await bot.start()
                try:
                    return await answered_per_second(fake, count)
                finally:
                    await bot.stop()
        finally:
            await close_database()


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Echo the text back."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(update.effective_message.text or "")


async def echo_rate(count: int) -> Rate:
    """Throughput of a bare python-telegram-bot echo bot."""
    async with FakeTelegram() as fake:
        application = (ApplicationBuilder().token(fake.token).base_url(fake.api_base_url)
                       .base_file_url(fake.file_base_url).build())
        application.add_handler(MessageHandler(filters.TEXT, echo))
        async with application:
            assert application.updater is not None
            await application.updater.start_polling(timeout=10)
            await application.start()
            try:
                return await answered_per_second(fake, count)
            finally:
                await application.updater.stop()
                await application.stop()


async def in_rounds(rounds: int, fieldops: Callable[[], Awaitable[Rate]],
                    echo: Callable[[], Awaitable[Rate]]) -> list[tuple[Rate, Rate]]:
    """Both bots `rounds` times, alternating which goes first."""
    results = []
    for number in range(rounds):
        if number % 2:
            bare = await echo()
            ours = await fieldops()
        else:
            ours = await fieldops()
            bare = await echo()
        results.append((ours, bare))
    return results


def report(results: list[tuple[Rate, Rate]], unit: str) -> None:
    """Each round's rates and ratio, then the median ratio and its spread."""
    for number, (ours, bare) in enumerate(results, 1):
        print(f"round {number}: FieldOps {ours.per_second:8.2f} {unit}/s "
              f"({ours.cpu_ms:6.2f} ms CPU/update), bare PTB echo {bare.per_second:8.2f} "
              f"{unit}/s ({bare.cpu_ms:5.2f} ms CPU/update), ratio "
              f"{ours.per_second / bare.per_second:5.3f}, CPU ratio "
              f"{bare.cpu_ms / ours.cpu_ms:5.3f}")
    ratios = [ours.per_second / bare.per_second for ours, bare in results]
    cpu = [bare.cpu_ms / ours.cpu_ms for ours, bare in results]
    print(f"ratio FieldOps/echo: median {statistics.median(ratios):.3f} "
          f"(spread {min(ratios):.3f}–{max(ratios):.3f}); by CPU per update "
          f"{statistics.median(cpu):.3f} ({min(cpu):.3f}–{max(cpu):.3f})")


async def main(count: int, rounds: int) -> None:
    """Run both bots in rounds and print their rates."""
    print(f"updates: {count} per bot and round")
    report(await in_rounds(rounds, lambda: fieldops_rate(count), lambda: echo_rate(count)),
           "updates")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.updates, arguments.rounds))
