"""Growing delays after failed web log-ins, per source address and per account (S3).

Every attempt is charged, before its password is checked, to two keys of `LoginThrottle`.
The counts live in the database, so every worker sees the same ones, and a burst of
attempts sent at once is charged attempt by attempt, not after the slow checks.

- The source address (`address:<ip>`; an IPv6 address counts under its /64), whatever
  names it tries: after `address.free` failures each further failure doubles the wait,
  from `address.first` up to `address.ceiling`. One address trying many names is soon
  slowed to a crawl.
- The typed user name (`account:<name>`), whether or not such an account exists, so an
  unknown name is answered exactly like a known one: after `account.free` failures the
  wait starts at `account.first` and doubles up to `account.ceiling`. An account attacked
  from many addresses is slowed the same way.
- Except at an address (an IPv6 /64) the name is known from, having logged in there within
  `known_for`: there the pair (`known:<name>@<ip>`) is charged instead of the name, under
  `known`. Who keeps a name waiting from elsewhere does not keep its owner out at his usual
  address, where only the owner's own mistakes count; and a sysadmin who issues a new
  one-time password lifts every wait of the name.

While a key waits, an attempt is refused without checking its password and without being
charged. A successful log-in clears the name (or pair) and takes its charge back from the
address. Failures are forgotten `forget_after` after the last one.

Refused attempts are also tallied per address, typed name, outcome and hour
(`LoginRefusalTally`): the audit log gets one row per tally, not one per attempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from ipaddress import ip_address, ip_network

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from domain.models.orgs import LoginRefusalTally, LoginThrottle

TALLY_RETENTION = timedelta(days=90)


@dataclass(frozen=True)
class Backoff:
    """Failures allowed freely, then a wait doubling per failure from `first` to `ceiling`."""

    free: int
    first: timedelta
    ceiling: timedelta
    forget_after: timedelta

    def wait(self, failures: int) -> timedelta:
        """How long a key waits after this many failures in a row."""
        if failures < self.free:
            return timedelta(0)
        return min(self.ceiling, self.first * 2 ** min(failures - self.free, 32))


@dataclass(frozen=True)
class ThrottleRules:
    """The backoffs of source addresses, of user names, and of names at known addresses."""

    address: Backoff = field(default_factory=lambda: Backoff(
        10, timedelta(seconds=30), timedelta(hours=1), timedelta(hours=1)))
    account: Backoff = field(default_factory=lambda: Backoff(
        5, timedelta(minutes=15), timedelta(hours=24), timedelta(hours=24)))
    known: Backoff = field(default_factory=lambda: Backoff(
        5, timedelta(minutes=15), timedelta(hours=1), timedelta(hours=24)))
    known_for: timedelta = timedelta(days=90)


Charges = tuple[tuple[str, Backoff], ...]


def charges_for(address: str, username: str, known: bool, rules: ThrottleRules) -> Charges:
    """The keys an attempt is charged to: its address, and its name or name-at-address."""
    source = source_of(address)
    name = (f"known:{username}@{source}", rules.known) if known else (
        f"account:{username}", rules.account)
    return (f"address:{source}", rules.address), name


def source_of(address: str) -> str:
    """The source an address is counted under: itself, or its /64 network for IPv6, where
    one client holds a whole /64 and could try from a fresh address each time."""
    try:
        parsed = ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


async def admit(charges: Charges, now: datetime) -> timedelta | None:
    """Charge an attempt to its keys; or, while a key waits, how long it waits (S3)."""
    for key, backoff in charges:
        _row, created = await LoginThrottle.get_or_create(key=key)
        if created:
            await _forget_old_keys(key.split(":")[0], backoff, now)
    async with in_transaction():
        rows = [await LoginThrottle.select_for_update().get(key=key) for key, _ in charges]
        waits = [row.blocked_until - now for row in rows
                 if row.blocked_until is not None and row.blocked_until > now]
        if waits:
            return max(waits)
        for row, (_key, backoff) in zip(rows, charges, strict=True):
            forgotten = row.last_failure_at and row.last_failure_at + backoff.forget_after < now
            row.failures = 1 if forgotten else row.failures + 1
            wait = backoff.wait(row.failures)
            row.last_failure_at, row.blocked_until = now, (now + wait if wait else None)
            await row.save(update_fields=["failures", "last_failure_at", "blocked_until"])
    return None


async def release(charges: Charges) -> None:
    """A successful log-in: clear its name key and take its charge back from the address."""
    (address_key, backoff), (name_key, _) = charges
    async with in_transaction():
        await LoginThrottle.filter(key=name_key).update(failures=0, blocked_until=None)
        row = await LoginThrottle.select_for_update().get(key=address_key)
        row.failures = max(0, row.failures - 1)
        if not backoff.wait(row.failures):
            row.blocked_until = None
        await row.save(update_fields=["failures", "blocked_until"])


async def lift(username: str) -> None:
    """End every wait of a user name, at any address (a sysadmin issued a new password)."""
    await LoginThrottle.filter(key=f"account:{username}").delete()
    await LoginThrottle.filter(key__startswith=f"known:{username}@").delete()


async def _forget_old_keys(kind: str, backoff: Backoff, now: datetime) -> None:
    """Drop the keys of a kind whose failures are forgotten and whose wait is over."""
    await LoginThrottle.filter(
        Q(blocked_until=None) | Q(blocked_until__lt=now), key__startswith=f"{kind}:",
        last_failure_at__lt=now - backoff.forget_after,
    ).delete()


async def tally_refusal(address: str, username: str, outcome: str, now: datetime
                        ) -> LoginRefusalTally | None:
    """Count a refused attempt in its hour's tally; the tally when this attempt opened it."""
    window = now.replace(minute=0, second=0, microsecond=0)
    tally, created = await LoginRefusalTally.get_or_create(
        address=address, username=username, outcome=outcome, window_start=window,
        defaults={"last_at": now})
    await LoginRefusalTally.filter(id=tally.id).update(refusals=F("refusals") + 1, last_at=now)
    if not created:
        return None
    await LoginRefusalTally.filter(window_start__lt=now - TALLY_RETENTION).delete()
    return tally
