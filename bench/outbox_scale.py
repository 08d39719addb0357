"""The outbox at a million sent rows: the dispatcher's poll and /metrics' counts (issue 14).

A fresh database (a temporary SQLite file, or a scratch database made on the PostgreSQL server
of `--database` and dropped at the end) gets 200 recipients and the same live work at every
size: messages waiting for a later retry, for a chat binding, dead messages, a backlog of
`--backlog` (1,000) pending messages to 100 other chats paused until later (as after a 429),
and 50 due messages to 50 bound chats that every busy poll claims (put back untimed between
runs). Sent rows are bulk-inserted with SQL on the server (copies of one sent row, spread
over the recipients), progress on stderr: the baseline (1,000, sent a day ago), then up to
the large size (1,000,000, the rest sent 40 days ago); then `fieldops prune`'s sweep with
the default retention of 30 days takes the table back to the baseline, timed. At each of the
three points the real functions are timed, the best of `--repeat` runs after 3 untimed ones:

- idle poll: `outbox.claim_due` when nothing is due (the dispatcher's poll every second),
- busy poll: `outbox.claim_due` claiming the 50 due messages,
- /metrics counts: `outbox.status_counts`, the outbox gauges of /metrics.

The ratio of the large size to the better of the two baselines is the figure to watch (≈1
flat, ≈1000 linear). `--without-partial-indexes` drops the partial indexes of migration 0022
first, for the figures before them.

    .venv/bin/python -m bench.outbox_scale
    .venv/bin/python -m bench.outbox_scale --database postgres://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from tortoise import connections

from domain.models import ChatBinding, OutboxMessage, OutboxStatus, Role, Staff
from domain.people import orgs
from domain.people import staff as staff_service
from domain.platform import audit, housekeeping, outbox
from domain.platform.actors import system_actor
from domain.platform.clock import utcnow
from fieldops.db import apply_migrations, close_database, open_database

ROOT = system_actor("bench")
PARTIAL_INDEXES = ("outbox_message_due", "outbox_message_chat_pending",
                   "outbox_message_chat_sending")
CHUNK = 100_000
DUE_BATCH = 50
STAFF = 200  # recipients: the sent rows are spread over them
OLD_DAYS = 40  # the bulk of sent rows: past the default retention of 30 days
WARM_UP = 3  # runs before the timed ones (statement caches, the database's buffers)
STARTED = time.perf_counter()


def note(text: str) -> None:
    """Progress on stderr, with the seconds since the start."""
    sys.stderr.write(f"[{time.perf_counter() - STARTED:7.1f}s] {text}\n")
    sys.stderr.flush()


async def live_work(backlog: int) -> list[int]:
    """STAFF recipients (the first DUE_BATCH bound in Telegram) and the live rows of every
    size, each live message to its own chat (a chat's later messages wait for its earlier
    ones); returns the ids of the messages the busy poll claims."""
    org = await orgs.create_org(ROOT, code="P1", name="省分行", parent_id=None)
    people = [await staff_service.create_staff(ROOT, staff_service.StaffForm(
        employee_no=f"F{n:03d}", name=f"展业{n}", org_id=org.id,
        roles=frozenset({Role.FIELD_AGENT}))) for n in range(STAFF)]
    now = utcnow()
    await ChatBinding.bulk_create([
        ChatBinding(staff=person, channel="telegram", external_user_id=str(person.id),
                    chat_id=str(person.id), bound_at=now) for person in people[:DUE_BATCH]])
    live = [(OutboxStatus.SENT, "due", DUE_BATCH), (OutboxStatus.PENDING, "later", 20),
            (OutboxStatus.WAITING, "unbound", 10), (OutboxStatus.DEAD, "dead", 20),
            (OutboxStatus.SENT, "recent", 1), (OutboxStatus.SENT, "old", 1)]
    rows, recipient = [], iter(people)
    for status, name, count in live:
        sent = status == OutboxStatus.SENT  # due and sent a day ago (the old copy 40 days)
        at = now - timedelta(days=OLD_DAYS if name == "old" else 1)
        rows += [OutboxMessage(
            recipient=next(recipient), channel="telegram", kind="reply", template="bench",
            idempotency_key=f"live:{name}:{n}", status=status,
            created_at=at if sent else now, sent_at=at if sent else None,
            next_attempt_at=at if sent else now + timedelta(minutes=10),
            expires_at=now + timedelta(days=1)) for n in range(count)]
    paused = people[STAFF // 2:]  # a backlog to other chats, due after a pause (a 429)
    rows += [OutboxMessage(
        recipient=paused[n % len(paused)], channel="telegram", kind="reply", template="bench",
        idempotency_key=f"live:backlog:{n}", created_at=now,
        next_attempt_at=now + timedelta(minutes=10), expires_at=now + timedelta(days=1))
        for n in range(backlog)]
    await OutboxMessage.bulk_create(rows, batch_size=1000)
    due = await OutboxMessage.filter(idempotency_key__startswith="live:due:").values_list(
        "id", flat=True)
    return list(due)


async def grow(dialect: str, start: int, stop: int, age: str) -> None:
    """Insert sent rows start..stop-1, copies of the `age` ("recent" or "old") sent row
    spread over the STAFF recipients, in chunks of CHUNK."""
    template = await OutboxMessage.get(idempotency_key=f"live:{age}:0")
    first_staff = min(await Staff.all().values_list("id", flat=True))  # ids run on from it
    copied = {"id", "idempotency_key", "recipient_id"}
    columns = [c for c in OutboxMessage._meta.db_fields if c not in copied]
    quoted = ", ".join(f'"{c}"' for c in columns)
    picked = ", ".join(f't."{c}"' for c in columns)
    client = connections.get("default")
    for first in range(start, stop, CHUNK):
        last = min(first + CHUNK, stop) - 1
        values = f"{picked}, 'sent:' || CAST(n.i AS TEXT), {first_staff} + n.i % {STAFF}"
        target = f"outbox_message ({quoted}, idempotency_key, recipient_id)"
        if dialect == "sqlite":
            sql = (f"WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n "
                   f"WHERE i < {last}) INSERT INTO {target} SELECT {values} FROM n, "
                   f"outbox_message t WHERE t.id = {template.id}")
        else:
            sql = (f"INSERT INTO {target} SELECT {values} FROM generate_series({first}, "
                   f"{last}) AS n(i), outbox_message t WHERE t.id = {template.id}")
        await client.execute_script(sql)
        note(f"{last + 1:,} sent rows")


async def settle(dialect: str) -> None:
    """The same steady state before each measurement: SQLite's write-ahead log folded back
    into the database, PostgreSQL's table vacuumed and analysed as autovacuum soon would."""
    await connections.get("default").execute_script(
        "PRAGMA wal_checkpoint(TRUNCATE)" if dialect == "sqlite"
        else "VACUUM ANALYZE outbox_message")


