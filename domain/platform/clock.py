"""The one place the program reads the time, in UTC (tests inject their own clock), and how a
moment reads on the business calendar."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from locales import DEFAULT_LOCALE

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


def business_date(moment: datetime, zone: ZoneInfo) -> date:
    """The business day a moment falls on in the business time zone."""
    return moment.astimezone(zone).date()


DATE_TIME = "yyyy-MM-dd HH:mm"
SHORT_DATE_TIME = "MM-dd HH:mm"
TIME_OF_DAY = "HH:mm"


def business_time(moment: datetime, zone: ZoneInfo, locale: str = DEFAULT_LOCALE,
                  pattern: str = DATE_TIME) -> str:
    """A UTC moment as users read it: in the business time zone, in their locale (Babel
    pattern; the default reads 2026-01-05 09:07)."""
    return format_datetime(moment, pattern, tzinfo=zone, locale=locale)
