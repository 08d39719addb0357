"""The outbox: notifications written in the sender's transaction, delivered later (DESIGN §3)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F, Q
from tortoise.functions import Count
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
from domain.platform.intents import KINDS, Action, Intent, Subject, SubjectType
from locales import DEFAULT_LOCALE

CLAIM_LEASE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(minutes=30)

CHANNEL_PREFERENCE = ("telegram", "web")
ButtonRows = list[list[tuple[str, str]]]  # a reply's buttons, as its channel made them
REPLY = "reply"
REPLY_LIFETIME = timedelta(hours=1)

# Subjects still waiting for the action of an `until_settled` notice (its moment).
OPEN_CASE = (CaseStatus.SUBMITTED, CaseStatus.IN_REVIEW, CaseStatus.ON_HOLD)
OPEN_COUNT = (CountStatus.REQUESTED, CountStatus.RETRY, CountStatus.UNANSWERED)


async def enqueue(
    recipient_id: int,
    template: str,
    params: dict[str, Any] | None = None,
    *,
    intent: Intent,
    idempotency_key: str,
    channel: str | None = None,
) -> None:
    """Queue a notification with its intent; call inside the transaction of the change it
    reports.

    Without a channel the message goes to the recipient's Telegram chat, or to his browser
    chat when he has no Telegram binding. A second call with the same idempotency key adds
    nothing. The message expires after the lifetime of its kind.
    """
    now, subject = utcnow(), intent.subject
    await _add(OutboxMessage(
        recipient_id=recipient_id, channel=channel or await preferred_channel(recipient_id),
        kind=intent.kind, subject_type=subject.type.value, subject_id=subject.id,
        subject_revision=subject.revision, actions=[a.value for a in intent.actions],
        template=template, params=params or {}, idempotency_key=idempotency_key,
        next_attempt_at=now, created_at=now, expires_at=now + intent.lifetime))


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
            await _add(OutboxMessage(
                recipient_id=bound.staff_id, channel=channel,  # type: ignore[attr-defined]
                kind=REPLY, template=text,
                buttons=[[list(button) for button in row] for row in buttons],
                idempotency_key=f"{REPLY}:{channel}:{update_key}:{number}:{now.timestamp()}",
                next_attempt_at=now, created_at=now, expires_at=now + REPLY_LIFETIME))
    return len(replies)


async def _add(message: OutboxMessage) -> None:
    await OutboxMessage.bulk_create([message], ignore_conflicts=True)


async def preferred_channel(staff_id: int) -> str:
    """The channel a staff member is reached on: Telegram first, else the browser chat."""
    bound = set(await ChatBinding.filter(staff_id=staff_id).values_list("channel", flat=True))
    return next((c for c in CHANNEL_PREFERENCE if c in bound), CHANNEL_PREFERENCE[0])


@dataclass(frozen=True)
class Delivery:
    """A claimed message with what the channel adapter needs to send it.

    `chat_id` is None when the recipient has no chat on the channel. A notification holds a
    msgid to translate into `locale` and its intent, for the channel to render; a reply (no
    intent) holds its final text and the buttons its channel made.
    """

    message_id: int
    channel: str
    chat_id: str | None
    locale: str
    template: str
    params: dict[str, Any]
    attempts: int
    intent: Intent | None = None
    buttons: tuple[tuple[tuple[str, str], ...], ...] = ()


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
        try:
            claimed.append(await _delivery(message, default_locale))
        except ValueError as error:  # an intent this version no longer knows
            await OutboxMessage.filter(id=message_id).update(
                status=OutboxStatus.DEAD, claimed_until=None, last_error=str(error))
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
    """Whether an `until_settled` notice's subject no longer waits for the action."""
    kind = KINDS.get(message.kind)
    if kind is None or not kind.until_settled:
        return False
    return await SETTLED[kind.subject](message)


async def _case_settled(message: OutboxMessage) -> bool:
    """The case is decided, or the notice is about a revision it has left."""
    case = await Case.get_or_none(id=message.subject_id).only("id", "status", "revision")
    return case is None or case.status not in OPEN_CASE or (
        message.subject_revision is not None and case.revision != message.subject_revision)


async def _count_settled(message: OutboxMessage) -> bool:
    """The count is answered or closed."""
    count = await BoxCount.get_or_none(id=message.subject_id).only("id", "status")
    return count is None or count.status not in OPEN_COUNT


async def _inspection_settled(message: OutboxMessage) -> bool:
    """The inspection is completed."""
    inspection = await Inspection.get_or_none(id=message.subject_id).only("id", "status")
    return inspection is None or inspection.status == InspectionStatus.COMPLETED


# How an `until_settled` notice learns that its subject no longer waits, by subject type.
SETTLED: dict[SubjectType, Callable[[OutboxMessage], Awaitable[bool]]] = {
    SubjectType.CASE: _case_settled,
    SubjectType.BOX_COUNT: _count_settled,
    SubjectType.INSPECTION: _inspection_settled,
}


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
        intent=_intent_to_send(message),
        buttons=tuple(tuple((str(label), str(data)) for label, data in row)
                      for row in message.buttons or []),
    )


def _intent_to_send(message: OutboxMessage) -> Intent | None:
    """The intent of a row being sent; a notification without one cannot be sent."""
    intent = intent_of(message)
    if intent is None and message.kind != REPLY:
        raise ValueError(f"notification {message.id} has no intent")
    return intent


def intent_of(message: OutboxMessage) -> Intent | None:
    """The intent of a notification row; None for a reply and a row written before intents
    (migration 0014 gave one to every row still to be sent)."""
    if not message.subject_type:
        return None
    subject = Subject(SubjectType(message.subject_type), message.subject_id,  # type: ignore[arg-type]
                      message.subject_revision)
    return Intent(message.kind, subject, tuple(Action(name) for name in message.actions or ()))


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


# The states /metrics counts: work to do or to look at, never the finished history.
COUNTED = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.WAITING, OutboxStatus.DEAD)


async def status_counts() -> dict[str, int]:
    """Outbox rows still to be sent or seen to (pending, sending, waiting, dead), for /metrics,
    in one grouped query an index answers however many finished rows the outbox keeps until
    they are pruned (issue 14); sent and expired rows are not counted."""
    rows = await OutboxMessage.filter(status__in=COUNTED).annotate(
        rows=Count("id")).group_by("status").values_list("status", "rows")
    return {status.value: 0 for status in COUNTED} | {str(s): n for s, n in rows}

