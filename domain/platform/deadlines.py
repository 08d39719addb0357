"""Reminders before a deadline, shared by every kind of work item with a due time (S1).

Each reminder is named by its hours before the due time ("r72", "r24") in the item's
`reminders_sent` and fires once; one whose time had passed when the item was created is
skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def reminder_key(hours: int) -> str:
    """How a reminder sent `hours` before a deadline is named in `reminders_sent`."""
    return f"r{hours}"


def due_reminders(sent: list[str], created_at: datetime, due_at: datetime,
                  hours: tuple[int, ...], now: datetime) -> list[int]:
    """The reminder hours before `due_at` whose time has come and that were not sent, the
    latest first; reminders due before the item existed are left out (S1)."""
    due = [h for h in hours if reminder_key(h) not in sent
           and created_at < due_at - timedelta(hours=h) <= now]
    return sorted(due)
