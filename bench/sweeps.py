"""Calendar sweeps as the work grows: callback deadlines, the callback draw, the monthly vault
inspections and their deadlines (K1, V5, S1).

Each size is a fresh SQLite database holding that many open callbacks and a tenth as many open
tail boxes (1,000 / 10,000 / 100,000 callbacks with 100 / 1,000 / 10,000 boxes by default).
Orgs, the business type and the people the sweeps notify are made through the services; the
field agents, tablets, boxes, approved cases and callbacks are bulk-inserted with SQL. Of the
callbacks 5 % are due to be reminded, 1 % are past their deadline, 10 % were reminded and wait
for the call, the rest are not due yet. Then the real services run, as the scheduler calls
them: once with work to do, then again with nothing left (the idle rerun every 15 minutes or
hour, the common case). The inspection deadlines run two days before the month's due time,
when half of the month's inspections are completed, 45 % were reminded and 5 % are due for a
reminder, plus 1 % of last month's left open to escalate. Times at the sizes are printed side
by side; the ratio of the largest to the smallest size is the figure to watch (≈1 constant,
≈100 linear over the default sizes). Progress goes to stderr.

    .venv/bin/python -m bench.sweeps --sizes 1000 10000 100000
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from domain.cases import business_types
from domain.models import PhotoKind, Role
from domain.oversight import callback_deadlines, callbacks, inspection_deadlines, inspections
from domain.people import orgs
from domain.people import staff as staff_service
from domain.platform import audit
from domain.platform.actors import actor_for, system_actor
from domain.platform.calendar import Calendar
from domain.platform.sweeps import SweepResult
from fieldops.db import apply_migrations, close_database, open_database

ROOT = system_actor("bench")
CALENDAR = Calendar()
NOW = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai
PERIOD, LAST_PERIOD = "2026-11", "2026-10"
MONTH_START = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
DUE = inspections.month_due(PERIOD)
REMINDER_TIME = DUE - timedelta(hours=48)
MID_MONTH = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)
BRANCHES, SUBBRANCHES = 2, 5
CALLBACK_RATE = 20
SAMPLE = callbacks.SAMPLE_BATCH
KINDS = frozenset({PhotoKind.ID_FRONT, PhotoKind.ID_BACK, PhotoKind.ONSITE_WITH_AGENT})
STARTED = time.perf_counter()


@dataclass(frozen=True)
class Structure:
    """What the services made: the subbranches agents work in (with their branch's callback
    agents) and the business type."""

    subbranches: list[tuple[int, list[int]]]
    business_type_id: int


@dataclass(frozen=True)
class Sweep:
    """One timed line: what it counts per item and how many items it had at each size."""

    name: str
    unit: str
    times: list[float]
    items: list[int]


def progress(message: str) -> None:
    """A line on stderr with the time since the start."""
    print(f"[{time.perf_counter() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def ts(moment: datetime) -> str:
    """A UTC moment as Tortoise stores it in SQLite."""
    return moment.astimezone(UTC).isoformat(" ")


async def person(org_id: int, no: str, role: Role) -> int:
    """A staff member with one role, made through the service."""
    row = await staff_service.create_staff(ROOT, staff_service.StaffForm(
        employee_no=no, name=f"员工{no}", org_id=org_id, roles=frozenset({role})))
    return row.id


async def structure() -> Structure:
    """A province with operations management, branches with a supervisor and two callback
    agents each, subbranches for the field agents, one business type drawn at 20 %."""
    province = await orgs.create_org(ROOT, code="P1", name="省分行", parent_id=None)
    ops = await staff_service.create_staff(ROOT, staff_service.StaffForm(
        employee_no="O1", name="运营", org_id=province.id, roles=frozenset({Role.OPS_ADMIN})))
    subbranches = []
    for b in range(BRANCHES):
        branch = await orgs.create_org(ROOT, code=f"B{b}", name=f"分行{b}",
                                       parent_id=province.id)
        await person(branch.id, f"S{b}", Role.SUPERVISOR)
        agents = [await person(branch.id, f"C{b}{n}", Role.CALLBACK_AGENT) for n in range(2)]
        for s in range(SUBBRANCHES):
            sub = await orgs.create_org(ROOT, code=f"B{b}S{s}", name=f"支行{b}-{s}",
                                        parent_id=branch.id)
            subbranches.append((sub.id, agents))
    card = await business_types.create_business_type(
        await actor_for(ops), "DEBIT_CARD", business_types.BusinessTypeForm(
            "借记卡开户", "Debit card", KINDS, callback_rate=CALLBACK_RATE))
    return Structure(subbranches, card.id)


def next_id(db: sqlite3.Connection, table: str) -> int:
    return db.execute(f'SELECT COALESCE(MAX("id"), 0) + 1 FROM "{table}"').fetchone()[0]


def insert(db: sqlite3.Connection, table: str, columns: str, rows: list[tuple]) -> None:
    """executemany of rows whose values follow the comma-separated column names."""
    names = [f'"{c.strip()}"' for c in columns.split(",")]
    db.executemany(f'INSERT INTO "{table}" ({", ".join(names)}) '
                   f'VALUES ({", ".join("?" * len(names))})', rows)


def field_agents(db: sqlite3.Connection, st: Structure, boxes: int) -> list[tuple[int, int]]:
    """One field agent per box, each with an issued tablet and its tail box; returns
    (agent id, org id) per box. Last month's inspection of one box in a hundred is still
    open, to be escalated."""
    first, device, box = next_id(db, "staff"), next_id(db, "device"), next_id(db, "tail_box")
    at = ts(MONTH_START - timedelta(days=90))
    agents = [(first + n, st.subbranches[n % len(st.subbranches)][0]) for n in range(boxes)]
    insert(db, "staff", "id, employee_no, name, active, phone, created_at, org_id",
           [(a, f"F{n:06d}", f"展业{n}", 1, "", at, org) for n, (a, org) in enumerate(agents)])
    insert(db, "staff_role", "staff_id, role", [(a, "field_agent") for a, _ in agents])
    insert(db, "device", "id, asset_tag, serial, model, state, created_at, updated_at, "
           "holder_id, org_id", [(device + n, f"PAD{n:06d}", f"SN{n:08d}", "MatePad", "issued",
                                  at, at, a, org) for n, (a, org) in enumerate(agents)])
    insert(db, "tail_box", "id, frozen, frozen_reason, created_at, holder_id, org_id, device_id",
           [(box + n, 0, "", at, a, org, device + n) for n, (a, org) in enumerate(agents)])
    insert(db, "inspection", "kind, period, status, due_at, expected, reminders_sent, "
           "created_at, box_id, holder_id, org_id",
           [("monthly", LAST_PERIOD, "scheduled", ts(inspections.month_due(LAST_PERIOD)), "{}",
             '["r72", "r24"]', ts(MONTH_START - timedelta(days=31)), box + n, a, org)
            for n, (a, org) in enumerate(agents) if n % 100 == 0])
    return agents


def approved_cases(db: sqlite3.Connection, st: Structure, agents: list[tuple[int, int]],
                   count: int) -> list[int]:
    """`count` approved cases already drawn, then SAMPLE approved this morning and not drawn
    yet; returns the ids of the drawn ones."""
    first = next_id(db, "case_record")
    rows = []
    for n in range(count + SAMPLE):
        agent, org = agents[n % len(agents)]
        decided = NOW - (timedelta(hours=2) if n >= count else timedelta(days=1 + n % 3))
        rows.append((first + n, f"B{first + n:010d}", "approved", 1, f"客户{n}", ts(decided),
                     ts(decided), ts(decided), ts(decided), 0, "[]",
                     ts(decided) if n < count else None, agent, st.business_type_id, org))
    insert(db, "case_record", "id, case_no, status, revision, customer_name, created_at, "
           "submitted_at, decided_at, updated_at, escalation_count, retake_items, "
           "callback_drawn_at, agent_id, business_type_id, org_id", rows)
    return [first + n for n in range(count)]


def callback_times(n: int) -> tuple[datetime, datetime, datetime | None]:
    """Slot, deadline and reminder time of the nth callback: 1 % overdue, 5 % due now, 10 %
    reminded and waiting, the rest due over the next days."""
    share = n % 100
    if share == 0:
        return NOW - timedelta(days=4), NOW - timedelta(hours=1), NOW - timedelta(days=4)
    if share <= 5:
        return NOW - timedelta(minutes=share), NOW + timedelta(days=3), None
    if share <= 15:
        return NOW - timedelta(hours=share), NOW + timedelta(days=2), NOW - timedelta(hours=share)
    slot = NOW + timedelta(minutes=5 * (n % 800) + 10)
    return slot, slot + timedelta(days=3), None


def open_callbacks(db: sqlite3.Connection, st: Structure, agents: list[tuple[int, int]],
                   cases: list[int]) -> None:
    """One open callback per drawn case; one in seven was tried once, one in ten is not
    assigned to anybody."""
    queues = dict(st.subbranches)
    rows = []
    for n, case_id in enumerate(cases):
        field_agent, org = agents[n % len(agents)]
        slot, due, reminded = callback_times(n)
        assigned = None if n % 10 == 9 else queues[org][n % 2]
        attempts = 1 if n % 7 == 3 else 0
        rows.append(("attempted" if attempts else "scheduled", n % CALLBACK_RATE, ts(slot),
                     ts(due), attempts, "{}", "", ts(reminded) if reminded else None,
                     ts(slot - timedelta(days=1)), assigned, st.business_type_id, field_agent,
                     org, case_id))
    insert(db, "callback", "status, draw, scheduled_at, due_at, attempts, answers, comment, "
           "reminded_at, created_at, assigned_to_id, business_type_id, field_agent_id, org_id, "
           "case_id", rows)


def populate(path: Path, st: Structure, count: int, boxes: int) -> None:
    """Bulk-insert the field agents, boxes, cases and open callbacks of one size."""
    with sqlite3.connect(path) as db:
        agents = field_agents(db, st, boxes)
        open_callbacks(db, st, agents, approved_cases(db, st, agents, count))


def shape_month(path: Path) -> None:
    """Two days before the due time: half of the month's inspections completed, 45 % reminded
    72 hours before, 5 % not reminded yet."""
    with sqlite3.connect(path) as db:
        db.execute('UPDATE "inspection" SET "status" = \'completed\', "result" = \'ok\', '
                   '"completed_at" = ? WHERE "period" = ? AND "id" % 100 < 50',
                   (ts(REMINDER_TIME - timedelta(days=3)), PERIOD))
        db.execute('UPDATE "inspection" SET "reminders_sent" = \'["r72"]\' WHERE "period" = ? '
                   'AND "id" % 100 BETWEEN 50 AND 94', (PERIOD,))


@dataclass
class Run:
    """The times (ms) of one size's sweeps and how many items each acted on."""

    times: dict[str, float] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=dict)

    async def time(self, name: str, call: Callable[[], Awaitable[SweepResult | int]],
                   repeat: int = 1) -> None:
        """Best of `repeat` runs; the work done is the last run's."""
        best, result = float("inf"), None
        for _ in range(repeat):
            started = time.perf_counter()
            result = await call()
            best = min(best, time.perf_counter() - started)
        done = (result.reminded + result.escalated if isinstance(result, SweepResult)
                else int(result or 0))
        self.times[name], self.done[name] = best * 1000, done
        progress(f"  {name}: {best * 1000:.1f} ms, {done} acted on")


