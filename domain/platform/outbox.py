"""The outbox: notifications written in the sender's transaction, delivered later (DESIGN §3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from domain.models import (
    BoxCount,
    Case,
    CaseStatus,
    ChatBinding,
    ChatSession,
    CountStatus,
    Inspection,
    InspectionStatus,
    OutboxMessage,
    OutboxStatus,
    Staff,
)
from domain.platform import audit
from domain.platform.access import Permission, require
from domain.platform.actors import Actor
from domain.platform.chat import preferred_locale
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError, NotFound
from locales import DEFAULT_LOCALE

CLAIM_LEASE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(minutes=30)

CHANNEL_PREFERENCE = ("telegram", "web")
ButtonRows = list[list[tuple[str, str]]]
REPLY = "reply"

# How long each kind of notification stays worth sending, by its kind: the subject and the
# event of its idempotency key ("case:7:r1:submitted:3" is "case:submitted"), else the
# subject alone, else DEFAULT_LIFETIME. Past it the message expires instead of being sent.
LIFETIMES: dict[str, timedelta] = {
    "case:submitted": timedelta(days=1),
    "case:second_approval": timedelta(days=1),
    "case:sla_reminder": timedelta(hours=4),
    "case:sla_escalation": timedelta(hours=8),
    "case:held_alert": timedelta(days=2),
    "case": timedelta(days=3),
    "box_count:requested": timedelta(hours=12),
    "box_count:reminded": timedelta(hours=12),
    "box_count:escalated": timedelta(days=1),
    "box_count": timedelta(days=3),
    "inspection": timedelta(days=3),
    "special:requested": timedelta(days=1),
    "special": timedelta(days=3),
    "callback": timedelta(days=3),
    "device:issued": timedelta(days=3),
    REPLY: timedelta(hours=1),
}
DEFAULT_LIFETIME = timedelta(days=7)

# Kinds that ask the recipient to act on a case, a count or an inspection: dropped as soon
# as their subject no longer waits for that action, whatever their lifetime says.
OPEN_CASE = (CaseStatus.SUBMITTED, CaseStatus.IN_REVIEW, CaseStatus.ON_HOLD)
OPEN_COUNT = (CountStatus.REQUESTED, CountStatus.RETRY, CountStatus.UNANSWERED)
ACTION_KINDS: dict[str, str] = {
    "case:submitted": "case", "case:second_approval": "case", "case:sla_reminder": "case",
    "case:sla_escalation": "case", "case:held_alert": "case",
    "box_count:requested": "box_count", "box_count:reminded": "box_count",
    "box_count:escalated": "box_count",
    "inspection": "inspection", "inspection:surprise": "inspection",
    "inspection:count_requested": "inspection", "inspection:escalated": "inspection",
}
_NOT_AN_EVENT = re.compile(r"^(\d+|[ar]\d+)$")


def kind_of(idempotency_key: str) -> str:
    """The kind of a notification from its idempotency key: subject, then the event."""
    subject, *rest = idempotency_key.split(":")
    event = next((part for part in rest[1:] if not _NOT_AN_EVENT.match(part)), "")
    return f"{subject}:{event}" if event else subject


def lifetime_of(kind: str) -> timedelta:
    """How long a notification of this kind stays worth sending."""
    subject = kind.split(":")[0]
    return LIFETIMES.get(kind) or LIFETIMES.get(subject) or DEFAULT_LIFETIME


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
    translated when sent. A second call with the same idempotency key adds nothing. The
    message expires after the lifetime of its kind (LIFETIMES).
    """
    await _add(recipient_id, channel or await preferred_channel(recipient_id),
               kind_of(idempotency_key), template, params or {}, buttons or [],
               idempotency_key, utcnow())


async def enqueue_replies(channel: str, external_user_id: str, update_key: str,
                          replies: list[tuple[str, ButtonRows]]) -> int:
    """Queue translated replies the chat could not take at once, for the dispatcher to
    retry (DESIGN §3); returns how many were queued (none for an unbound chat account)."""
    bound = await ChatBinding.get_or_none(channel=channel, external_user_id=external_user_id)
    if bound is None:
        return 0
    now = utcnow()
    async with in_transaction():
        for number, (text, buttons) in enumerate(replies):
            await _add(bound.staff_id, channel, REPLY, text, {},  # type: ignore[attr-defined]
                       buttons, f"{REPLY}:{channel}:{update_key}:{number}:{now.timestamp()}",
                       now)
    return len(replies)


async def _add(recipient_id: int, channel: str, kind: str, template: str,
               params: dict[str, Any], buttons: ButtonRows, key: str, now: datetime) -> None:
    await OutboxMessage.bulk_create(
        [OutboxMessage(recipient_id=recipient_id, channel=channel, kind=kind,
                       template=template, params=params,
                       buttons=[[list(button) for button in row] for row in buttons],
                       idempotency_key=key, next_attempt_at=now, created_at=now,
                       expires_at=now + lifetime_of(kind))],
        ignore_conflicts=True,
    )


async def preferred_channel(staff_id: int) -> str:
    """The channel a staff member is reached on: Telegram first, else the browser chat."""
    bound = set(await ChatBinding.filter(staff_id=staff_id).values_list("channel", flat=True))
    return next((c for c in CHANNEL_PREFERENCE if c in bound), CHANNEL_PREFERENCE[0])


@dataclass(frozen=True)
class Delivery:
    """A claimed message with what the channel adapter needs to send it.

    `chat_id` is None when the recipient has no chat on the channel; a `rendered` message
    holds its final text (a reply), the others a msgid to translate into `locale`.
    """

    message_id: int
    channel: str
    chat_id: str | None
    locale: str
    template: str
    params: dict[str, Any]
    attempts: int
    buttons: tuple[tuple[tuple[str, str], ...], ...] = ()
    rendered: bool = False


