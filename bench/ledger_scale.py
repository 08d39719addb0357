"""Voucher ledger reads as data grows: balances, the journal's first page, a month's report.

The ledger is grown to 10k, 100k and 1M vouchers (three movements each: received,
allocated, issued or still in the box) on a fresh SQLite database, and at each size the
same reads are timed through the real services. Rows are bulk-inserted with SQL (the
services would take hours for 3M movements); the stored balances are filled to match, as
the services keep them. Times at the three sizes are printed side by side; the ratio of
the largest to the smallest size is the figure to watch (≈1 means constant time).

    .venv/bin/python -m bench.ledger_scale --sizes 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path

from domain.ledgers import devices
from domain.models import Device, Role
from domain.people import orgs, staff
from domain.platform import audit
from domain.platform.actors import system_actor
from domain.platform.paging import PageRequest
from domain.vouchers import tail_boxes, voucher_reports, voucher_stock
from fieldops.db import apply_migrations, close_database, open_database

ROOT = system_actor("bench")
BOXES = 50
MONTH = date(2026, 11, 1)
AT = datetime(2026, 11, 10, 2, 0, tzinfo=UTC).isoformat()
REPORT_BOUND_SECONDS = 30.0


async def structure() -> tuple[int, int, list[int]]:
    """One org with a voucher type and BOXES tail boxes; returns org, type and box ids."""
    org = await orgs.create_org(ROOT, code="P1", name="省分行", parent_id=None)
    card = await voucher_stock.define_voucher_type(ROOT, "CARD", voucher_stock.VoucherTypeForm(
        "借记卡", "Debit card", r"\d{19}", "none"))
    boxes = []
    for n in range(BOXES):
        agent = await staff.create_staff(ROOT, staff.StaffForm(
            employee_no=f"F{n:03d}", name=f"展业{n}", org_id=org.id,
            roles=frozenset({Role.FIELD_AGENT})))
        tablet = await devices.register_device(ROOT, devices.DeviceForm(
            f"PAD{n:03d}", f"SN{n:05d}", None, "MatePad", None, org.id))
        await Device.filter(id=tablet.id).update(holder_id=agent.id)
        boxes.append((await tail_boxes.box_for_device(tablet.id)).id)
    return org.id, card.id, boxes


def grow(path: Path, org_id: int, type_id: int, boxes: list[int], start: int, stop: int
         ) -> None:
    """Insert vouchers start..stop-1 with their movements and stored balances."""
    with sqlite3.connect(path) as db:
        vouchers_rows, movements = [], []
        for n in range(start, stop):
            box = boxes[n % BOXES]
            issued = n % 3 == 0
            state = "issued" if issued else "in_box"
            vouchers_rows.append((n + 1, type_id, f"{6222_0000_0000_0000_000 + n:019d}",
                                  state, org_id, box, AT))
            movements += [(n + 1, type_id, "received", None, "in_vault", org_id, None, None),
                          (n + 1, type_id, "allocated", "in_vault", "in_box", org_id, None,
                           box)]
            if issued:
                movements.append((n + 1, type_id, "issued", "in_box", "issued", org_id, box,
                                  None))
        db.executemany('INSERT INTO "voucher" ("id", "voucher_type_id", "serial", "state", '
                       '"org_id", "box_id", "updated_at") VALUES (?, ?, ?, ?, ?, ?, ?)',
                       vouchers_rows)
        db.executemany('INSERT INTO "voucher_movement" ("voucher_id", "voucher_type_id", '
                       '"kind", "from_state", "to_state", "org_id", "from_box_id", '
                       '"to_box_id", "actor_label", "note", "at") VALUES '
                       f'(?, ?, ?, ?, ?, ?, ?, ?, \'bench\', \'\', \'{AT}\')', movements)
        db.execute('DELETE FROM "voucher_balance"')
        db.execute('INSERT INTO "voucher_balance" ("org_id", "box_id", "voucher_type_id", '
                   '"state", "count") SELECT "org_id", COALESCE("box_id", 0), '
                   '"voucher_type_id", "state", COUNT(*) FROM "voucher" GROUP BY 1, 2, 3, 4')


async def timed(call: Callable[[], Awaitable[object]], repeat: int = 3) -> float:
    """Best of `repeat` runs, in milliseconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        best = min(best, time.perf_counter() - started)
    return best * 1000


async def main(sizes: list[int]) -> None:
    """Grow the ledger through the sizes and print the read times side by side."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ledger.sqlite3"
        url = f"sqlite://{path}"
        audit.use_keys("a throwaway key of a throwaway database")
        await open_database(url)
        try:
            await apply_migrations(url)
            org_id, type_id, boxes = await structure()
            results: dict[str, list[float]] = {"balances": [], "journal first page": [],
                                               "box detail": [], "month report": []}
            done = 0
            for size in sizes:
                grow(path, org_id, type_id, boxes, done, size)
                done = size
                results["balances"].append(await timed(lambda: voucher_reports.balances(ROOT)))
                results["journal first page"].append(
                    await timed(lambda: voucher_reports.journal(ROOT, PageRequest())))
                results["box detail"].append(
                    await timed(lambda: tail_boxes.box_detail(ROOT, boxes[0]), repeat=1))
                results["month report"].append(
                    await timed(lambda: voucher_reports.reconciliation(ROOT, MONTH), repeat=1))
        finally:
            await close_database()
    header = "".join(f"{size:>14,}" for size in sizes)
    print(f"{'vouchers (×3 movements)':<26}{header}   largest/smallest")
    for name, times in results.items():
        cells = "".join(f"{t:>12.1f}ms" for t in times)
        print(f"{name:<26}{cells}   {times[-1] / times[0]:8.1f}")
    report = results["month report"][-1] / 1000
    verdict = "within" if report <= REPORT_BOUND_SECONDS else "OVER"
    print(f"month report at {sizes[-1]:,}: {report:.1f} s, {verdict} the stated bound of "
          f"{REPORT_BOUND_SECONDS:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    asyncio.run(main(parser.parse_args().sizes))
