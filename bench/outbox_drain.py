"""Outbox delivery at Telegram's limits: the real dispatcher against a limit-enforcing Bot API.

Notifications go through the real bot process wiring (`fieldops run --only bot`: the Telegram
bot in webhook mode and the outbox dispatcher) to tests/fake_telegram.py in limit mode, which
answers 429 past 30 messages/s overall or 1 message/s to one chat, as Telegram does (issue 14).
The baseline of each ratio is the platform's minimum, N / 30 s. Scenarios:

- drain-sqlite: N notifications to N chats, one dispatcher in this process on SQLite;
- drain-postgres: the same with two dispatcher processes on PostgreSQL;
- one-chat: 100 notifications to one chat, then one to another: when the other arrives;
- flood-ban: Telegram answers 429 retry_after=5 to everything for 60 s: what is lost;
- idle-sqlite / idle-postgres: notifications enqueued one by one at random moments while the
  dispatcher idles, in this process (SQLite) or from this process to a dispatcher process
  (PostgreSQL): latency from the commit to the arrival, p50 and p99;
- replies-postgres: two bot processes on PostgreSQL, /whoami posted to the webhook of the one
  that does not lead the bot's sending (its reply goes through the outbox to the leader) and
  of the leader (in place): latency from the post to the reply's arrival.

Drain and latency are measured from the commit of the enqueuing transaction to the arrival at
the fake server. Progress goes to stderr.

    .venv/bin/python -m bench.outbox_drain                  # every scenario, the issue's sizes
    .venv/bin/python -m bench.outbox_drain --quick          # small sizes, a smoke run
    .venv/bin/python -m bench.outbox_drain --scenario flood-ban --ban-seconds 10
    .venv/bin/python -m bench.outbox_drain --scenario drain-postgres --latency 2.5  # slow sends
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import random
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
from tortoise.transactions import in_transaction

from domain.models import ChatBinding, OutboxMessage, OutboxStatus, SendLease, Staff
from domain.people import orgs
from domain.platform import audit, outbox
from domain.platform.actors import system_actor
from domain.platform.clock import utcnow
from domain.platform.intents import Intent
from fieldops import db
from fieldops.bootstrap import bootstrap
from fieldops.runtime import running
from fieldops.settings import Settings
from tests.fake_telegram import Accepted, FakeTelegram, Limits

PER_SECOND = 30  # Telegram's overall limit, the baseline of the drain ratio
FIRST_CHAT = 500_000
AUDIT_KEY = "a throwaway key of a throwaway bench database"
HOOK = "https://bench.invalid/telegram/webhook"
WEBHOOK_PATH = "/telegram/webhook"
WEBHOOK_SECRET = "bench-webhook-secret"
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
IDLE_GAP = 0.6  # the longest idle moment before the next enqueue, seconds
STARTED = time.perf_counter()
TEMPLATES: dict[str, str] = {}  # backend → its migrated template database of this run
CODE = Path(__file__).resolve().parents[1]  # the checkout the dispatcher processes run


@dataclass(frozen=True)
class Sizes:
    """How many notifications each scenario sends (and how long the fake takes per send)."""

    drain: int = 1000
    one_chat: int = 100
    flood: int = 100
    ban_seconds: float = 60.0
    idle: int = 200
    latency: float = 0.0


QUICK = Sizes(drain=60, one_chat=10, flood=10, ban_seconds=3.0, idle=10)


@dataclass
class Outcome:
    """What the fake received for one scenario's `expected` texts."""

    name: str
    expected: list[str]
    accepted: list[Accepted]
    seconds: float | None  # None: not a drain (idle latencies are their own figures)
    refusals: int
    extra: dict[str, str] = field(default_factory=dict)
    partial: bool = False  # stopped before everything was due: no losses to count

    @property
    def duplicates(self) -> int:
        """Messages accepted more than once (each extra copy counts)."""
        counts = Counter(a.text for a in self.accepted)
        return sum(n - 1 for text, n in counts.items() if text in set(self.expected))

    @property
    def losses(self) -> int:
        """Expected messages the fake never accepted."""
        return len(set(self.expected) - {a.text for a in self.accepted})

    @property
    def out_of_order(self) -> int:
        """Messages that arrived before an earlier one to the same chat."""
        rank = {text: number for number, text in enumerate(self.expected)}
        last: dict[str, int] = {}
        late = 0
        for arrival in self.accepted:
            number = rank.get(arrival.text)
            if number is None:
                continue
            if number < last.get(arrival.chat_id, -1):
                late += 1
            last[arrival.chat_id] = max(number, last.get(arrival.chat_id, -1))
        return late

    def line(self) -> str:
        """One report line: the scenario's figures."""
        figures = [f"{len(self.expected)} messages" + (
                       "" if self.seconds is None else f" in {self.seconds:.1f} s"),
                   f"429s {self.refusals}", f"duplicates {self.duplicates}",
                   *([] if self.partial else [f"losses {self.losses}"]),
                   f"out of order {self.out_of_order}",
                   *(f"{name} {value}" for name, value in self.extra.items())]
        return f"{self.name:<15} " + "; ".join(figures)