async def claim_due(limit: int = 50, channels: tuple[str, ...] | None = None, *,
                    max_attempts: int = 8, default_locale: str = DEFAULT_LOCALE,
                    now: datetime | None = None) -> list[Delivery]:
    """Claim due messages of the given channels (all when None) for this dispatcher.

    Messages past their moment expire first. A claim that outlived its lease (a crash
    mid-send) counts as a failed attempt, so a message that brings a sender down goes dead
    after `max_attempts` instead of being sent again forever.
    """
    now = now or utcnow()
    only = {"channel__in": list(channels)} if channels is not None else {}
    await expire_overdue(now)
    await _count_lost_claims(now, max_attempts, only)
    due = await OutboxMessage.filter(
        status=OutboxStatus.PENDING, next_attempt_at__lte=now, **only
    ).order_by("next_attempt_at", "id").limit(limit).values_list("id", flat=True)
    claimed: list[Delivery] = []
    for message_id in due:
        won = await OutboxMessage.filter(
            id=message_id, status=OutboxStatus.PENDING, next_attempt_at__lte=now,
        ).update(status=OutboxStatus.SENDING, claimed_until=now + CLAIM_LEASE)
        if not won:
            continue
        message = await OutboxMessage.get(id=message_id).prefetch_related("recipient")
        if await _moment_passed(message):
            await OutboxMessage.filter(id=message_id).update(
                status=OutboxStatus.EXPIRED, claimed_until=None,
                last_error="its subject no longer waits for this")
            continue
        claimed.append(await _delivery(message, default_locale))
    return claimed


async def expire_overdue(now: datetime) -> int:
    """Mark waiting messages whose lifetime is over as expired; returns how many."""
    return await OutboxMessage.filter(
        status__in=[OutboxStatus.PENDING, OutboxStatus.WAITING], expires_at__lte=now
    ).update(status=OutboxStatus.EXPIRED, claimed_until=None)


async def _count_lost_claims(now: datetime, max_attempts: int, only: dict[str, Any]) -> None:
    lost = OutboxMessage.filter(status=OutboxStatus.SENDING, claimed_until__lt=now, **only)
    error = "the sender stopped during the attempt (claim expired)"
    await lost.filter(attempts__gte=max_attempts - 1).update(
        status=OutboxStatus.DEAD, attempts=F("attempts") + 1, claimed_until=None,
        last_error=error)
    await lost.update(status=OutboxStatus.PENDING, attempts=F("attempts") + 1,
                      claimed_until=None, next_attempt_at=now, last_error=error)


async def _moment_passed(message: OutboxMessage) -> bool:
    """Whether an action notice's subject no longer waits for the action (its moment)."""
    subject = ACTION_KINDS.get(message.kind)
    if subject is None:
        return False
    parts = message.idempotency_key.split(":")
    subject_id = int(parts[1])
    if subject == "case":
        case = await Case.get_or_none(id=subject_id).only("id", "status", "revision")
        revision = parts[2][1:] if parts[2].startswith("r") else None
        return case is None or case.status not in OPEN_CASE or (
            revision is not None and str(case.revision) != revision)
    if subject == "box_count":
        count = await BoxCount.get_or_none(id=subject_id).only("id", "status")
        return count is None or count.status not in OPEN_COUNT
    inspection = await Inspection.get_or_none(id=subject_id).only("id", "status")
    return inspection is None or inspection.status == InspectionStatus.COMPLETED


async def _delivery(message: OutboxMessage, default_locale: str) -> Delivery:
    """The message as the channel sends it, in the language the recipient's replies use."""
    recipient: Staff = message.recipient
    binding = await ChatBinding.get_or_none(staff=recipient, channel=message.channel)
    session = None if binding is None else await ChatSession.get_or_none(
        channel=message.channel, external_user_id=binding.external_user_id)
    locale = preferred_locale(session.locale if session else None, recipient.locale,
                              binding.language_code if binding else None, default_locale)
    return Delivery(
        message_id=message.id, channel=message.channel,
        chat_id=binding.chat_id if binding else None, locale=locale,
        template=message.template, params=message.params, attempts=message.attempts,
        buttons=tuple(tuple((str(label), str(data)) for label, data in row)
                      for row in message.buttons or []),
        rendered=message.kind == REPLY,
    )


async def wait_for_binding(message_id: int) -> str:
    """Put back a message whose recipient has no chat on its channel, without counting an
    attempt: moved to a channel he is bound on, else kept until he binds or it expires."""
    message = await OutboxMessage.get(id=message_id)
    channel = await preferred_channel(message.recipient_id)  # type: ignore[attr-defined]
    bound = await ChatBinding.exists(staff_id=message.recipient_id,  # type: ignore[attr-defined]
                                     channel=channel)
    if bound and channel != message.channel:
        await OutboxMessage.filter(id=message_id, status=OutboxStatus.SENDING).update(
            status=OutboxStatus.PENDING, channel=channel, claimed_until=None,
            next_attempt_at=utcnow())
        return f"moved to {channel}"
    await OutboxMessage.filter(id=message_id, status=OutboxStatus.SENDING).update(
        status=OutboxStatus.WAITING, claimed_until=None,
        last_error=f"waiting for a {message.channel} chat binding")
    return "waiting for a binding"


async def release_for_binding(staff_id: int, channel: str) -> int:
    """Send what waited for the staff member's chat to the chat he just bound; returns how
    many messages go out."""
    now = utcnow()
    return await OutboxMessage.filter(
        recipient_id=staff_id, status=OutboxStatus.WAITING,
    ).filter(Q(expires_at=None) | Q(expires_at__gt=now)).update(
        status=OutboxStatus.PENDING, channel=channel, next_attempt_at=now)


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

