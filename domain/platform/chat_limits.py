"""Inbound chat rate limits: a sliding window per sender kept in the database, so that
every bot worker and web worker counts the same events (issue 13)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise.transactions import in_transaction

from domain.models import ChatInboundHit
from domain.platform.errors import N_

log = logging.getLogger(__name__)
SLOW_DOWN = N_("You are sending too fast. Wait a minute, then send your last message again; "
               "what you sent meanwhile was not handled.")


@dataclass(frozen=True)
class InboundLimit:
    """At most `events` inbound events of one sender within `window_seconds`."""

    events: int
    window_seconds: int


class Admission(StrEnum):
    """What becomes of one inbound event: handled, answered "slow down" once, or dropped."""

    HANDLE = "handle"
    WARN = "warn"
    DROP = "drop"


async def admit(channel: str, sender: str, limit: InboundLimit, now: datetime) -> Admission:
    """Count an inbound event of a sender in the sliding window: past the limit the first
    one is answered "slow down" and the rest are dropped, logged, until the window has room.

    Only handled events and the one warning are kept (at most `events` + 1 rows per sender),
    so a flood writes nothing; rows older than the window go at the sender's next event.
    """
    since = now - timedelta(seconds=limit.window_seconds)
    async with in_transaction():
        recent = ChatInboundHit.filter(channel=channel, sender=sender)
        await recent.filter(at__lt=since).delete()
        dropped = await recent.filter(at__gte=since).values_list("dropped", flat=True)
        if dropped.count(False) < limit.events:
            await ChatInboundHit.create(channel=channel, sender=sender, at=now)
            return Admission.HANDLE
        if True in dropped:
            log.warning("dropped an inbound %s event of %s: over %d in %d s", channel, sender,
                        limit.events, limit.window_seconds)
            return Admission.DROP
        await ChatInboundHit.create(channel=channel, sender=sender, at=now, dropped=True)
        log.warning("%s sender %s is over %d events in %d s: told to slow down", channel,
                    sender, limit.events, limit.window_seconds)
        return Admission.WARN
