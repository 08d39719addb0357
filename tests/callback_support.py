"""Callback test helpers: approved cases and a confirmed call."""

from __future__ import annotations

from datetime import datetime

from domain.cases import review
from domain.models import (
    Case,
)
from domain.oversight.callbacks import CallRecord
from tests.case_support import MONDAY_10AM
from tests.review_support import Desk, seen, submitted_case

CONFIRMED = CallRecord("confirmed", in_person="yes", risk_hints="yes", satisfaction=5,
                       comment="满意")


async def approved(desk: Desk, at: datetime = MONDAY_10AM) -> Case:
    """A case captured, submitted and approved at `at`."""
    case = await submitted_case(desk, at=at)
    await review.claim(desk.reviewer, case.id, now=at)
    await seen(desk.reviewer, case.id)
    return await review.approve(desk.reviewer, case.id, desk.ctx, now=at)
