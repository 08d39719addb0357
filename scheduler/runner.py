"""Run jobs under a database lease so that several processes run each one once."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from domain.platform import leases
from scheduler.jobs import Job

log = logging.getLogger(__name__)


def holder_name() -> str:
    """Who holds a lease: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_leased(job: Job, holder: str) -> bool:
    """Run one job if this process wins its lease; a failure is logged, never raised."""
    try:
        if not await leases.acquire(job.name, holder, job.lease):
            log.debug("job %s: lease held elsewhere, skipped", job.name)
            return False
        try:
            await job.sweep()
        finally:
            await leases.release(job.name, holder)
    except Exception:
        log.exception("job %s failed; it runs again at its next trigger", job.name)
        return False
    return True


def build_scheduler(jobs: Iterable[Job], holder: str | None = None) -> AsyncIOScheduler:
    """An AsyncIOScheduler with every job on an interval trigger; start it in the loop.

    A running process passes the jobs its composition root built once with
    `scheduled_jobs(...)` (the review SLA sweep (S1), the ledger, count and calendar sweeps);
    a job marked `at_start` also runs right away, so a daily sweep is not put off by each
    restart.
    """
    scheduler = AsyncIOScheduler(timezone="UTC")
    name = holder or holder_name()
    for job in jobs:
        # APScheduler triggers on its own (real) clock, so "right away" is its now
        first_run = {"next_run_time": datetime.now(UTC)} if job.at_start else {}
        scheduler.add_job(
            run_leased, "interval", args=[job, name], id=job.name,
            seconds=job.every.total_seconds(), coalesce=True, max_instances=1,
            misfire_grace_time=max(1, int(job.every.total_seconds())), **first_run,
        )
    return scheduler
