"""The clock every test runs on: a fixed business moment that moves on with elapsed time.

No test reads the wall clock. Each test starts at `test_now()`: FIELDOPS_TEST_NOW (an ISO
moment with its offset) when set, else a Wednesday mid-morning in Shanghai. Run the suite at
another moment, e.g. a Monday 00:30 business time, with
`FIELDOPS_TEST_NOW=2026-12-07T00:30+08:00 make test`. Processes the tests start (the CLI)
get the same clock through `clock_site/sitecustomize.py`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import tortoise.timezone

from domain.platform import clock

DEFAULT_TEST_NOW = "2026-12-09T10:30:00+08:00"
CLOCK_SITE = Path(__file__).parent / "clock_site"
REPOSITORY = Path(__file__).parent.parent


def test_now() -> datetime:
    """The moment a test starts at, in UTC."""
    moment = datetime.fromisoformat(os.environ.get("FIELDOPS_TEST_NOW") or DEFAULT_TEST_NOW)
    if moment.tzinfo is None:
        raise ValueError("FIELDOPS_TEST_NOW needs an offset, e.g. 2026-12-07T00:30+08:00")
    return moment.astimezone(UTC)


class SteadyClock:
    """A clock that starts at a given moment and advances with the monotonic timer."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.started = time.monotonic()
        self.rate = 1.0

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self.started) * self.rate)

    def move_to(self, moment: datetime) -> None:
        """Go on from `moment`: a test whose records sit at fixed dates reads its pages then."""
        self.start, self.started, self.rate = moment, time.monotonic(), 1.0

    def stand_still(self) -> datetime:
        """Stop at the present moment, for a test whose page shows minutes left however
        slowly a loaded machine runs it; returns that moment."""
        self.start, self.started, self.rate = self(), time.monotonic(), 0.0
        return self.start


def install(steady: SteadyClock) -> Callable[[], None]:
    """Run the program and the ORM's automatic timestamps on `steady`; returns the undo."""
    previous_orm_now = tortoise.timezone.now
    previous = clock.use_clock(steady)

    def orm_now() -> datetime:
        return steady() if tortoise.timezone.get_use_tz() else steady().replace(tzinfo=None)

    tortoise.timezone.now = orm_now

    def undo() -> None:
        clock.use_clock(previous)
        tortoise.timezone.now = previous_orm_now

    return undo


def subprocess_clock_env(now: datetime) -> dict[str, str]:
    """Environment that starts a child Python process on the test clock, at `now`."""
    paths = (str(CLOCK_SITE), str(REPOSITORY), os.environ.get("PYTHONPATH"))
    return {"PYTHONPATH": os.pathsep.join(p for p in paths if p),
            "FIELDOPS_TEST_NOW": now.isoformat()}
