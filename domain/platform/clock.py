"""The one place the program reads the time, in UTC; tests inject their own clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The machine's time in UTC."""
    return datetime.now(UTC)


_clock: Clock = system_clock


def utcnow() -> datetime:
    """Return the current time in UTC, from the clock in use."""
    return _clock()


def use_clock(clock: Clock) -> Clock:
    """Read the time from `clock` from now on; returns the clock used until now."""
    global _clock
    previous, _clock = _clock, clock
    return previous


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The first instant of a business day and of the next one, in UTC."""
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)
