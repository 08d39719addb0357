"""Full captures per second through the real bot, with the bare echo bot as baseline.

Each capture is what a field agent does in chat: /new, the business type button, name,
ID number, mobile, three photos (downloaded through getFile, checked, stored in the
evidence store), the risk-hint button and Submit — 10 updates. Several agents capture at
the same time, each waiting for the bot's answer before the next step, as on a phone.
The baseline is a bare python-telegram-bot echo bot answering the same number of updates
in the same run, turned into "captures per second" by the same 10 updates per capture.

    .venv/bin/python -m bench.capture_throughput --agents 4 --captures 5
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import time as clock_time
from pathlib import Path

from bench.bot_throughput import echo_rate
from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.cases.capture_gate import LocationMode, WorkingHours
from domain.models import PhotoKind, Role
from domain.people import binding, orgs, staff
from domain.platform import audit
from domain.platform.actors import actor_for, system_actor
from fieldops.db import apply_migrations, close_database, open_database
from tests.chat_driver import Chat, running_bot
from tests.factories import operational
from tests.fake_telegram import FakeTelegram
from tests.test_cases import noisy_jpeg

UPDATES_PER_CAPTURE = 10
FIRST_USER = 9100
ALWAYS = WorkingHours(weekdays=frozenset(range(7)), start=clock_time(0, 0),
                      end=clock_time(23, 59, 59))
KINDS = frozenset({PhotoKind.ID_FRONT, PhotoKind.ID_BACK, PhotoKind.ONSITE_WITH_AGENT})


async def seed(agents: int) -> None:
    """An org, one business type with three photo kinds, and bound agents able to capture."""
    root = system_actor("bench")
    org = await orgs.create_org(root, code="P1", name="省分行", parent_id=None)
    ops = await staff.create_staff(root, staff.StaffForm(
        employee_no="O1", name="运营", org_id=org.id, roles=frozenset({Role.OPS_ADMIN})))
    await business_types.create_business_type(
        await actor_for(ops), "DEBIT_CARD", BusinessTypeForm("借记卡开户", "Debit card", KINDS))
    for n in range(agents):
        agent = await staff.create_staff(root, staff.StaffForm(
            employee_no=f"F{n}", name=f"展业{n}", org_id=org.id,
            roles=frozenset({Role.FIELD_AGENT})))
        code, _ = await binding.issue_bind_code(root, agent.id)
        user = str(FIRST_USER + n)
        await binding.bind_chat("telegram", user, user, code)
        await operational(agent)


async def capture(chat: Chat, photos: list[bytes]) -> None:
    """One full capture, every step answered before the next."""
    types = await chat.say("/new")
    await chat.press(next(iter(types.buttons.values())))
    for text in ("张三", "11010519491231002X", "13812345678"):
        await chat.say(text)
    said = None
    for photo in photos:
        said = await chat.photo(photo)
    assert said is not None
    summary = await chat.press(next(d for d in said.buttons.values() if d.startswith("cap:risk")))
    submitted = await chat.press(next(d for d in summary.buttons.values()
                                      if d.startswith("cap:submit")))
    if "YD" not in submitted.text:
        raise RuntimeError(f"capture did not submit: {submitted.text}")


async def fieldops_rate(agents: int, captures: int, photos: list[bytes]) -> float:
    """Captures per second of the FieldOps bot on a fresh SQLite database."""
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite://{Path(directory) / 'bench.sqlite3'}"
        audit.use_keys("a throwaway key of a throwaway database")
        await open_database(url)
        try:
            await apply_migrations(url)
            await seed(agents)
            async with FakeTelegram() as fake, running_bot(
                fake, Path(directory) / "media", hours=ALWAYS, location_mode=LocationMode.OFF
            ):
                chats = [Chat(fake, FIRST_USER + n) for n in range(agents)]

                async def agent_run(chat: Chat) -> None:
                    for _ in range(captures):
                        await capture(chat, photos)

                started = time.perf_counter()
                await asyncio.gather(*(agent_run(chat) for chat in chats))
                return agents * captures / (time.perf_counter() - started)
        finally:
            await close_database()


async def main(agents: int, captures: int) -> None:
    """Run both bots and print their rates."""
    photos = [noisy_jpeg(seed) for seed in range(3)]
    fieldops = await fieldops_rate(agents, captures, photos)
    bare = await echo_rate(agents * captures * UPDATES_PER_CAPTURE) / UPDATES_PER_CAPTURE
    print(f"captures:                 {agents} agents x {captures}")
    print(f"FieldOps full captures:   {fieldops:8.2f} captures/s")
    print(f"bare PTB echo (10 upd):   {bare:8.2f} captures/s")
    print(f"ratio FieldOps/echo:      {fieldops / bare:8.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--captures", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.agents, arguments.captures))
