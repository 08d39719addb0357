"""Run each job once per interval across processes, under a database lease (issue 14).

A run takes the job's lease for the interval it falls in (`leases.take_slot`): a second
process whose trigger fires in the same interval finds it taken and skips, even when the
first run has ended. The lease is not released at the end; the run is recorded as finished
(fenced by the lease's epoch), which lets the next interval be taken. A run that raises is
finished too and logged, so the next interval runs the job again; a process that dies
mid-run leaves the lease until it expires (the interval, or the job's `lease` if longer).
Triggers are aligned to the intervals' starts (business midnight for the daily sweeps), so
one process does not fire twice in one interval and skip the next. A job marked `at_start`
also runs when the process starts, unless its interval (its business day, for the daily
sweeps) was run already: a restart, or a second process, does not run it again.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from domain.platform import leases
from domain.platform.clock import utcnow
from scheduler.jobs import Job

log = logging.getLogger(__name__)

UTC_ZONE = ZoneInfo("UTC")
# Triggers fire this far into an interval (at most), clear of its boundary.
TRIGGER_OFFSET = timedelta(seconds=5)


def holder_name() -> str:
    """Who holds a lease: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_leased(job: Job, holder: str, zone: ZoneInfo = UTC_ZONE) -> bool:
    """Run one job if this process takes its lease for the current interval; a failure is
    logged, never raised, and the next interval runs the job again (issue 14)."""
    try:
        start = leases.slot_start(job.every, utcnow(), zone)
        lease = await leases.take_slot(job.name, holder, start, max(job.every, job.lease))
        if lease is None:
            log.debug("job %s: its interval from %s is run elsewhere, skipped", job.name,
                      start.isoformat())
            return False
        try:
            await job.sweep()
        finally:
            await leases.finish(lease)
    except Exception:
        log.exception("job %s failed; it runs again in its next interval", job.name)
        return False
    return True


def first_trigger(every: timedelta, now: datetime, zone: ZoneInfo) -> datetime:
    """When a job's interval trigger fires first: a little after the start of the next
    interval, so each firing falls well inside one interval."""
    offset = min(TRIGGER_OFFSET, every / 10)
    return leases.slot_start(every, now, zone) + every + offset


def build_scheduler(jobs: Iterable[Job], holder: str | None = None,
                    zone: ZoneInfo = UTC_ZONE) -> AsyncIOScheduler:
    """An AsyncIOScheduler with every job on an interval trigger; start it in the loop.

    A running process passes the jobs its composition root built once with
    `scheduled_jobs(...)` (the review SLA sweep (S1), the ledger, count and calendar sweeps)
    and the business time zone, whose midnight starts the daily jobs' intervals.
    """
    scheduler = AsyncIOScheduler(timezone="UTC")
    name = holder or holder_name()
    # APScheduler triggers on its own (real) clock
    now = datetime.now(UTC)
    for job in jobs:
        first_run = {"next_run_time": now} if job.at_start else {}
        scheduler.add_job(
            run_leased, "interval", args=[job, name, zone], id=job.name,
            seconds=job.every.total_seconds(), coalesce=True, max_instances=1,
            start_date=first_trigger(job.every, now, zone),
            misfire_grace_time=max(1, int(job.every.total_seconds())), **first_run,
        )
    return scheduler
