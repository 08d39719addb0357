"""Full captures per second through the real bot, with the bare echo bot as baseline.

Each capture is what a field agent does in chat: /new, the business type button, name,
ID number, mobile, three photos (downloaded through getFile, checked, stored in the
evidence store), the risk-hint button and Submit — 10 updates. Several agents capture at
the same time, each waiting for the bot's answer before the next step, as on a phone.
The baseline is a bare python-telegram-bot echo bot answering the same number of updates
in the same run, turned into "captures per second" by the same 10 updates per capture;
rounds alternate which bot goes first (see `bench.bot_throughput`). Photos are checked in
a process pool, as `fieldops.bootstrap` sets it up; the reply pacer's Telegram limits are
lifted as in `bench.bot_throughput`.

Then the agents capture again while another user (a bound ops admin) sends /whoami, one
after the other: the time from sending to the answer is reported (p50, p95), for all of
them and for those sent while a photo was being checked. Last, one agent captures alone
with SQLite tracing every statement: the statements of one capture, and the transaction
control among them (BEGIN, COMMIT, SAVEPOINT, RELEASE, ROLLBACK).

    .venv/bin/python -m bench.capture_throughput --agents 4 --captures 5 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import asynccontextmanager
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from tortoise import connections

from bench.bot_throughput import Rate, echo_rate, in_rounds, report, unpaced
from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.cases.capture_gate import LocationMode, WorkingHours
from domain.models import PhotoKind, Role
from domain.people import binding, orgs, staff
from domain.platform import audit
from domain.platform.actors import actor_for, system_actor
from fieldops.bootstrap import PHOTO_CHECK_WORKERS
from fieldops.db import apply_migrations, close_database, open_database
from tests.chat_driver import Chat, running_bot
from tests.factories import operational
from tests.fake_telegram import FakeTelegram
from tests.test_cases import noisy_jpeg

UPDATES_PER_CAPTURE = 10
FIRST_USER = 9100
PROBE_USER = 9099
PROBE_GAP_SECONDS = 0.02
ALWAYS = WorkingHours(weekdays=frozenset(range(7)), start=clock_time(0, 0),
                      end=clock_time(23, 59, 59))
TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK"})
KINDS = frozenset({PhotoKind.ID_FRONT, PhotoKind.ID_BACK, PhotoKind.ONSITE_WITH_AGENT})


class CheckingPool(ProcessPoolExecutor):
    """The photo-check process pool, counting the checks started and those in flight."""

    def __init__(self) -> None:
        super().__init__(PHOTO_CHECK_WORKERS, mp_context=multiprocessing.get_context("spawn"))
        self._lock = threading.Lock()
        self.started = 0
        self.in_flight = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Submit a check and count it until it is done."""
        with self._lock:
            self.started += 1
            self.in_flight += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future[Any]) -> None:
        with self._lock:
            self.in_flight -= 1


async def seed(agents: int) -> None:
    """An org, one business type with three photo kinds, and bound agents able to capture."""
    root = system_actor("bench")
    org = await orgs.create_org(root, code="P1", name="省分行", parent_id=None)
    ops = await staff.create_staff(root, staff.StaffForm(
        employee_no="O1", name="运营", org_id=org.id, roles=frozenset({Role.OPS_ADMIN})))
    await business_types.create_business_type(
        await actor_for(ops), "DEBIT_CARD", BusinessTypeForm("借记卡开户", "Debit card", KINDS))
    code, _ = await binding.issue_bind_code(root, ops.id)
    await binding.bind_chat("telegram", str(PROBE_USER), str(PROBE_USER), code)
    for n in range(agents):
        agent = await staff.create_staff(root, staff.StaffForm(
            employee_no=f"F{n}", name=f"展业{n}", org_id=org.id,
            roles=frozenset({Role.FIELD_AGENT})))
        code, _ = await binding.issue_bind_code(root, agent.id)
        user = str(FIRST_USER + n)
        await binding.bind_chat("telegram", user, user, code)
        await binding.confirm_pledge(agent.id, "telegram", binding.PLEDGE_VERSION)
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


@asynccontextmanager
async def fieldops_bot(agents: int, pool: CheckingPool) -> AsyncIterator[FakeTelegram]:
    """The FieldOps bot polling a fake Bot API, on a fresh seeded SQLite database."""
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite://{Path(directory) / 'bench.sqlite3'}"
        audit.use_keys("a throwaway key of a throwaway database")
        await open_database(url)
        try:
            await apply_migrations(url)
            await seed(agents)
            async with FakeTelegram() as fake, running_bot(
                fake, Path(directory) / "media", hours=ALWAYS, location_mode=LocationMode.OFF,
                photo_checks=pool,
            ) as bot:
                unpaced(bot)
                yield fake
        finally:
            await close_database()


