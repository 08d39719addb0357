"""The callback calendar: who is drawn, and when a drawn case is called and due (K1).

The draw of a case is a reproducible number 0-99 (the first four bytes of the SHA-256 of its
case number, modulo 100); calls fall inside the calling hours on calling days, on a grid of
SLOT_STEP.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

from domain.platform.calendar import Calendar

SLOT_STEP = timedelta(minutes=5)


def draw_of(case_no: str) -> int:
    """The reproducible draw 0-99 of a case number (K1)."""
    return int.from_bytes(hashlib.sha256(case_no.encode()).digest()[:4], "big") % 100


def _window(day: date, calendar: Calendar) -> tuple[datetime, datetime]:
    """The calling hours of a business day as aware datetimes."""
    start, end = calendar.calling_hours
    return (datetime.combine(day, start, calendar.zone),
            datetime.combine(day, end, calendar.zone))


def _following(day: date, weekdays: frozenset[int]) -> date:
    """The first day after `day` whose weekday is listed."""
    return next(d for d in (day + timedelta(days=n) for n in range(1, 8))
                if d.weekday() in weekdays)


def _deadline(approved_at: datetime, calendar: Calendar) -> datetime:
    """Close of calling on the last working day of the window after the approval (K1)."""
    day = approved_at.astimezone(calendar.zone).date()
    for _ in range(calendar.callback_window_days):
        day = _following(day, calendar.working_weekdays)
    return _window(day, calendar)[1]


def _at_offset(day: date, offset: timedelta, calendar: Calendar) -> datetime:
    """A moment `offset` into the calling hours of a day, on the slot grid."""
    start, _end = _window(day, calendar)
    return start + (offset // SLOT_STEP) * SLOT_STEP


def plan_callback(approved_at: datetime, draw: int, now: datetime, calendar: Calendar
                  ) -> tuple[datetime, datetime]:
    """The first call slot and the deadline of a drawn case: the next calling day after the
    approval, at a time spread by the draw over the calling hours; a case drawn late (the
    scheduler was down past its window) gets a fresh window from the draw (K1)."""
    base = approved_at if _deadline(approved_at, calendar) > now else now
    start, end = _window(base.astimezone(calendar.zone).date(), calendar)
    day = _following(start.date(), calendar.calling_weekdays)
    slot = _at_offset(day, (end - start) * draw / 100, calendar)
    due = max(_deadline(base, calendar), _window(day, calendar)[1])
    return slot.astimezone(UTC), due.astimezone(UTC)


def retry_slot(attempted_at: datetime, calendar: Calendar) -> datetime:
    """The next call after the customer was not reached: a third of the calling hours
    later in the day than the failed call (wrapping round to the morning), so successive
    calls try the morning, the afternoon and the evening; later today when that is still
    in the calling hours, else on the next calling day (K1)."""
    local = attempted_at.astimezone(calendar.zone)
    start, end = _window(local.date(), calendar)
    span = end - start
    offset = min(max(local - start, timedelta(0)), span - SLOT_STEP)
    shifted = (offset + span / 3) % span
    today = _at_offset(local.date(), shifted, calendar)
    if shifted > offset and local.weekday() in calendar.calling_weekdays and today > local:
        return today.astimezone(UTC)
    day = _following(local.date(), calendar.calling_weekdays)
    return _at_offset(day, shifted, calendar).astimezone(UTC)


def close_of_day(moment: datetime, calendar: Calendar) -> datetime:
    """The end of the calling hours on the business day of a moment."""
    return _window(moment.astimezone(calendar.zone).date(), calendar)[1].astimezone(UTC)