async def callback_sweeps(run: Run) -> None:
    """The callback deadline sweep with work and idle, then the draw of the new cases."""
    await run.time("callback deadlines",
                   lambda: callback_deadlines.sweep_callback_deadlines(NOW, CALENDAR))
    await run.time("callback deadlines, idle",
                   lambda: callback_deadlines.sweep_callback_deadlines(NOW, CALENDAR), repeat=3)
    await run.time("callback draw", lambda: callbacks.sample_callbacks(NOW, CALENDAR))
    await run.time("callback draw, idle", lambda: callbacks.sample_callbacks(NOW, CALENDAR),
                   repeat=3)


async def inspection_sweeps(run: Run, path: Path) -> None:
    """The monthly round with work and idle, then the inspection deadlines."""
    zone, sweep = CALENDAR.zone, inspection_deadlines.sweep_inspection_deadlines
    await run.time("monthly inspections",
                   lambda: inspections.create_monthly_inspections(MONTH_START, zone))
    await run.time("monthly inspections, idle", lambda: inspections.create_monthly_inspections(
        MONTH_START + timedelta(hours=1), zone), repeat=3)
    shape_month(path)
    await run.time("inspection deadlines", lambda: sweep(REMINDER_TIME, CALENDAR))
    await run.time("inspection deadlines, idle", lambda: sweep(REMINDER_TIME, CALENDAR),
                   repeat=3)
    await run.time("inspection deadlines, mid-month", lambda: sweep(MID_MONTH, CALENDAR),
                   repeat=3)


