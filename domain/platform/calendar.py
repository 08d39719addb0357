"""The regulation's calendar as configured: when inspections, callbacks and off-site audits
fall due, are reminded and escalated (V5, K1, K3, S1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from zoneinfo import ZoneInfo

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")
WEEKDAYS = frozenset(range(5))


@dataclass(frozen=True)
class Calendar:
    """Deadlines and windows of the scheduled work; weekdays are Python's (0 = Monday).

    inspection_reminder_hours: reminders to both people this many hours before the due time
    (V5, S1); surprise_due_hours: how long a surprise inspection may take (K3);
    callback_window_days: working days after approval a callback must be done by (K1);
    calling_hours / calling_weekdays: when customers may be called; callback_max_attempts:
    not-reached attempts before a callback is unreachable; audit_share_percent: share of an
    org's approved cases drawn each week for the off-site audit (K3);
    audit_errors_for_retraining: audit errors against one person within 90 days that flag
    him for retraining (K2); mis_issue_recovery_days: the default and the latest deadline
    to recover a mis-issued voucher, at most 30 (V6); mis_issue_reminder_hours: reminders
    to the holder this many hours before that deadline (S1).
    """

    zone: ZoneInfo = DEFAULT_ZONE
    working_weekdays: frozenset[int] = WEEKDAYS
    inspection_reminder_hours: tuple[int, ...] = (72, 24)
    surprise_due_hours: int = 24
    callback_window_days: int = 3
    calling_hours: tuple[time, time] = (time(9), time(20))
    calling_weekdays: frozenset[int] = field(default=WEEKDAYS)
    callback_max_attempts: int = 3
    audit_share_percent: int = 30
    audit_errors_for_retraining: int = 3
    mis_issue_recovery_days: int = 7
    mis_issue_reminder_hours: tuple[int, ...] = (48, 24)
