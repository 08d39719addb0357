"""Updates per second: the FieldOps bot answering /whoami versus a bare python-telegram-bot echo.

Both bots long-poll the fake Bot API from tests/fake_telegram.py in the same run; the
FieldOps bot works on a fresh, migrated SQLite database in a temporary directory.

    .venv/bin/python -m bench.bot_throughput --updates 500
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.telegram import BotConfig, TelegramBot
from domain.models import Role
from domain.people import binding, orgs, staff
from domain.platform import audit
from domain.platform.actors import system_actor
from fieldops.db import apply_migrations, close_database, open_database
from tests.factories import flow_context
from tests.fake_telegram import FakeTelegram

USER = 9001


async def bound_user() -> None:
    """A field agent whose chat account USER is bound."""
    root = system_actor("bench")
    org = await orgs.create_org(root, code="P1", name="省分行", parent_id=None)
    agent = await staff.create_staff(root, staff.StaffForm(
        employee_no="F1", name="陈展业", org_id=org.id, roles=frozenset({Role.FIELD_AGENT})))
    code, _ = await binding.issue_bind_code(root, agent.id)
    await binding.bind_chat("telegram", str(USER), str(USER), code)


async def answered_per_second(fake: FakeTelegram, count: int) -> float:
    """Push `count` /whoami updates at once; updates per second until all are answered."""
    started = time.perf_counter()
    fake.push(*(fake.message(USER, "/whoami") for _ in range(count)))
    await fake.wait_until(lambda: len(fake.sent(USER)) >= count)
    return count / (time.perf_counter() - started)


async def fieldops_rate(count: int) -> float:
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


async def echo_rate(count: int) -> float:
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


async def main(count: int) -> None:
    """Run both bots and print their rates."""
    fieldops = await fieldops_rate(count)
    bare = await echo_rate(count)
    print(f"updates:            {count}")
    print(f"FieldOps /whoami:   {fieldops:8.1f} updates/s")
    print(f"bare PTB echo:      {bare:8.1f} updates/s")
    print(f"ratio FieldOps/echo: {fieldops / bare:7.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=500)
    asyncio.run(main(parser.parse_args().updates))
