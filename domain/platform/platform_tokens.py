"""A platform's API access token shared by every process through the database (issue 15).

A process reads the stored token and uses it while it is valid beyond a margin. When it is
missing, within the margin of its expiry, or the platform rejected it (expired, invalid), ONE
process refreshes it: the one that takes the refresh lease (`domain.platform.leases`, a
conditional update, the same on SQLite and PostgreSQL) calls the platform and stores the new
token; the others keep using the old token while it is still valid, else wait for the new one
and re-read it. So a burst of processes makes one token call (WeCom limits `gettoken`).

The token is a secret: this module never logs it, and no admin page reads `PlatformToken`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.models import PlatformToken
from domain.platform import leases
from domain.platform.clock import utcnow

# The platform's answer: the token and its validity in seconds (`expires_in`).
Fetch = Callable[[], Awaitable[tuple[str, int]]]

DEFAULT_MARGIN = timedelta(minutes=5)
REFRESH_LEASE_TTL = timedelta(seconds=30)
WAIT_STEP_SECONDS = 0.05


@dataclass(frozen=True)
class SharedToken:
    """A token and when it expires (a process may keep it in memory until the margin)."""

    token: str
    expires_at: datetime


def lease_name(channel: str) -> str:
    """The name of the lease a process holds while it refreshes a channel's token."""
    return f"platform-token:{channel}"


async def shared_token(channel: str, holder: str, fetch: Fetch, *,
                       margin: timedelta = DEFAULT_MARGIN,
                       rejected: str | None = None) -> SharedToken:
    """The channel's access token (issue 15): the stored one while valid beyond `margin` and
    not `rejected` by the platform; else refreshed by one process (the lease holder) while
    the others use the still-valid old token or wait for the new one. `holder` names one
    caller: the lease lets its holder in again, so one holder's calls must not overlap."""
    while True:
        row = await PlatformToken.get_or_none(channel=channel)
        now = utcnow()
        usable = row is not None and row.token != rejected and row.expires_at > now
        if usable and row is not None and row.expires_at - margin > now:
            return SharedToken(row.token, row.expires_at)
        if await leases.acquire(lease_name(channel), holder, REFRESH_LEASE_TTL):
            try:
                return await _refresh(channel, holder, fetch, margin, rejected)
            finally:
                await leases.release(lease_name(channel), holder)
        if usable and row is not None:  # another process refreshes; the old one still works
            return SharedToken(row.token, row.expires_at)
        await asyncio.sleep(WAIT_STEP_SECONDS)


async def forget(channel: str) -> None:
    """Drop a channel's stored token (the channel's credentials changed)."""
    await PlatformToken.filter(channel=channel).delete()


async def _refresh(channel: str, holder: str, fetch: Fetch, margin: timedelta,
                   rejected: str | None) -> SharedToken:
    row = await PlatformToken.get_or_none(channel=channel)  # refreshed while we took the lease?
    now = utcnow()
    if row is not None and row.token != rejected and row.expires_at - margin > now:
        return SharedToken(row.token, row.expires_at)
    token, expires_in = await fetch()
    now = utcnow()
    values = {"token": token, "expires_at": now + timedelta(seconds=expires_in),
              "refreshed_at": now, "refreshed_by": holder}
    await PlatformToken.update_or_create(defaults=values, channel=channel)
    return SharedToken(token, values["expires_at"])