def progress(message: str) -> None:
    """A progress line on stderr with the time since start."""
    print(f"[{time.perf_counter() - STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_settings(url: str, fake: FakeTelegram, workdir: Path,
                     audit_key: str = AUDIT_KEY) -> dict[str, str]:
    """The settings of a `fieldops run --only bot` against the fake, webhook mode (no
    poller), on a free port."""
    return {"database_url": url, "media_root": str(workdir / "media"),
            "web_host": "127.0.0.1", "web_port": str(free_port()),
            "secret_key": "k" * 40, "data_key": "a-bench-secret-that-is-long-enough",
            "audit_key": audit_key, "audit_checkpoint_file": str(workdir / "checkpoints.log"),
            "telegram_bot_token": fake.token, "telegram_api_base_url": fake.api_base_url,
            "telegram_file_base_url": fake.file_base_url, "webhook_url": HOOK,
            "webhook_secret": WEBHOOK_SECRET}


@asynccontextmanager
async def dispatcher_here(url: str, fake: FakeTelegram, workdir: Path,
                          audit_key: str = AUDIT_KEY) -> AsyncIterator[None]:
    """The bot and its dispatcher running in this process, as `fieldops run --only bot`."""
    settings = Settings(_env_file=None,  # type: ignore[call-arg]
                        **process_settings(url, fake, workdir, audit_key))
    async with running(bootstrap(settings), "bot"):
        await fake.wait_until(lambda: bool(fake.webhook), seconds=30)
        yield


@asynccontextmanager
async def dispatcher_processes(count: int, url: str, fake: FakeTelegram,
                               workdir: Path) -> AsyncIterator[dict[int, str]]:
    """`count` processes of `fieldops run --only bot`, up when the block starts, stopped
    (SIGTERM) when it ends; yields their webhook URLs by process id."""
    started = len([c for c in fake.calls if c.method == "setWebhook"])
    processes = []
    hooks: dict[int, str] = {}
    for number in range(count):
        settings = process_settings(url, fake, workdir)
        env = {**os.environ, "PYTHONPATH": str(CODE),
               **{f"FIELDOPS_{name.upper()}": value for name, value in settings.items()}}
        log = (workdir / f"dispatcher-{number}.log").open("w")
        processes.append(await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fieldops.cli", "run", "--only", "bot", cwd=workdir,
            env=env, stdout=log, stderr=log))
        hooks[processes[-1].pid] = f"http://127.0.0.1:{settings['web_port']}{WEBHOOK_PATH}"
    try:
        await fake.wait_until(lambda: len([c for c in fake.calls if c.method == "setWebhook"])
                              >= started + count, seconds=90)
        progress(f"{count} dispatcher process(es) up")
        yield hooks
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for number, process in enumerate(processes):
            try:
                async with asyncio.timeout(30):
                    await process.wait()
            except TimeoutError:
                process.kill()
            if process.returncode not in (0, -signal.SIGTERM):
                log_text = (workdir / f"dispatcher-{number}.log").read_text()[-2000:]
                progress(f"dispatcher {number} ended with {process.returncode}:\n{log_text}")


async def on_server(server: str, statement: str) -> None:
    """Run one statement on the PostgreSQL server (creating or dropping a database)."""
    connection = await asyncpg.connect(server)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def database_url(server: str, name: str) -> str:
    """The URL of database `name` on the PostgreSQL server."""
    return server.rsplit("/", 1)[0] + f"/{name}"


