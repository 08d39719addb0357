"""The outbox: notifications written in the sender's transaction, delivered later (DESIGN §3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.clock import utcnow
from domain.errors import N_, DomainError, NotFound
from domain.models import ChatBinding, OutboxMessage, OutboxStatus, Staff
from domain.services import audit
from domain.services.access import Permission, require
from domain.services.actors import Actor

CLAIM_LEASE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(minutes=30)


CHANNEL_PREFERENCE = ("telegram", "web")
ButtonRows = list[list[tuple[str, str]]]


async def enqueue(
    recipient_id: int,
    template: str,
    params: dict[str, Any] | None = None,
    *,
    idempotency_key: str,
    channel: str | None = None,
    buttons: ButtonRows | None = None,
) -> None:
    """Queue a notification; call inside the transaction of the change it reports.

    Without a channel the message goes to the recipient's Telegram chat, or to his browser
    chat when he has no Telegram binding. `buttons` are rows of (label msgid, data) pairs,
    translated when sent. A second call with the same idempotency key adds nothing.
    """
    await OutboxMessage.bulk_create(
        [OutboxMessage(recipient_id=recipient_id,
                       channel=channel or await preferred_channel(recipient_id),
                       template=template, params=params or {},
                       buttons=[[list(button) for button in row] for row in buttons or []],
                       idempotency_key=idempotency_key, next_attempt_at=utcnow(),
                       created_at=utcnow())],
        ignore_conflicts=True,
    )


async def preferred_channel(staff_id: int) -> str:
    """The channel a staff member is reached on: Telegram first, else the browser chat."""
    bound = set(await ChatBinding.filter(staff_id=staff_id).values_list("channel", flat=True))
    return next((c for c in CHANNEL_PREFERENCE if c in bound), CHANNEL_PREFERENCE[0])


@dataclass(frozen=True)
class Delivery:
    """A claimed message with what the channel adapter needs to send it."""

    message_id: int
    channel: str
    chat_id: str | None
    locale: str | None
    template: str
    params: dict[str, Any]
    attempts: int
    buttons: tuple[tuple[tuple[str, str], ...], ...] = ()


async def claim_due(limit: int = 50, channels: tuple[str, ...] | None = None) -> list[Delivery]:
    """Claim due messages of the given channels (all when None) for this dispatcher.

    A crashed claim is taken over after its lease.
    """
    now = utcnow()
    only = {"channel__in": list(channels)} if channels is not None else {}
    due = await OutboxMessage.filter(
        status=OutboxStatus.PENDING, next_attempt_at__lte=now, **only
    ).order_by("next_attempt_at", "id").limit(limit).values_list("id", flat=True)
    stale = await OutboxMessage.filter(
        status=OutboxStatus.SENDING, claimed_until__lt=now, **only
    ).limit(limit).values_list("id", flat=True)
    claimed: list[Delivery] = []
    for message_id in [*due, *stale]:
        won = await OutboxMessage.filter(
            Q(claimed_until=None) | Q(claimed_until__lt=now),
            id=message_id,
            status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING],
            next_attempt_at__lte=now,
        ).update(
            status=OutboxStatus.SENDING, claimed_until=now + CLAIM_LEASE
        )
        if won:
            claimed.append(await _delivery(message_id))
    return claimed


async def _delivery(message_id: int) -> Delivery:
    message = await OutboxMessage.get(id=message_id).prefetch_related("recipient")
    recipient: Staff = message.recipient
    binding = await ChatBinding.get_or_none(staff=recipient, channel=message.channel)
    return Delivery(
        message_id=message.id, channel=message.channel,
        chat_id=binding.chat_id if binding else None, locale=recipient.locale,
        template=message.template, params=message.params, attempts=message.attempts,
        buttons=tuple(tuple((str(label), str(data)) for label, data in row)
                      for row in message.buttons or []),
    )


async def mark_sent(message_id: int) -> None:
    """Record a successful delivery."""
    await OutboxMessage.filter(id=message_id, status=OutboxStatus.SENDING).update(
        status=OutboxStatus.SENT, sent_at=utcnow(), claimed_until=None
    )


async def mark_failed(
    message_id: int,
    error: str,
    *,
    retry_after: float | None,
    backoff: timedelta,
    max_attempts: int,
    permanent: bool = False,
) -> OutboxStatus:
    """Schedule the next attempt (honouring `retry_after`) or mark the message dead."""
    message = await OutboxMessage.get(id=message_id)
    attempts = message.attempts + 1
    if permanent or attempts >= max_attempts:
        status, next_at = OutboxStatus.DEAD, message.next_attempt_at
    else:
        wait = timedelta(seconds=retry_after) if retry_after is not None else min(
            backoff * (2 ** (attempts - 1)), MAX_BACKOFF
        )
        status, next_at = OutboxStatus.PENDING, utcnow() + wait
    await OutboxMessage.filter(id=message_id).update(
        status=status, attempts=attempts, next_attempt_at=next_at,
        last_error=error[:2000], claimed_until=None,
    )
    return status


async def list_messages(actor: Actor, status: OutboxStatus, limit: int = 200
                        ) -> list[OutboxMessage]:
    """Outbox rows in one state, newest first, for the admin."""
    require(actor, Permission.OUTBOX_VIEW)
    return await OutboxMessage.filter(status=status).prefetch_related("recipient").order_by(
        "-id"
    ).limit(limit)


async def count_messages(actor: Actor, status: OutboxStatus) -> int:
    """Number of outbox rows in one state, for the admin."""
    require(actor, Permission.OUTBOX_VIEW)
    return await OutboxMessage.filter(status=status).count()


async def retry_dead(actor: Actor, message_id: int) -> None:
    """Put a dead message back in the queue for a fresh round of attempts."""
    require(actor, Permission.OUTBOX_RETRY)
    async with in_transaction():
        message = await OutboxMessage.get_or_none(id=message_id)
        if message is None:
            raise NotFound(N_("No such outbox message."))
        if message.status != OutboxStatus.DEAD:
            raise DomainError(N_("Only dead messages can be retried."))
        message.status = OutboxStatus.PENDING
        message.attempts = 0
        message.next_attempt_at = utcnow()
        await message.save(update_fields=["status", "attempts", "next_attempt_at"])
        await audit.record(actor, "outbox.retry", "outbox_message", message.id)


async def status_counts() -> dict[str, int]:
    """Number of outbox rows per state (for /metrics and the dashboard)."""
    counts = {}
    for status in OutboxStatus:
        counts[status.value] = await OutboxMessage.filter(status=status).count()
    return counts

