"""Retention of platform bookkeeping (issue 14): finished rows are pruned after a setting.

What goes, once older than the retention (FIELDOPS_RETENTION_DAYS, 30 days by default):

- outbox messages that are finished: sent (by `sent_at`), dead or expired (by `created_at`);
  a message still to be sent (pending, sending, waiting) stays however old it is;
- processed-update marks, never before a week whatever the setting, since a chat platform
  may redeliver an update for a day and a mark forgotten early would handle it twice;
- one-time bind codes that expired (used, revoked or never used: only their hash is kept);
- login-throttle keys whose last failure is that old and whose wait is over;
- inbound-rate hits of the chat limits (their window is an hour at most);
- arrival notes of webhook updates, which keep each chat's order for seconds (issue 14);
- chat cards with buttons (WeCom, issue 15) sent that long ago: their notices expired long
  before, a press of one left in a chat is answered as a stale button;
- web notices (issue 16) read that long ago (by `read_at`); an unread one stays.

Never pruned here: the audit log (append-only), ledgers, cases and every other record.
Ended web sessions (a day after they end) and the notes of deleted customer-data chat
messages (a week) are pruned by their own sweeps, sooner than this.

Each kind is deleted in batches (`Retention.batch` rows per statement, looping) so no
statement holds a long lock; a batch re-checks the whole condition, so a row that changed in
between (a dead message retried by an admin) is not deleted. A sweep is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise import connections
from tortoise.expressions import Q
from tortoise.models import Model

from domain.models import (
    BindCode,
    ChatCard,
    ChatInbound,
    ChatInboundHit,
    OutboxMessage,
    OutboxStatus,
    ProcessedUpdate,
    WebNotice,
)
from domain.models.orgs import LoginThrottle
from domain.platform.clock import utcnow

log = logging.getLogger(__name__)

REDELIVERY_FLOOR = timedelta(days=7)  # processed-update marks are kept at least this long
FINISHED_UNSENT = (OutboxStatus.DEAD, OutboxStatus.EXPIRED)

Progress = Callable[[str, int], None]  # (kind, rows removed so far)


@dataclass(frozen=True)
class Retention:
    """How long finished bookkeeping is kept, and how many rows one statement deletes."""

    days: int = 30
    batch: int = 5000

    @property
    def period(self) -> timedelta:
        """The retention as a duration."""
        return timedelta(days=self.days)


@dataclass(frozen=True)
class Prunable:
    """One kind of bookkeeping row: its table and which of its rows are old enough to go."""

    kind: str
    model: type[Model]
    old_rows: Callable[[datetime, timedelta], Q]  # (now, retention) -> condition


def _finished_outbox(now: datetime, retention: timedelta) -> Q:
    cutoff = now - retention
    return (Q(status=OutboxStatus.SENT, sent_at__lt=cutoff)
            | Q(status__in=list(FINISHED_UNSENT), created_at__lt=cutoff))


def _processed_updates(now: datetime, retention: timedelta) -> Q:
    return Q(processed_at__lt=now - max(retention, REDELIVERY_FLOOR))


def _expired_bind_codes(now: datetime, retention: timedelta) -> Q:
    return Q(expires_at__lt=now - retention)


def _forgotten_throttle_keys(now: datetime, retention: timedelta) -> Q:
    return Q(last_failure_at__lt=now - retention) & (Q(blocked_until=None)
                                                     | Q(blocked_until__lt=now))


def _inbound_hits(now: datetime, retention: timedelta) -> Q:
    return Q(at__lt=now - retention)


def _inbound_arrivals(now: datetime, retention: timedelta) -> Q:
    return Q(received_at__lt=now - retention)


def _sent_cards(now: datetime, retention: timedelta) -> Q:
    return Q(sent_at__lt=now - retention)


def _read_notices(now: datetime, retention: timedelta) -> Q:
    return Q(read_at__lt=now - retention)


PRUNABLE: tuple[Prunable, ...] = (
    Prunable("outbox_message", OutboxMessage, _finished_outbox),
    Prunable("processed_update", ProcessedUpdate, _processed_updates),
    Prunable("bind_code", BindCode, _expired_bind_codes),
    Prunable("login_throttle", LoginThrottle, _forgotten_throttle_keys),
    Prunable("chat_inbound_hit", ChatInboundHit, _inbound_hits),
    Prunable("chat_inbound", ChatInbound, _inbound_arrivals),
    Prunable("chat_card", ChatCard, _sent_cards),
    Prunable("web_notice", WebNotice, _read_notices),
)


async def prune(retention: Retention, *, now: datetime | None = None,
                progress: Progress | None = None) -> dict[str, int]:
    """Delete the bookkeeping rows past the retention, kind by kind in batches, and log the
    count of each (issue 14: retention); returns rows removed per kind."""
    now = now or utcnow()
    removed: dict[str, int] = {}
    for prunable in PRUNABLE:
        await _gather_statistics(prunable.model)
        removed[prunable.kind] = await _prune_kind(prunable, now, retention, progress)
        if removed[prunable.kind]:
            log.info("retention: %d %s rows older than %d days pruned",
                     removed[prunable.kind], prunable.kind, retention.days)
    return removed


async def _gather_statistics(model: type[Model]) -> None:
    """Let SQLite plan the batches with a table's statistics, as PostgreSQL's autovacuum
    keeps them: without them SQLite reads every finished row through the status index and
    sorts them again for each batch; with them it reads the table in id order, oldest first,
    and stops at the batch."""
    client = connections.get("default")
    if client.capabilities.dialect == "sqlite":
        await client.execute_script(f'ANALYZE "{model._meta.db_table}"')


async def _prune_kind(prunable: Prunable, now: datetime, retention: Retention,
                      progress: Progress | None) -> int:
    """Delete one kind's old rows `retention.batch` at a time, oldest first."""
    condition = prunable.old_rows(now, retention.period)
    removed = 0
    while True:
        ids = await prunable.model.filter(condition).order_by("id").limit(
            retention.batch).values_list("id", flat=True)
        if not ids:
            break
        removed += await prunable.model.filter(condition, id__in=ids).delete()
        if progress:
            progress(prunable.kind, removed)
        if len(ids) < retention.batch:
            break
    return removed
