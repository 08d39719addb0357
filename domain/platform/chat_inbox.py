"""The durable inbox of pushed chat messages (issue 15): stored once on arrival, handled later,
per sender in arrival order, by one worker at a time among any number of processes.

A platform that pushes messages and retries an unanswered push (WeCom waits 5 s, then retries
three times) is answered as soon as the message is stored; a retry (the same dedupe key) is
not stored again. A worker claims the head pending message of a sender — only when no other
message of that sender is claimed — under a fencing token until its lease ends, in one
statement (`UPDATE … RETURNING`, skipping rows another claim has locked on PostgreSQL), like
the outbox's head-of-chat claim. A worker that dies mid-handling leaves the claim to lapse;
the message is then taken again, each claim counting an attempt, and after `max_attempts` it
is marked dead with its error. A worker handling a message renews its claim while it works
(`renew`), so a slow platform does not let the claim lapse under it. The payload stays as the
platform encrypted it and is emptied once the message is handled or dead; both are forgotten
after `KEEP_HANDLED` (`prune`).

Arrival order is the order of the rows' ids. On PostgreSQL an id is taken when the row is
inserted, before its commit: two messages of one sender stored at the same moment by two
processes can commit in the opposite order, and the later one be claimed in the few
milliseconds before the earlier one commits. The bound: only messages whose stores overlap
(WeCom pushes one at a time per callback, so in practice a sender's messages sent within the
same instant); SQLite has one writer and keeps the order.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.functions import Count

from domain.models import ChatInboxMessage, InboxStatus

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 5
RETRY_AFTER = timedelta(seconds=5)
KEEP_HANDLED = timedelta(days=7)  # handled and dead rows: longer than any platform retries
MAX_DEDUPE_KEY = 128  # the column's width; longer keys are hashed
LOST_CLAIM = "the worker stopped during handling (claim expired)"


@dataclass(frozen=True)
class InboxItem:
    """A claimed message: what the channel stored, and the token that fences the claim."""

    id: int
    channel: str
    sender: str
    dedupe_key: str
    payload: str
    attempts: int
    claim_token: str


def dedupe_column(key: str) -> str:
    """The dedupe key as stored: itself, or its SHA-256 when longer than the column."""
    return key if len(key) <= MAX_DEDUPE_KEY else hashlib.sha256(key.encode()).hexdigest()


async def store(channel: str, dedupe_key: str, sender: str, payload: str, now: datetime
                ) -> bool:
    """Keep a pushed message until it is handled (issue 15); False when a message with the
    same dedupe key was stored before (a platform's retry), which is not stored again."""
    key = dedupe_column(dedupe_key)
    if await ChatInboxMessage.exists(channel=channel, dedupe_key=key):
        return False
    try:
        await ChatInboxMessage.create(channel=channel, dedupe_key=key, sender=sender,
                                      payload=payload, received_at=now)
    except IntegrityError:  # the same retry stored meanwhile by another worker
        return False
    return True


async def claim(channel: str, now: datetime, *, limit: int = 10,
                lease: timedelta = CLAIM_LEASE, max_attempts: int = MAX_ATTEMPTS,
                skip: Collection[int] = ()) -> list[InboxItem]:
    """Claim the head pending message of up to `limit` senders whose messages none holds
    (issue 15), oldest first, each claim an attempt; a lapsed claim past `max_attempts` goes
    dead first. Messages in `skip` (the caller is still handling them) are never taken, even
    when their claim lapsed."""
    await _bury_lost_claims(channel, now, max_attempts, skip)
    token = secrets.token_hex(16)
    ids = await _claim(channel, token, now + lease, now, limit, skip)
    rows = await ChatInboxMessage.filter(id__in=ids, claim_token=token).order_by("id")
    return [InboxItem(row.id, row.channel, row.sender, row.dedupe_key, row.payload,
                      row.attempts, token) for row in rows]


async def _claim(channel: str, token: str, until: datetime, now: datetime, limit: int,
                 skip: Collection[int]) -> list[int]:
    """The one claiming statement over the senders' head messages (PostgreSQL skips rows
    another claim has locked; SQLite has one writer)."""
    connection = connections.get("default")
    postgres = connection.capabilities.dialect == "postgres"
    args: list[Any] = []

    def mark(value: Any) -> str:
        args.append(value)
        return f"${len(args)}" if postgres else "?"

    pending = InboxStatus.PENDING.value
    # The markers are made in the order they stand in the statement (SQLite counts them).
    sql = (
        f'UPDATE "chat_inbox" SET "claim_token" = {mark(token)}, "claimed_until" = '
        f'{mark(until)}, "attempts" = "attempts" + 1 WHERE "id" IN ('
        f'SELECT m."id" FROM "chat_inbox" m WHERE m."channel" = {mark(channel)} '
        f'AND m."status" = {mark(pending)} '
        f'AND (m."claimed_until" IS NULL OR m."claimed_until" <= {mark(now)}) '
        f'{_not_in(skip, mark)}'
        'AND NOT EXISTS (SELECT 1 FROM "chat_inbox" e WHERE e."channel" = m."channel" '
        f'AND e."sender" = m."sender" AND e."status" = {mark(pending)} AND e."id" < m."id") '
        f'ORDER BY m."id" LIMIT {mark(limit)}'
        f'{" FOR UPDATE SKIP LOCKED" if postgres else ""}) RETURNING "id"')
    rows = await connection.execute_query_dict(sql, args)
    return [row["id"] for row in rows]


def _not_in(skip: Collection[int], mark: Callable[[Any], str]) -> str:
    """The condition leaving out the messages in `skip` (none: no condition)."""
    if not skip:
        return ""
    return f'AND m."id" NOT IN ({", ".join(mark(int(id_)) for id_ in sorted(skip))}) '


async def _bury_lost_claims(channel: str, now: datetime, max_attempts: int,
                            skip: Collection[int]) -> None:
    """A message whose every attempt ended with its worker gone is dead, not taken again;
    its payload is emptied."""
    lost = ChatInboxMessage.filter(channel=channel, status=InboxStatus.PENDING,
                                   claim_token__isnull=False, claimed_until__lte=now,
                                   attempts__gte=max_attempts).exclude(id__in=list(skip))
    for row in await lost.only("id", "sender", "dedupe_key"):
        log.error("%s inbox message %s of %s is dead: %s", channel, row.dedupe_key,
                  row.sender, LOST_CLAIM)
    await lost.update(status=InboxStatus.DEAD, claim_token=None, claimed_until=None,
                      last_error=LOST_CLAIM, payload="")


async def renew(item: InboxItem, until: datetime) -> bool:
    """Hold a claim longer while its message is being handled (issue 15); False when the
    claim was lost (lapsed and taken by another worker, or the message no longer pending)."""
    return bool(await ChatInboxMessage.filter(
        id=item.id, status=InboxStatus.PENDING, claim_token=item.claim_token,
    ).update(claimed_until=until))


async def handled(item: InboxItem, now: datetime) -> bool:
    """Mark a claimed message handled and drop its payload, while the claim is still this
    one (fencing); False when it was lost to another worker."""
    return bool(await ChatInboxMessage.filter(
        id=item.id, status=InboxStatus.PENDING, claim_token=item.claim_token,
    ).update(status=InboxStatus.HANDLED, handled_at=now, payload="", claim_token=None,
             claimed_until=None))


async def failed(item: InboxItem, error: str, now: datetime, *,
                 max_attempts: int = MAX_ATTEMPTS, retry_after: timedelta = RETRY_AFTER
                 ) -> InboxStatus | None:
    """Record a failed attempt: tried again after `retry_after`, the sender's later messages
    waiting behind it, or dead after `max_attempts` (logged, its payload emptied); None when
    the claim was lost."""
    dead = item.attempts >= max_attempts
    status = InboxStatus.DEAD if dead else InboxStatus.PENDING
    emptied: dict[str, Any] = {"payload": ""} if dead else {}
    updated = await ChatInboxMessage.filter(
        id=item.id, status=InboxStatus.PENDING, claim_token=item.claim_token,
    ).update(status=status, last_error=error[:2000], claim_token=None,
             claimed_until=None if dead else now + retry_after, **emptied)
    if not updated:
        return None
    if dead:
        log.error("%s inbox message %s of %s is dead after %d attempts: %s", item.channel,
                  item.dedupe_key, item.sender, item.attempts, error)
    return status


async def release(item: InboxItem) -> bool:
    """Give a claimed message back without counting the attempt (its worker is stopping)."""
    return bool(await ChatInboxMessage.filter(
        id=item.id, status=InboxStatus.PENDING, claim_token=item.claim_token,
    ).update(claim_token=None, claimed_until=None, attempts=max(item.attempts - 1, 0)))


async def prune(channel: str, before: datetime) -> int:
    """Forget handled and dead messages received before `before` (a retry cannot come that
    late; a dead one's error has been seen in /metrics and the log by then)."""
    return await ChatInboxMessage.filter(
        channel=channel, status__in=[InboxStatus.HANDLED, InboxStatus.DEAD],
        received_at__lt=before).delete()


async def status_counts() -> dict[tuple[str, str], int]:
    """Messages still to handle or dead, by channel and status, for /metrics."""
    rows = await ChatInboxMessage.filter(
        status__in=[InboxStatus.PENDING, InboxStatus.DEAD],
    ).annotate(rows=Count("id")).group_by("channel", "status").values_list(
        "channel", "status", "rows")
    return {(str(channel), str(status)): count for channel, status, count in rows}
