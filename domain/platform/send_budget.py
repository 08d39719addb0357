"""One sender per bot (issue 14): a fenced lease in the database elects the process that sends
a channel's outbox, and carries the bot-wide pause a 429 asks for.

Every process that can deliver on a channel asks for the lease each second (`lead`); the one
that holds it (the leader) claims and paces the channel's messages, the others stand by and
take over when its lease runs out (a few seconds after it stops). Each takeover increments
`epoch`; the leader's claims carry a token made of the epoch, so a process that lost the
lease can neither mark nor renew what the next leader claimed. The rate budget therefore
lives in the leader's memory (bot/pacer.py), and holds across processes because only one
process sends at a time; the pause is kept here so that whoever leads next honours it.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from domain.models import SendLease
from domain.platform.clock import utcnow


@dataclass(frozen=True)
class Lease:
    """The lease of a channel's sender as one process sees it after asking for it."""

    name: str
    holder: str
    epoch: int
    leading: bool
    expires_at: datetime
    paused_until: datetime | None

    @property
    def token(self) -> str:
        """The fencing token of this leader's claims: the channel, the epoch and the holder."""
        digest = hashlib.sha256(self.holder.encode()).hexdigest()[:12]
        return f"{self.name}:{self.epoch}:{digest}"


async def lead(name: str, holder: str, ttl: timedelta, now: datetime | None = None) -> Lease:
    """Take or renew the lease of a channel's sender for `ttl`; `leading` is False while
    another live holder has it. A lease that lapsed is taken anew (a new epoch) even by
    its last holder, so claims of the lapsed term stay fenced off."""
    now = now or utcnow()
    current = await SendLease.get_or_none(name=name)
    if current is None:
        try:
            async with in_transaction():
                await SendLease.create(name=name, holder=holder, epoch=1, expires_at=now + ttl)
        except IntegrityError:
            return await _seen(name, holder, now)
        return await _seen(name, holder, now)
    if current.holder == holder and current.expires_at >= now:
        await SendLease.filter(name=name, holder=holder, epoch=current.epoch,
                               expires_at__gte=now).update(expires_at=now + ttl)
    elif current.expires_at < now:
        await SendLease.filter(name=name, epoch=current.epoch, expires_at__lt=now).update(
            holder=holder, epoch=F("epoch") + 1, expires_at=now + ttl)
    return await _seen(name, holder, now)


async def _seen(name: str, holder: str, now: datetime) -> Lease:
    row = await SendLease.get(name=name)
    return Lease(name, holder, row.epoch, row.holder == holder and row.expires_at > now,
                 row.expires_at, row.paused_until)


async def resign(lease: Lease) -> None:
    """Give the lease up at once (a stopping leader), so a stand-by takes over now."""
    await SendLease.filter(name=lease.name, holder=lease.holder, epoch=lease.epoch).update(
        expires_at=utcnow() - timedelta(seconds=1))


async def pause(name: str, until: datetime) -> None:
    """Pause all sending of a channel's bot until `until` (a 429's retry_after), for
    whichever process leads it now or next."""
    if not await SendLease.exists(name=name):  # nobody led yet: a lapsed lease to take
        with contextlib.suppress(IntegrityError):
            async with in_transaction():
                await SendLease.create(name=name, holder="", expires_at=utcnow())
    await SendLease.filter(name=name).filter(
        Q(paused_until=None) | Q(paused_until__lt=until)).update(paused_until=until)