async def captured(fake: FakeTelegram, agents: int, captures: int,
                   photos: list[bytes]) -> None:
    """Every agent captures `captures` cases, the agents at the same time."""

    async def agent_run(chat: Chat) -> None:
        for _ in range(captures):
            await capture(chat, photos)

    await asyncio.gather(*(agent_run(Chat(fake, FIRST_USER + n)) for n in range(agents)))


async def fieldops_rate(agents: int, captures: int, photos: list[bytes],
                        pool: CheckingPool) -> Rate:
    """Captures per second of the FieldOps bot, and its CPU time per update."""
    async with fieldops_bot(agents, pool) as fake:
        started, cpu = time.perf_counter(), time.process_time()
        await captured(fake, agents, captures, photos)
        count = agents * captures
        return Rate(count / (time.perf_counter() - started),
                    (time.process_time() - cpu) * 1000 / (count * UPDATES_PER_CAPTURE))


async def whoami_latencies(agents: int, captures: int, photos: list[bytes],
                           pool: CheckingPool) -> tuple[list[float], list[float]]:
    """Milliseconds from sending /whoami to its answer while the agents capture: all of
    them, and those during which a photo was being checked."""
    async with fieldops_bot(agents, pool) as fake:
        capturing = asyncio.create_task(captured(fake, agents, captures, photos))
        prober = Chat(fake, PROBE_USER)
        every, during = [], []
        while not capturing.done():
            checks, busy = pool.started, pool.in_flight
            sent = time.perf_counter()
            await prober.say("/whoami")
            took = (time.perf_counter() - sent) * 1000
            every.append(took)
            if busy or pool.started != checks:
                during.append(took)
            await asyncio.sleep(PROBE_GAP_SECONDS)
        await capturing
        return every, during


async def statements_of_one_capture(photos: list[bytes], pool: CheckingPool) -> list[str]:
    """Every SQL statement the bot runs for one capture of one agent alone (SQLite trace),
    the poller's lease and getUpdates bookkeeping included."""
    async with fieldops_bot(1, pool) as fake:
        chat = Chat(fake, FIRST_USER)
        await chat.say("/whoami")  # the chat's session and the bot's warm-up outside the count
        traced: list[str] = []
        connection = connections.get("default")._connection  # type: ignore[attr-defined]
        await connection.set_trace_callback(traced.append)
        await capture(chat, photos)
        await connection.set_trace_callback(None)
        return traced


def statements(traced: list[str]) -> None:
    """How many statements one capture ran, and how many of them were transaction control."""
    control = sum(1 for sql in traced if sql.split(None, 1)[0].upper() in TRANSACTION_CONTROL)
    print(f"one capture ({UPDATES_PER_CAPTURE} updates, one agent alone): {len(traced)} "
          f"statements, {control} of them transaction control, "
          f"{(len(traced) - control) / UPDATES_PER_CAPTURE:.1f} others per update")


def percentiles(label: str, values: list[float]) -> None:
    """p50 and p95 of a list of milliseconds."""
    if len(values) < 2:
        print(f"{label}: too few answers ({len(values)})")
        return
    cuts = statistics.quantiles(values, n=20, method="inclusive")
    print(f"{label}: {len(values)} answers, p50 {statistics.median(values):6.1f} ms, "
          f"p95 {cuts[18]:6.1f} ms, max {max(values):6.1f} ms")


async def main(agents: int, captures: int, rounds: int) -> None:
    """Run both bots in rounds, print their rates, then the /whoami latencies."""
    photos = [noisy_jpeg(seed) for seed in range(3)]
    updates = agents * captures * UPDATES_PER_CAPTURE
    print(f"captures: {agents} agents x {captures} per round ({updates} updates)")
    with CheckingPool() as pool:
        list(pool.map(abs, range(PHOTO_CHECK_WORKERS * 4)))  # workers up before the clock

        async def echo() -> Rate:
            bare = await echo_rate(updates)
            return Rate(bare.per_second / UPDATES_PER_CAPTURE, bare.cpu_ms)

        report(await in_rounds(rounds, lambda: fieldops_rate(agents, captures, photos, pool),
                               echo), "captures")
        every, during = await whoami_latencies(agents, captures, photos, pool)
        traced = await statements_of_one_capture(photos, pool)
    percentiles("/whoami of another user while agents capture", every)
    percentiles("  of those, sent while a photo was being checked", during)
    statements(traced)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--captures", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.agents, arguments.captures, arguments.rounds))
