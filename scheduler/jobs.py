"""The sweeps the scheduler runs and their triggers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from domain.clock import utcnow
from domain.services import housekeeping, review
from domain.services.cases import CaptureContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One sweep: a name (also its lease name), a coroutine and how often it runs."""

    name: str
    sweep: Callable[[], Awaitable[object]]
    every: timedelta
    lease: timedelta = timedelta(minutes=5)


async def prune_processed_updates() -> int:
    """Drop processed-update marks past their retention."""
    removed = await housekeeping.prune_processed_updates()
    log.info("pruned %d processed-update marks", removed)
    return removed


async def sweep_review_sla(capture: CaptureContext, repeat: timedelta) -> review.SweepResult:
    """Remind reviewers at half time and escalate overdue cases to supervisors (S1)."""
    result = await review.sweep_sla(utcnow(), repeat, capture)
    if result.reminded or result.escalated:
        log.info("review SLA: %d reminded, %d escalated", result.reminded, result.escalated)
    return result


JOBS: tuple[Job, ...] = (
    Job("prune_processed_updates", prune_processed_updates, every=timedelta(hours=6)),
)


def scheduled_jobs(capture: CaptureContext, sla_repeat: timedelta) -> tuple[Job, ...]:
    """Every job of a running process: the plain ones plus those that need the settings."""
    return (*JOBS, Job("review_sla", partial(sweep_review_sla, capture, sla_repeat),
                       every=timedelta(minutes=1), lease=timedelta(minutes=2)))