async def make_due(ids: list[int]) -> None:
    """Put the busy poll's messages back: pending and due now."""
    await OutboxMessage.filter(id__in=ids).update(
        status=OutboxStatus.PENDING, next_attempt_at=utcnow() - timedelta(seconds=1),
        claimed_until=None, claim_token=None, attempts=0)


async def park(ids: list[int]) -> None:
    """Take the busy poll's messages out of the live work again."""
    await OutboxMessage.filter(id__in=ids).update(status=OutboxStatus.SENT, claimed_until=None,
                                                  claim_token=None, sent_at=utcnow())


async def timed(call: Callable[[], Awaitable[object]], repeat: int,
                before: Callable[[], Awaitable[None]] | None = None) -> float:
    """Best of `repeat` runs in milliseconds, after WARM_UP untimed ones; `before` runs
    untimed ahead of each."""
    best = float("inf")
    for run in range(repeat + WARM_UP):
        if before:
            await before()
        started = time.perf_counter()
        await call()
        if run >= WARM_UP:
            best = min(best, time.perf_counter() - started)
    return best * 1000


async def measure(due: list[int], repeat: int) -> dict[str, float]:
    """The three timings at the current size."""
    idle = await timed(lambda: outbox.claim_due(limit=DUE_BATCH), repeat)
    busy = await timed(lambda: _claim_all(len(due)), repeat, lambda: make_due(due))
    await park(due)
    counts = await timed(outbox.status_counts, repeat)
    return {"idle poll": idle, "busy poll (50 claimed)": busy, "/metrics counts": counts}


