"""The sweeps the scheduler runs and their triggers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from domain.services import housekeeping

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


JOBS: tuple[Job, ...] = (
    Job("prune_processed_updates", prune_processed_updates, every=timedelta(hours=6)),
)
