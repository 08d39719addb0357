"""Off-site audit test helpers: the calendar, seeds and approved cases."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.cases import review
from domain.models import (
    AuditDraw,
    Case,
)
from domain.oversight import case_audits
from domain.platform.actors import Actor
from domain.platform.calendar import Calendar
from tests.case_support import MONDAY_10AM, ZONE
from tests.review_support import Desk, seen, submitted_case

CALENDAR = Calendar(zone=ZONE)
WEEK_48 = MONDAY_10AM  # Monday 2026-11-23, ISO week 2026-W48
DRAW_49 = MONDAY_10AM + timedelta(days=7)  # the next Monday: draws W48


async def approved(desk: Desk, count: int, *, agent: Actor | None = None,
                   at: datetime = WEEK_48, four_eyes: bool = False) -> list[Case]:
    """Cases submitted and approved (by the province reviewer) at `at`."""
    done = []
    for _ in range(count):
        case = await submitted_case(desk, agent=agent or desk.agent, at=at, four_eyes=four_eyes)
        if four_eyes:
            await seen(desk.reviewer, case.id)
            await review.approve(desk.reviewer, case.id, desk.ctx, case.submitted_at)
        await seen(desk.second, case.id)
        done.append(await review.approve(desk.second, case.id, desk.ctx, case.submitted_at))
    return done


def other_seed(draw: AuditDraw) -> str:
    """A seed that draws other cases from the same population than the recorded one."""
    drawn = case_audits.choose(draw.seed, draw.population, draw.share_percent)
    return next(seed for seed in (f"tampered-{n}" for n in range(100))
                if case_audits.choose(seed, draw.population, draw.share_percent) != drawn)
