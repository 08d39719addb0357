"""The calendar's sweeps: thin wrappers that read the clock, call one domain service and log
(V5, K1, K3, S1). Each area owns its functions; the domain decides what is due."""

from __future__ import annotations

import logging

from domain.oversight import (
    callback_deadlines,
    callbacks,
    case_audits,
    inspection_deadlines,
    inspections,
)
from domain.platform.calendar import Calendar
from domain.platform.clock import utcnow
from domain.vouchers import mis_issue_deadlines

log = logging.getLogger(__name__)


async def create_monthly_inspections(calendar: Calendar) -> int:
    """Create this month's inspection of every open tail box, once (V5)."""
    created = await inspections.create_monthly_inspections(utcnow(), calendar.zone)
    if created:
        log.info("vault inspections: %d created for the month", created)
    return created


async def sweep_inspection_deadlines(calendar: Calendar) -> int:
    """Remind both people before an inspection is due, escalate it once overdue (V5, S1)."""
    done = await inspection_deadlines.sweep_inspection_deadlines(utcnow(), calendar)
    if done:
        log.info("vault inspections: %d reminded or escalated", done)
    return done


async def sweep_mis_issue_deadlines(calendar: Calendar) -> int:
    """Remind holders before a mis-issue's recovery deadline, escalate it after (V6, S1)."""
    done = await mis_issue_deadlines.sweep_mis_issue_deadlines(utcnow(), calendar)
    if done:
        log.info("mis-issues: %d reminded or escalated", done)
    return done


async def sample_callbacks(calendar: Calendar) -> int:
    """Draw newly approved cases for a callback by their business type's rate (K1)."""
    scheduled = await callbacks.sample_callbacks(utcnow(), calendar)
    if scheduled:
        log.info("callbacks: %d approved cases drawn and scheduled", scheduled)
    return scheduled


async def sweep_callback_deadlines(calendar: Calendar) -> int:
    """Remind callback agents of due callbacks and escalate overdue ones (K1, S1)."""
    result = await callback_deadlines.sweep_callback_deadlines(utcnow(), calendar)
    if result.reminded or result.escalated:
        log.info("callbacks: %d reminded, %d escalated", result.reminded, result.escalated)
    return result.reminded + result.escalated


async def draw_weekly_case_audits(calendar: Calendar) -> int:
    """Draw last week's share of each org's approved cases for the off-site audit (K3)."""
    drawn = await case_audits.draw_weekly(utcnow(), calendar)
    if drawn:
        log.info("off-site audit: %d cases drawn", drawn)
    return drawn