async def migrated_template(backend: str, server: str, workdir: Path) -> str:
    """A database at the latest migration, made once per run for the scenarios to copy:
    a SQLite file in `workdir`, or a PostgreSQL database name."""
    if backend not in TEMPLATES:
        progress(f"migrating a {backend} template database")
        if backend == "sqlite":
            TEMPLATES[backend] = str(workdir / "template.sqlite3")
            url = f"sqlite://{TEMPLATES[backend]}"
        else:
            TEMPLATES[backend] = f"fieldops_bench_{uuid.uuid4().hex[:8]}"
            await on_server(server, f'CREATE DATABASE "{TEMPLATES[backend]}"')
            url = database_url(server, TEMPLATES[backend])
        async with db.opened(url):
            await db.apply_migrations(url)
    return TEMPLATES[backend]


@asynccontextmanager
async def fresh_database(backend: str, server: str, workdir: Path) -> AsyncIterator[str]:
    """A new migrated database, open in this process: a copy of the template, a SQLite file
    in `workdir` or a PostgreSQL database on `server` (dropped afterwards); yields its URL."""
    template = await migrated_template(backend, server, workdir.parent)
    name = ""
    if backend == "sqlite":
        url = f"sqlite://{workdir / 'bench.sqlite3'}"
        shutil.copyfile(template, workdir / "bench.sqlite3")
    else:
        name = f"fieldops_bench_{uuid.uuid4().hex[:8]}"
        await on_server(server, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        url = database_url(server, name)
    try:
        async with db.opened(url):
            yield url
    finally:
        if name:
            await on_server(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def seed_chats(count: int) -> list[int]:
    """`count` staff members, each bound to a Telegram chat of his own; returns their ids
    (the chat of the i-th is FIRST_CHAT + i)."""
    org = await orgs.create_org(system_actor("bench"), code="P1", name="省分行", parent_id=None)
    await Staff.bulk_create([Staff(employee_no=f"B{n}", name=f"Bench{n}", org_id=org.id)
                             for n in range(count)], batch_size=500)
    ids = list(await Staff.filter(employee_no__startswith="B").order_by("id")
               .values_list("id", flat=True))
    now = utcnow()
    await ChatBinding.bulk_create([
        ChatBinding(staff_id=staff_id, channel="telegram", external_user_id=str(FIRST_CHAT + n),
                    chat_id=str(FIRST_CHAT + n), bound_at=now)
        for n, staff_id in enumerate(ids)], batch_size=500)
    return ids  # type: ignore[return-value]


async def enqueue(recipients: list[int], tag: str) -> tuple[list[str], float]:
    """Queue one notification per recipient (in order) in one transaction, each with its
    own text; returns the texts and the monotonic time of the commit."""
    texts = [f"{tag} {number}" for number in range(len(recipients))]
    async with in_transaction():
        for number, recipient in enumerate(recipients):
            await outbox.enqueue(recipient, texts[number],
                                 intent=Intent.of("staff.roles_changed", recipient),
                                 idempotency_key=f"bench:{tag}:{number}", channel="telegram")
    return texts, time.monotonic()


async def delivered(fake: FakeTelegram, texts: list[str], seconds: float,
                    done: Callable[[], bool] | None = None) -> float:
    """Wait (at most `seconds`) until every text arrived, or `done` holds, reporting
    progress; returns the monotonic time of the last arrival so far."""
    wanted = set(texts)

    def arrived() -> int:
        return len(wanted & {a.text for a in fake.accepted})

    async def report() -> None:
        while True:
            await asyncio.sleep(5)
            progress(f"  {arrived()}/{len(texts)} arrived, {fake.refusals} 429s so far")

    reporter = asyncio.create_task(report())
    try:
        await fake.wait_until(done or (lambda: arrived() == len(wanted)), seconds=seconds)
    except TimeoutError:
        progress(f"  gave up waiting after {seconds:.0f} s")
    finally:
        reporter.cancel()
    return max((a.at for a in fake.accepted if a.text in wanted), default=time.monotonic())


def outcome(name: str, fake: FakeTelegram, texts: list[str], seconds: float | None,
            **extra: str) -> Outcome:
    """The scenario's outcome from what the fake recorded."""
    return Outcome(name, texts, list(fake.accepted), seconds, fake.refusals, extra)


def minimum(count: int) -> float:
    """The platform's minimum time to send `count` messages: count / 30 s."""
    return count / PER_SECOND


def drain_extra(fake: FakeTelegram, count: int, committed: float, ended: float
                ) -> dict[str, str]:
    """The drain's ratio against the platform's minimum, and where its time went: the first
    arrival after the commit, the rate from the first arrival to the last, the longest gap
    between two arrivals."""
    arrivals = sorted(a.at for a in fake.accepted)
    seconds = ended - committed
    extra = {"ratio": f"{seconds / minimum(count):.2f} × the minimum ({minimum(count):.1f} s)"}
    if len(arrivals) > 1:
        gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
        extra |= {"first": f"{arrivals[0] - committed:.2f} s",
                  "rate": f"{(len(arrivals) - 1) / (arrivals[-1] - arrivals[0]):.1f}/s",
                  "longest_gap": f"{max(gaps):.2f} s"}
    return extra


async def drain_sqlite(sizes: Sizes, workdir: Path, server: str) -> Outcome:
    """N notifications to N chats, one dispatcher in this process on SQLite."""
    async with fresh_database("sqlite", server, workdir) as url, FakeTelegram(
            limits=Limits(latency=sizes.latency)) as fake:
        return await drain_here(url, fake, workdir, sizes.drain)


async def drain_here(url: str, fake: FakeTelegram, workdir: Path, count: int,
                     audit_key: str = AUDIT_KEY) -> Outcome:
    """The drain with the dispatcher in this process, on an open database (the bench's core,
    which tests/test_outbox_drain.py runs at a tiny size)."""
    recipients = await seed_chats(count)
    async with dispatcher_here(url, fake, workdir, audit_key):
        texts, committed = await enqueue(recipients, "drain")
        progress(f"{count} notifications queued; draining")
        ended = await delivered(fake, texts, minimum(count) * 3 + 30)
    return outcome("drain-sqlite", fake, texts, ended - committed,
                   **drain_extra(fake, count, committed, ended))


async def drain_postgres(sizes: Sizes, workdir: Path, server: str) -> Outcome:
    """N notifications to N chats, two dispatcher processes on PostgreSQL."""
    async with fresh_database("postgres", server, workdir) as url, FakeTelegram(
            limits=Limits(latency=sizes.latency)) as fake:
        recipients = await seed_chats(sizes.drain)
        async with dispatcher_processes(2, url, fake, workdir):
            texts, committed = await enqueue(recipients, "drain")
            progress(f"{sizes.drain} notifications queued; draining")
            ended = await delivered(fake, texts, minimum(sizes.drain) * 3 + 30)
            await asyncio.sleep(3)  # a late second copy would arrive now
        sent = await OutboxMessage.filter(status=OutboxStatus.SENT).count()
        return outcome("drain-postgres", fake, texts, ended - committed, rows_sent=str(sent),
                       **drain_extra(fake, sizes.drain, committed, ended))


async def one_chat(sizes: Sizes, workdir: Path, server: str) -> Outcome:
    """100 notifications to one chat, then one to another: the other's arrival."""
    async with fresh_database("sqlite", server, workdir) as url, FakeTelegram(
            limits=Limits(latency=sizes.latency)) as fake:
        first, other = await seed_chats(2)
        async with dispatcher_here(url, fake, workdir):
            texts, committed = await enqueue([first] * sizes.one_chat + [other], "one-chat")
            progress(f"{sizes.one_chat} notifications to one chat and one to another queued")
            await delivered(fake, texts, sizes.one_chat + 10,
                            done=lambda: any(a.text == texts[-1] for a in fake.accepted))
        arrival = next((a.at for a in fake.accepted if a.text == texts[-1]), None)
        after = "never" if arrival is None else f"{arrival - committed:.2f} s (goal ≤ 1.5 s)"
        result = outcome("one-chat", fake, texts, None, other=after)
        result.partial = True  # stopped once the other chat's message arrived
        return result


async def flood_ban(sizes: Sizes, workdir: Path, server: str) -> Outcome:
    """N notifications to N chats while Telegram bans the bot for a while: what is lost."""
    async with fresh_database("sqlite", server, workdir) as url, FakeTelegram(
            limits=Limits(latency=sizes.latency)) as fake:
        recipients = await seed_chats(sizes.flood)
        async with dispatcher_here(url, fake, workdir):
            fake.flood_ban(sizes.ban_seconds)
            texts, committed = await enqueue(recipients, "flood")
            progress(f"{sizes.flood} notifications queued under a {sizes.ban_seconds:.0f} s ban")
            ended = await delivered(fake, texts, sizes.ban_seconds + minimum(sizes.flood) + 60)
        dead = await OutboxMessage.filter(status=OutboxStatus.DEAD).count()
        return outcome("flood-ban", fake, texts, ended - committed,
                       requests_during_ban=str(fake.ban_refusals), dead_rows=str(dead),
                       after_the_ban=f"{ended - committed - sizes.ban_seconds:.1f} s")


async def idle_latency(fake: FakeTelegram, recipients: list[int], count: int,
                       name: str) -> Outcome:
    """Enqueue `count` notifications one by one, each at a random moment after the previous
    one arrived; the latency of each from its commit to its arrival."""
    latencies: list[float] = []
    texts: list[str] = []
    for number in range(count):
        await asyncio.sleep(random.uniform(0.0, IDLE_GAP))
        recipient = recipients[number % len(recipients)]
        [text], committed = await enqueue([recipient], f"{name} {number}")
        texts.append(text)
        await delivered(fake, [text], 30)
        arrival = next((a.at for a in fake.accepted if a.text == text), None)
        if arrival is not None:
            latencies.append(arrival - committed)
        if number % 50 == 49:
            progress(f"  {number + 1}/{count} idle notifications")
    ordered = sorted(latencies) or [float("nan")]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return outcome(name, fake, texts, None,
                   p50=f"{statistics.median(ordered):.3f} s", p99=f"{p99:.3f} s (goal ≤ 1 s)",
                   worst=f"{ordered[-1]:.3f} s")


async def idle_sqlite(sizes: Sizes, workdir: Path, server: str) -> Outcome:
    """Idle latency with the dispatcher in the enqueuing process (SQLite)."""
    async with fresh_database("sqlite", server, workdir) as url, FakeTelegram(
            limits=Limits(latency=sizes.latency)) as fake:
        recipients = await seed_chats(min(sizes.idle, 200))
        async with dispatcher_here(url, fake, workdir):
            return await idle_latency(fake, recipients, sizes.idle, "idle-sqlite")


async def idle_postgres(sizes: Sizes, workdir: Path, server: str) -> Outcome:
    """Idle latency with the dispatcher in another process than the enqueuer (PostgreSQL)."""
    async with fresh_database("postgres", server, workdir) as url, FakeTelegram(
            limits=Limits(latency=sizes.latency)) as fake:
        recipients = await seed_chats(min(sizes.idle, 200))
        async with dispatcher_processes(1, url, fake, workdir):
            return await idle_latency(fake, recipients, sizes.idle, "idle-postgres")


async def leader_pid() -> int:
    """The process id of the process leading the bot's sending (its lease holder is
    host:pid:dispatcher)."""
    async with asyncio.timeout(30):
        while True:
            lease = await SendLease.get_or_none(name="telegram")
            if lease is not None and lease.holder and lease.expires_at > utcnow():
                return int(lease.holder.split(":")[1])
            await asyncio.sleep(0.1)


async def reply_latency(fake: FakeTelegram, hook: str, chats: list[int]) -> list[float]:
    """Post /whoami from each chat to one worker's webhook, one at a time; the latency of
    each reply from the post to its arrival."""
    latencies = []
    async with aiohttp.ClientSession() as session:
        for chat in chats:
            await asyncio.sleep(random.uniform(0.0, IDLE_GAP))
            before = len(fake.accepted)
            posted = time.monotonic()
            async with session.post(hook, json=fake.message(chat, "/whoami", "en"),
                                    headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
                                    ) as response:
                assert response.status == 200, response.status
            await fake.wait_until(lambda chat=chat, before=before: arrival(
                fake, chat, before) is not None, seconds=30)
            latencies.append((arrival(fake, chat, before) or posted) - posted)
    return latencies


def arrival(fake: FakeTelegram, chat: int, since: int) -> float | None:
    """When the fake accepted the first message to a chat among those after `since`."""
    return next((a.at for a in fake.accepted[since:] if a.chat_id == str(chat)), None)


def percentiles(latencies: list[float]) -> str:
    """p50 / p99 / worst of latencies, in milliseconds."""
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"p50 {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"worst {ordered[-1] * 1000:.0f} ms")


async def replies_postgres(sizes: Sizes, workdir: Path, server: str) -> Outcome:
    """Two bot processes on PostgreSQL: /whoami posted to the one that does not lead the
    bot's sending (its reply goes through the outbox to the leader) and to the leader (in
    place); the latency from the post to the reply's arrival."""
    async with fresh_database("postgres", server, workdir) as url, FakeTelegram(
            limits=Limits(latency=sizes.latency)) as fake:
        await seed_chats(2 * sizes.idle)
        chats = [FIRST_CHAT + n for n in range(2 * sizes.idle)]
        async with dispatcher_processes(2, url, fake, workdir) as hooks:
            leader = await leader_pid()
            [other] = [pid for pid in hooks if pid != leader]
            via_outbox = await reply_latency(fake, hooks[other], chats[:sizes.idle])
            in_place = await reply_latency(fake, hooks[leader], chats[sizes.idle:])
        replies = await OutboxMessage.filter(kind=outbox.REPLY).count()
        result = outcome("replies-postgres", fake, [], None,
                         non_leader=f"{percentiles(via_outbox)} ({replies} through the outbox)",
                         leader=percentiles(in_place))
        result.partial = True
        return result


SCENARIOS = {"drain-sqlite": drain_sqlite, "drain-postgres": drain_postgres,
             "one-chat": one_chat, "flood-ban": flood_ban, "idle-sqlite": idle_sqlite,
             "idle-postgres": idle_postgres, "replies-postgres": replies_postgres}


async def postgres_reachable(server: str) -> bool:
    """Whether the PostgreSQL server answers."""
    try:
        connection = await asyncpg.connect(server, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


async def run_here(names: list[str], sizes: Sizes, server: str) -> list[str]:
    """Run scenarios in this process; returns their report lines."""
    lines = []
    with tempfile.TemporaryDirectory() as directory:
        try:
            for number, name in enumerate(names):
                progress(f"scenario {name}")
                workdir = Path(directory) / str(number)
                workdir.mkdir()
                lines.append((await SCENARIOS[name](sizes, workdir, server)).line())
                progress(lines[-1])
        finally:
            if "postgres" in TEMPLATES:
                await on_server(server, f'DROP DATABASE IF EXISTS "{TEMPLATES["postgres"]}"')
    return lines


async def run_in_child(names: list[str], sizes: Sizes, server: str) -> list[str]:
    """Run scenarios in a new process of this bench (Tortoise caches its queries per
    connection name, so one process stays on one database backend); returns their lines."""
    arguments = [f"--messages={sizes.drain}", f"--one-chat={sizes.one_chat}",
                 f"--flood={sizes.flood}", f"--ban-seconds={sizes.ban_seconds}",
                 f"--idle={sizes.idle}", f"--latency={sizes.latency}", f"--postgres={server}",
                 *(f"--scenario={name}" for name in names)]
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.outbox_drain", *arguments, cwd=CODE,
        stdout=asyncio.subprocess.PIPE)
    output, _ = await child.communicate()
    return output.decode().splitlines()[1:]  # past the heading


async def main(names: list[str], sizes: Sizes, server: str) -> None:
    """Run the scenarios and print one line of figures each."""
    audit.use_keys(AUDIT_KEY)
    logging.basicConfig(level=logging.ERROR)  # each 429 is a warning; the lines count them
    on_postgres = [name for name in names if "postgres" in name]
    if on_postgres and not await postgres_reachable(server):
        progress(f"PostgreSQL at {server} does not answer: its scenarios are skipped")
        names = on_postgres = [name for name in names if "postgres" not in name]
    on_sqlite = [name for name in names if name not in on_postgres]
    if on_sqlite and on_postgres:
        lines = (await run_here(on_sqlite, sizes, server)
                 + await run_in_child(on_postgres, sizes, server))
    else:
        lines = await run_here(names, sizes, server)
    print(f"outbox delivery against Telegram's limits ({PER_SECOND}/s overall, 1/s per chat)")
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                        help="run only these (repeatable); default: all")
    parser.add_argument("--messages", type=int, help="notifications of the drain scenarios")
    parser.add_argument("--one-chat", type=int, help="notifications to the busy chat")
    parser.add_argument("--flood", type=int, help="notifications sent into the flood ban")
    parser.add_argument("--ban-seconds", type=float, help="length of the flood ban")
    parser.add_argument("--idle", type=int, help="notifications of the idle scenarios")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds the fake takes to answer each message (slow sends)")
    parser.add_argument("--postgres", default=os.environ.get("FIELDOPS_TEST_DATABASE_URL")
                        or DEFAULT_SERVER, help="a PostgreSQL server URL to create databases on")
    given = parser.parse_args()
    chosen = QUICK if given.quick else Sizes()
    chosen = Sizes(drain=given.messages or chosen.drain, one_chat=given.one_chat or chosen.one_chat,
                   flood=given.flood or chosen.flood,
                   ban_seconds=given.ban_seconds or chosen.ban_seconds,
                   idle=given.idle or chosen.idle, latency=given.latency)
    asyncio.run(main(given.scenario or list(SCENARIOS), chosen, given.postgres))