async def _claim_all(expected: int) -> None:
    claimed = await outbox.claim_due(limit=DUE_BATCH)
    if len(claimed) != expected:
        raise RuntimeError(f"the busy poll claimed {len(claimed)} of {expected}")


async def run(url: str, dialect: str, sizes: tuple[int, int], repeat: int, *, backlog: int,
              drop_partial: bool) -> None:
    """Measure at the baseline, grow to the large size and measure, prune back to the
    baseline (timed) and measure again; print the table."""
    audit.use_keys("a throwaway key of a throwaway database")
    await open_database(url)
    try:
        await apply_migrations(url)
        client = connections.get("default")
        if drop_partial:
            for name in PARTIAL_INDEXES:
                await client.execute_script(f'DROP INDEX IF EXISTS "{name}"')
        due = await live_work(backlog)
        baseline, large = sizes
        results: dict[str, list[float]] = {}
        for step in ("baseline", "large", "pruned"):
            if step == "baseline":
                await grow(dialect, 0, baseline, "recent")
            elif step == "large":
                await grow(dialect, baseline, large, "old")
            else:
                pruned = await time_prune(large - baseline)
            await settle(dialect)
            note(f"measuring: {step}")
            for name, ms in (await measure(due, repeat)).items():
                results.setdefault(name, []).append(ms)
        report(f"{dialect}, a backlog of {backlog:,} paused messages", sizes, results,
               drop_partial)
        print(pruned)
    finally:
        await close_database()


async def time_prune(old: int) -> str:
    """Prune with the default retention (30 days): the rows sent 40 days ago go."""
    started = time.perf_counter()
    removed = await housekeeping.prune(housekeeping.Retention(), progress=lambda kind, n: note(
        f"pruned {n:,} {kind}") if n % 100_000 == 0 else None)
    seconds = time.perf_counter() - started
    return (f"prune: {removed['outbox_message']:,} of {old:,} old rows in {seconds:.1f} s "
            f"({removed['outbox_message'] / seconds:,.0f} rows/s, 5,000 per statement)")


def report(setting: str, sizes: tuple[int, int], results: dict[str, list[float]],
           drop_partial: bool) -> None:
    """The timings side by side and the ratio of the large size to the better baseline."""
    indexes = "without the partial indexes" if drop_partial else "with the partial indexes"
    print(f"outbox at scale on {setting}, {indexes}")
    baseline, large = sizes
    header = f"{baseline:>14,}{large:>14,}{'pruned to ' + format(baseline, ','):>20}"
    print(f"{'sent rows':<24}{header}   large/baseline")
    for name, (first, big, after) in results.items():
        print(f"{name:<24}{first:>12.2f}ms{big:>12.2f}ms{after:>18.2f}ms   "
              f"{big / min(first, after):8.2f}×")


async def scratch_database(server_url: str) -> tuple[str, str]:
    """Create a scratch database on the server; returns its URL and name."""
    name = f"fieldops_bench_outbox_{uuid.uuid4().hex[:8]}"
    server = await asyncpg.connect(server_url)
    try:
        await server.execute(f'CREATE DATABASE "{name}"')
    finally:
        await server.close()
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", "")), name


async def drop_database(server_url: str, name: str) -> None:
    """Drop the scratch database."""
    server = await asyncpg.connect(server_url)
    try:
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await server.close()


async def main(args: argparse.Namespace) -> None:
    """Run on a temporary SQLite file, or on a scratch database of the PostgreSQL server."""
    sizes = (args.baseline, args.rows)
    if not args.database:
        with tempfile.TemporaryDirectory() as directory:
            await run(f"sqlite://{Path(directory) / 'outbox.sqlite3'}", "sqlite", sizes,
                      args.repeat, backlog=args.backlog,
                      drop_partial=args.without_partial_indexes)
        return
    url, name = await scratch_database(args.database)
    try:
        await run(url, "postgres", sizes, args.repeat, backlog=args.backlog,
                  drop_partial=args.without_partial_indexes)
    finally:
        await drop_database(args.database, name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="",
                        help="a PostgreSQL server URL (a scratch database is made on it); "
                             "default: a temporary SQLite file")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--backlog", type=int, default=1_000,
                        help="pending messages to other chats, not due yet (a 429 pause)")
    parser.add_argument("--without-partial-indexes", action="store_true")
    asyncio.run(main(parser.parse_args()))