async def one_size(count: int) -> Run:
    """A fresh database with `count` open callbacks and a tenth as many boxes, swept."""
    boxes, run = count // 10, Run()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "sweeps.sqlite3"
        url = f"sqlite://{path}"
        audit.use_keys("a throwaway key of a throwaway database")
        await open_database(url)
        try:
            await apply_migrations(url)
            progress(f"{count:,} callbacks, {boxes:,} boxes: inserting rows")
            populate(path, await structure(), count, boxes)
            await callback_sweeps(run)
            await inspection_sweeps(run, path)
        finally:
            await close_database()
    return run


def lines(sizes: list[int], runs: list[Run]) -> list[Sweep]:
    """Each sweep's times with the items it is counted per: callbacks, boxes or new cases."""
    per = {"callback draw": ("new case", [SAMPLE] * len(sizes)),
           "callback": ("callback", sizes), "": ("box", [s // 10 for s in sizes])}
    result = []
    for name in runs[0].times:
        unit, items = next(v for k, v in per.items() if name.startswith(k))
        result.append(Sweep(name, unit, [run.times[name] for run in runs], items))
    return result


def report(sizes: list[int], runs: list[Run]) -> None:
    """The table, then what one action of each first run costs beyond its idle rerun."""
    header = "".join(f"{f'{s:,}/{s // 10:,}':>16}" for s in sizes)
    print(f"{'callbacks/boxes':<34}{header}   largest/smallest   µs per item (largest)")
    for sweep in lines(sizes, runs):
        cells = "".join(f"{t:>14.1f}ms" for t in sweep.times)
        per_item = sweep.times[-1] * 1000 / sweep.items[-1]
        print(f"{sweep.name:<34}{cells}   {sweep.times[-1] / sweep.times[0]:10.1f}"
              f"         {per_item:10.1f} per {sweep.unit}")
    print(f"\n{'first run per item acted on':<34}{header}   items acted on")
    for name in ("callback deadlines", "callback draw", "monthly inspections",
                 "inspection deadlines"):
        cells = "".join(f"{(r.times[name] - r.times[f'{name}, idle']) / r.done[name]:>14.2f}ms"
                        for r in runs)
        print(f"{name:<34}{cells}   {' / '.join(f'{r.done[name]:,}' for r in runs)}")
    print("(first run minus its idle rerun, divided by the reminders, escalations, callbacks "
          "scheduled or inspections created)")


async def main(sizes: list[int]) -> None:
    """Sweep a fresh database at each size and print the times side by side."""
    report(sizes, [await one_size(size) for size in sizes])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000],
                        help="open callbacks per run; a tenth as many tail boxes")
    asyncio.run(main(parser.parse_args().sizes))
