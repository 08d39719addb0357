"""The calendar's sweeps: thin wrappers that read the clock, call one domain service and log
(V5, K1, K3, S1). Each area owns its functions; the domain decides what is due."""

from __future__ import annotations

import logging

from domain.services.calendar import Calendar

log = logging.getLogger(__name__)


async def create_monthly_inspections(calendar: Calendar) -> int:
    """Create this month's inspection of every open tail box, once (V5)."""
    raise NotImplementedError


async def sweep_inspection_deadlines(calendar: Calendar) -> int:
    """Remind both people before an inspection is due, escalate it once overdue (V5, S1)."""
    raise NotImplementedError


async def sample_callbacks(calendar: Calendar) -> int:
    """Draw newly approved cases for a callback by their business type's rate (K1)."""
    raise NotImplementedError


async def sweep_callback_deadlines(calendar: Calendar) -> int:
    """Remind callback agents of due callbacks and escalate overdue ones (K1, S1)."""
    raise NotImplementedError


async def draw_weekly_case_audits(calendar: Calendar) -> int:
    """Draw last week's share of each org's approved cases for the off-site audit (K3)."""
    raise NotImplementedError
