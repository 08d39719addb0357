"""Database leases that keep each scheduler job single across processes."""

from __future__ import annotations

from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.models import JobLease
from domain.platform.clock import utcnow


async def acquire(name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease on a job; False when another live holder has it."""
    now = utcnow()
    taken = await JobLease.filter(name=name).filter(expires_at__lt=now).update(
        holder=holder, expires_at=now + ttl
    ) or await JobLease.filter(name=name, holder=holder).update(expires_at=now + ttl)
    if taken:
        return True
    if await JobLease.exists(name=name):
        return False
    try:
        async with in_transaction():
            await JobLease.create(name=name, holder=holder, expires_at=now + ttl)
    except IntegrityError:
        return False
    return True


async def release(name: str, holder: str) -> None:
    """Give the lease back so the next run need not wait for it to expire."""
    await JobLease.filter(name=name, holder=holder).update(expires_at=utcnow())
