"""What a scheduled sweep did, as the scheduler logs it and the tests read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SweepReport:
    """What a daily ledger sweep changed: people warned, rows changed."""

    warned: int
    changed: int


@dataclass(frozen=True)
class SweepResult:
    """What one deadline sweep did: reminders sent, escalations made (S1)."""

    reminded: int
    escalated: int
