"""Database leases: one holder at a time for a background duty (the Telegram poller, the
customer-message deletion sweep), and scheduler jobs taken once per interval (issue 14).

A plain lease (`acquire`, `release`) is renewed by its holder while it works and taken over
once it expires. A job's lease is taken for one interval (`take_slot`): nobody else runs that
interval, even after the run ended; the next interval may be taken once the run is recorded
as finished (`finish`, done or failed) or, after a crash, once the lease expired. Each taking
adds one to the lease's `epoch`, the fencing token: a holder whose lease was taken over
meanwhile cannot record its late run as the newer holder's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from domain.models import JobLease
from domain.platform.clock import utcnow

log = logging.getLogger(__name__)

DAY = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Lease:
    """Who holds a lease and since which taking (the fencing epoch)."""

    name: str
    holder: str
    expires_at: datetime
    epoch: int


async def acquire(name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew a lease; False when another live holder has it."""
    now = utcnow()
    taken = await JobLease.filter(name=name, expires_at__lt=now).update(
        holder=holder, expires_at=now + ttl, epoch=F("epoch") + 1
    ) or await JobLease.filter(name=name, holder=holder).update(expires_at=now + ttl)
    if taken:
        return True
    if await JobLease.exists(name=name):
        return False
    return await _create(name, holder, now + ttl)


async def holder_of(name: str) -> Lease | None:
    """Who holds a lease now (None when nobody does or it expired)."""
    row = await JobLease.get_or_none(name=name)
    if row is None or row.expires_at <= utcnow():
        return None
    return Lease(row.name, row.holder, row.expires_at, row.epoch)


async def take_over(name: str, gone: str, holder: str, ttl: timedelta) -> bool:
    """Take a live lease from a holder known to be gone (its process died); False when the
    lease changed hands meanwhile."""
    return bool(await JobLease.filter(name=name, holder=gone).update(
        holder=holder, expires_at=utcnow() + ttl, epoch=F("epoch") + 1))


async def release(name: str, holder: str) -> None:
    """Give a lease back so that another process may take it at once."""
    await JobLease.filter(name=name, holder=holder).update(expires_at=utcnow())


def slot_start(every: timedelta, moment: datetime, zone: ZoneInfo) -> datetime:
    """The start of the interval a job's run at `moment` belongs to: the business day for a
    job that runs daily or less often, else a multiple of `every` since the Unix epoch."""
    if every >= DAY:
        day = moment.astimezone(zone).date()
        return datetime.combine(day, time(), zone).astimezone(UTC)
    return EPOCH + every * ((moment - EPOCH) // every)


async def take_slot(name: str, holder: str, start: datetime, ttl: timedelta) -> Lease | None:
    """Take a job's lease for the interval starting at `start`, once across processes (issue
    14): None when that interval was taken already, or while the previous run is neither
    finished nor expired. The lease lasts `ttl` (at least the interval); it is not released
    when the run ends, so no other process runs the same interval seconds later."""
    now = utcnow()
    expires = now + ttl
    taken = await JobLease.filter(
        Q(slot_start__isnull=True) | Q(slot_start__lt=start), name=name
    ).filter(Q(finished_at__isnull=False) | Q(expires_at__lt=now)).update(
        holder=holder, epoch=F("epoch") + 1, slot_start=start, finished_at=None,
        expires_at=expires)
    if not taken and (await JobLease.exists(name=name)
                      or not await _create(name, holder, expires, start)):
        return None
    row = await JobLease.get(name=name)
    return Lease(name, holder, row.expires_at, row.epoch)


async def finish(lease: Lease) -> bool:
    """Record the end of a job's run (done or failed), fenced by the lease's epoch: False,
    logged, when another process took the lease over meanwhile (the run outlasted it)."""
    recorded = await JobLease.filter(name=lease.name, holder=lease.holder,
                                     epoch=lease.epoch).update(finished_at=utcnow())
    if not recorded:
        log.warning("job %s: the lease of %s (epoch %d) was taken over while it ran; the run "
                    "overlapped the next holder's", lease.name, lease.holder, lease.epoch)
    return bool(recorded)


async def _create(name: str, holder: str, expires: datetime,
                  start: datetime | None = None) -> bool:
    try:
        async with in_transaction():
            await JobLease.create(name=name, holder=holder, expires_at=expires, epoch=1,
                                  slot_start=start)
    except IntegrityError:
        return False
    return True
