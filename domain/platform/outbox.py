"""The outbox: notifications written in the sender's transaction, delivered later (DESIGN §3)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise import connections
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
from domain.platform import audit, outbox_wake, web_notices
from domain.platform.access import Permission, require
from domain.platform.actors import Actor
from domain.platform.chat import preferred_locale
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError, NotFound
from domain.platform.intents import KINDS, Action, Intent, Subject, SubjectType
from locales import DEFAULT_LOCALE

# How long a claim holds without renewal; a live dispatcher renews its claims every second.
CLAIM_LEASE = timedelta(seconds=30)
CLAIM_TOKEN_LENGTH = 64
# What an edit replaces in the message it edits (its kind stays, so a notice rewritten
# before it went out still expires with its moment), and how such an edit reads.
EDITED_FIELDS = ("subject_type", "subject_id", "subject_revision", "actions", "template",
                 "params")
APPLIED_IN_PLACE = "applied in place to the unsent original"
# What a message that was not sent notes as its last error (the outbox page explains them).
SETTLED_NOTE = "its subject no longer waits for this"
NOTHING_TO_EDIT = "nothing to edit: the original message was not sent"
CLAIM_LOST = "the sender stopped during the attempt (claim expired)"
WAITING_NOTE = "waiting for a {channel} chat binding"
MAX_BACKOFF = timedelta(minutes=30)

# The order a notification falls back in when its recipient chose no channel or is not bound
# on the one he chose (issue 15); the browser chat comes last: every staff member with a web
# log-in can open it.
CHANNEL_PREFERENCE = ("telegram", "wecom", "web")
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

    Without a channel the message goes to the recipient's `preferred_channel` (the one he
    chose, else Telegram, WeCom, the browser chat). A second call with the same idempotency
    key adds nothing. The message expires after the lifetime of its kind. A kind that is not
    urgent is held for the recipient's daily digest (`domain.platform.digest`, issue 14).
    An alert also waits in the admin site, written here so the two cannot drift
    (`domain.platform.web_notices`, issue 16).
    """
    now, subject = utcnow(), intent.subject
    message = OutboxMessage(
        recipient_id=recipient_id, channel=channel or await preferred_channel(recipient_id),
        kind=intent.kind, subject_type=subject.type.value, subject_id=subject.id,
        subject_revision=subject.revision, actions=[a.value for a in intent.actions],
        template=template, params=params or {}, idempotency_key=idempotency_key,
        next_attempt_at=now, created_at=now, expires_at=now + intent.lifetime,
        status=OutboxStatus.DIGEST if intent.for_digest else OutboxStatus.PENDING)
    async with in_transaction():  # the caller's, or one of its own: both rows or neither
        await web_notices.record(recipient_id, template, params or {}, intent=intent,
                                 idempotency_key=idempotency_key)
        await _add(message)


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


async def waiting_for_chat(channel: str, external_user_id: str) -> bool:
    """Whether a message to a chat account waits unsent in the outbox (due later, or being
    sent): a reply sent at once would overtake it, so it queues behind (issue 14)."""
    return await OutboxMessage.exists(
        channel=channel, status__in=(OutboxStatus.PENDING, OutboxStatus.SENDING),
        recipient__chat_bindings__channel=channel,
        recipient__chat_bindings__external_user_id=external_user_id)


async def enqueue_edit(original_idempotency_key: str, template: str,
                       params: dict[str, Any] | None = None, *, intent: Intent,
                       idempotency_key: str) -> OutboxStatus | None:
    """Replace the text (and buttons) of a notice already queued or sent, instead of sending
    a new message (issue 14); call inside the transaction of the change it reports.

    Signature: `enqueue_edit(original_idempotency_key, template, params, *, intent,
    idempotency_key) -> OutboxStatus | None`. The edit goes to the original's recipient on
    the original's channel. Still unsent (pending or waiting for a chat), the original is
    rewritten in place (its kind and lifetime stay) and the edit row is recorded done
    (`sent`, noted "applied in place"); else the edit row waits behind the original in its
    chat's order and the dispatcher
    edits the sent message (Telegram editMessageText, the browser chat's transcript line),
    or drops the edit (`expired`) when the original went dead or expired unsent. A second
    call with the same idempotency key adds nothing. Returns the edit row's status, None
    when there is no such original.
    """
    original = await OutboxMessage.get_or_none(idempotency_key=original_idempotency_key)
    if original is None:
        return None
    await web_notices.rewrite(original_idempotency_key, template, params or {}, intent=intent)
    now, subject = utcnow(), intent.subject
    edit = OutboxMessage(
        recipient_id=original.recipient_id, channel=original.channel,  # type: ignore[attr-defined]
        kind=intent.kind, subject_type=subject.type.value, subject_id=subject.id,
        subject_revision=subject.revision, actions=[a.value for a in intent.actions],
        template=template, params=params or {}, idempotency_key=idempotency_key,
        edit_of=original.id, next_attempt_at=now, created_at=now,
        expires_at=now + intent.lifetime)
    if await OutboxMessage.filter(
            id=original.id, status__in=[OutboxStatus.PENDING, OutboxStatus.WAITING],
    ).update(**_edited_fields(edit)):
        edit.status, edit.sent_at, edit.last_error = OutboxStatus.SENT, now, APPLIED_IN_PLACE
    await _add(edit)
    return edit.status


async def _add(message: OutboxMessage) -> None:
    await OutboxMessage.bulk_create([message], ignore_conflicts=True)
    await outbox_wake.queued()  # an idle dispatcher sends it now, not at its next poll


async def preferred_channel(staff_id: int) -> str:
    """The channel a staff member's notifications go to (issue 15): the one he chose
    (`Staff.notify_channel`) while he is bound there, else the first he is bound on in the
    documented order `CHANNEL_PREFERENCE` — Telegram, then WeCom, then the browser chat;
    bound nowhere, the first of that order, where the message waits for a binding."""
    chosen = await Staff.filter(id=staff_id).values_list("notify_channel", flat=True)
    bound = set(await ChatBinding.filter(staff_id=staff_id).values_list("channel", flat=True))
    if chosen and chosen[0] in bound:
        return chosen[0]
    return next((c for c in CHANNEL_PREFERENCE if c in bound), CHANNEL_PREFERENCE[0])


@dataclass(frozen=True)
class Delivery:
    """A claimed message with what the channel adapter needs to send it.

    `chat_id` is None when the recipient has no chat on the channel. A notification holds a
    msgid to translate into `locale` and its intent, for the channel to render; a reply (no
    intent) holds its final text and the buttons its channel made. `claim_token` fences the
    claim: only it marks the row. An edit row names in `edit_of` the message it edits.
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
    claim_token: str = ""
    edit_of: int | None = None


def new_claim_token(prefix: str = "") -> str:
    """A fresh fencing token for a claim (a dispatcher's term prefixes it)."""
    return f"{prefix}{secrets.token_hex(8)}"[-CLAIM_TOKEN_LENGTH:]


async def claim_due(limit: int = 50, channels: tuple[str, ...] | None = None, *,
                    token: str | None = None, lease: timedelta = CLAIM_LEASE,
                    max_attempts: int = 8, default_locale: str = DEFAULT_LOCALE,
                    now: datetime | None = None, kinds: tuple[str, ...] | None = None
                    ) -> list[Delivery]:
    """Claim due messages of the given channels (all when None; of the given kinds only when
    `kinds` is set) under a fencing token, in one statement (issue 14), oldest first and at
    most the head of each chat: a message is only claimed while no earlier message to the
    same chat waits unsent, except one this same token holds, so a chat's messages go out in
    order, retries included.

    Messages past their moment expire first. A claim that outlived its lease (a sender that
    stopped mid-send) counts as a failed attempt, so a message that brings a sender down goes
    dead after `max_attempts` instead of being sent again forever.
    """
    now = now or utcnow()
    token = token or new_claim_token()
    only = {"channel__in": list(channels)} if channels is not None else {}
    await expire_overdue(now)
    await _count_lost_claims(now, max_attempts, only)
    claimed: list[Delivery] = []
    messages = await _claim(limit, channels, token, now + lease, now, kinds)
    chats = await _chats_of(messages) if messages else {}
    for message in messages:
        if message.edit_of is None and await _moment_passed(message):  # an edit always goes
            await _settle(message.id, token, OutboxStatus.EXPIRED, SETTLED_NOTE)
            continue
        try:
            claimed.append(_delivery(message, chats, default_locale, token))
        except ValueError as error:  # an intent this version no longer knows
            await _settle(message.id, token, OutboxStatus.DEAD, str(error))
    return claimed


async def _claim(limit: int, channels: tuple[str, ...] | None, token: str,
                 until: datetime, now: datetime, kinds: tuple[str, ...] | None = None
                 ) -> list[OutboxMessage]:
    """The one claiming statement: UPDATE … RETURNING over the due chat heads (PostgreSQL
    skips rows another claim has locked; SQLite has one writer)."""
    connection = connections.get("default")
    postgres = connection.capabilities.dialect == "postgres"
    args: list[Any] = []

    def mark(value: Any) -> str:
        args.append(value)
        return f"${len(args)}" if postgres else "?"

    pending, sending = OutboxStatus.PENDING.value, OutboxStatus.SENDING.value
    # The markers are made in the order they stand in the statement (SQLite counts them).
    sql = (
        f'UPDATE "outbox_message" SET "status" = {mark(sending)}, "claim_token" = {mark(token)}, '
        f'"claimed_until" = {mark(until)} WHERE "id" IN ('
        f'SELECT m."id" FROM "outbox_message" m WHERE m."status" = {mark(pending)} '
        f'AND m."next_attempt_at" <= {mark(now)} ')
    if channels is not None:
        sql += f'AND m."channel" IN ({", ".join(mark(name) for name in channels)}) '
    if kinds is not None:
        sql += f'AND m."kind" IN ({", ".join(mark(kind) for kind in kinds)}) '
    sql += (
        'AND NOT EXISTS (SELECT 1 FROM "outbox_message" e '
        'WHERE e."recipient_id" = m."recipient_id" AND e."channel" = m."channel" '
        f'AND e."id" < m."id" AND (e."status" = {mark(pending)} OR (e."status" = '
        f'{mark(sending)} AND (e."claim_token" IS NULL OR e."claim_token" <> {mark(token)})))) '
        f'ORDER BY m."next_attempt_at", m."id" LIMIT {mark(limit)}'
        f'{" FOR UPDATE SKIP LOCKED" if postgres else ""}) RETURNING "id"')
    rows = await connection.execute_query_dict(sql, args)
    ids = sorted(row["id"] for row in rows)
    return await OutboxMessage.filter(id__in=ids).order_by("id").prefetch_related("recipient")


async def renew_claims(token: str, message_ids: list[int], until: datetime) -> int:
    """Keep a token's claims on messages its sender still works on (sending them, or with
    them queued) until `until`, so no other claim takes them meanwhile (issue 14); returns
    how many it kept."""
    if not message_ids:
        return 0
    return await OutboxMessage.filter(
        id__in=message_ids, status=OutboxStatus.SENDING, claim_token=token,
    ).update(claimed_until=until)


async def release_claims(token: str, message_ids: list[int] | None = None) -> int:
    """Give claimed messages that were not sent back to the queue without counting an
    attempt (a sender stopping, or a chat whose earlier message must go first)."""
    rows = OutboxMessage.filter(status=OutboxStatus.SENDING, claim_token=token)
    if message_ids is not None:
        rows = rows.filter(id__in=message_ids)
    return await rows.update(status=OutboxStatus.PENDING, claim_token=None, claimed_until=None)


async def _settle(message_id: int, token: str, status: OutboxStatus, error: str) -> bool:
    """End a claimed message without sending it, when the claim is still this one."""
    return bool(await OutboxMessage.filter(
        id=message_id, status=OutboxStatus.SENDING, claim_token=token,
    ).update(status=status, claimed_until=None, claim_token=None, last_error=error[:2000]))


async def expire_overdue(now: datetime) -> int:
    """Mark waiting messages whose lifetime is over as expired; returns how many."""
    return await OutboxMessage.filter(
        status__in=[OutboxStatus.PENDING, OutboxStatus.WAITING], expires_at__lte=now
    ).update(status=OutboxStatus.EXPIRED, claimed_until=None)


async def _count_lost_claims(now: datetime, max_attempts: int, only: dict[str, Any]) -> None:
    lost = OutboxMessage.filter(status=OutboxStatus.SENDING, claimed_until__lt=now, **only)
    error = CLAIM_LOST
    await lost.filter(attempts__gte=max_attempts - 1).update(
        status=OutboxStatus.DEAD, attempts=F("attempts") + 1, claimed_until=None,
        claim_token=None, last_error=error)
    await lost.update(status=OutboxStatus.PENDING, attempts=F("attempts") + 1,
                      claimed_until=None, claim_token=None, next_attempt_at=now,
                      last_error=error)


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


Chats = dict[tuple[int, str], tuple[ChatBinding, ChatSession | None]]


async def _chats_of(messages: list[OutboxMessage]) -> Chats:
    """The chat binding and session of each claimed message's recipient, in two queries."""
    bindings = await ChatBinding.filter(
        staff_id__in={m.recipient_id for m in messages},  # type: ignore[attr-defined]
        channel__in={m.channel for m in messages})
    sessions = {(s.channel, s.external_user_id): s for s in await ChatSession.filter(
        external_user_id__in={b.external_user_id for b in bindings},
        channel__in={b.channel for b in bindings})}
    return {(b.staff_id, b.channel): (b, sessions.get((b.channel, b.external_user_id)))  # type: ignore[attr-defined]
            for b in bindings}


def _delivery(message: OutboxMessage, chats: Chats, default_locale: str, token: str
              ) -> Delivery:
    """The message as the channel sends it, in the language the recipient's replies use."""
    recipient: Staff = message.recipient
    binding, session = chats.get((recipient.id, message.channel), (None, None))
    locale = preferred_locale(session.locale if session else None, recipient.locale,
                              binding.language_code if binding else None, default_locale)
    return Delivery(
        message_id=message.id, channel=message.channel,
        chat_id=binding.chat_id if binding else None, locale=locale,
        template=message.template, params=message.params, attempts=message.attempts,
        intent=_intent_to_send(message),
        buttons=tuple(tuple((str(label), str(data)) for label, data in row)
                      for row in message.buttons or []),
        claim_token=token, edit_of=message.edit_of,
    )


async def resolve_edit(delivery: Delivery) -> str | None:
    """The platform's id of the sent message an edit replaces, for the channel to edit; None
    when the edit is settled here: applied in place to an original still unsent, or dropped
    (`expired`) when the original was never sent or its platform id is unknown."""
    original = await OutboxMessage.get_or_none(id=delivery.edit_of)
    if original is not None and original.status == OutboxStatus.SENT \
            and original.external_message_id:
        return original.external_message_id
    if original is not None and original.status in (OutboxStatus.PENDING, OutboxStatus.WAITING):
        edit = await OutboxMessage.get(id=delivery.message_id)
        await OutboxMessage.filter(id=original.id, status=original.status).update(
            **_edited_fields(edit))
        await OutboxMessage.filter(
            id=delivery.message_id, status=OutboxStatus.SENDING,
            claim_token=delivery.claim_token,
        ).update(status=OutboxStatus.SENT, sent_at=utcnow(), claimed_until=None,
                 claim_token=None, last_error=APPLIED_IN_PLACE)
        return None
    await _settle(delivery.message_id, delivery.claim_token, OutboxStatus.EXPIRED,
                  NOTHING_TO_EDIT)
    return None


def _edited_fields(edit: OutboxMessage) -> dict[str, Any]:
    """What an edit replaces in the message it edits."""
    return {name: getattr(edit, name) for name in EDITED_FIELDS}


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


async def wait_for_binding(delivery: Delivery) -> str:
    """Put back a message whose recipient has no chat on its channel, without counting an
    attempt: moved to his `preferred_channel` (the one he chose, else the fallback order)
    when he is bound there, else kept until he binds or it expires."""
    message = await OutboxMessage.get(id=delivery.message_id)
    channel = await preferred_channel(message.recipient_id)  # type: ignore[attr-defined]
    bound = await ChatBinding.exists(staff_id=message.recipient_id,  # type: ignore[attr-defined]
                                     channel=channel)
    claimed = OutboxMessage.filter(id=delivery.message_id, status=OutboxStatus.SENDING,
                                   claim_token=delivery.claim_token)
    if bound and channel != message.channel:
        await claimed.update(status=OutboxStatus.PENDING, channel=channel, claimed_until=None,
                             claim_token=None, next_attempt_at=utcnow())
        return f"moved to {channel}"
    await claimed.update(status=OutboxStatus.WAITING, claimed_until=None, claim_token=None,
                         last_error=WAITING_NOTE.format(channel=message.channel))
    return "waiting for a binding"


async def release_for_binding(staff_id: int, channel: str) -> int:
    """Send what waited for the staff member's chat to the chat he just bound; returns how
    many messages go out. A message waits only while he is bound nowhere (`wait_for_binding`
    moves it to his `preferred_channel` when that one is bound), so the new chat is then his
    preferred channel, whatever he chose (issue 15)."""
    now = utcnow()
    released = await OutboxMessage.filter(
        recipient_id=staff_id, status=OutboxStatus.WAITING,
    ).filter(Q(expires_at=None) | Q(expires_at__gt=now)).update(
        status=OutboxStatus.PENDING, channel=channel, next_attempt_at=now)
    if released:
        await outbox_wake.queued()
    return released


async def mark_sent(delivery: Delivery, external_message_id: str | None = None) -> bool:
    """Record a successful delivery with the platform's id of the message, only while the
    claim is still this delivery's (fencing, issue 14); False when it was lost."""
    return bool(await OutboxMessage.filter(
        id=delivery.message_id, status=OutboxStatus.SENDING, claim_token=delivery.claim_token,
    ).update(status=OutboxStatus.SENT, sent_at=utcnow(), claimed_until=None, claim_token=None,
             external_message_id=external_message_id))


async def mark_failed(
    delivery: Delivery,
    error: str,
    *,
    backoff: timedelta,
    max_attempts: int,
    permanent: bool = False,
) -> OutboxStatus | None:
    """Count a failed attempt and schedule the next one (backing off) or mark the message
    dead; None when the claim was lost meanwhile (fencing: another claim owns the row)."""
    attempts = delivery.attempts + 1
    claimed = OutboxMessage.filter(id=delivery.message_id, status=OutboxStatus.SENDING,
                                   claim_token=delivery.claim_token)
    if permanent or attempts >= max_attempts:
        status, extra = OutboxStatus.DEAD, {}
    else:
        wait = min(backoff * (2 ** (attempts - 1)), MAX_BACKOFF)
        status, extra = OutboxStatus.PENDING, {"next_attempt_at": utcnow() + wait}
    updated = await claimed.update(status=status, attempts=attempts, last_error=error[:2000],
                                   claimed_until=None, claim_token=None, **extra)
    return status if updated else None


async def postpone(delivery: Delivery, until: datetime, reason: str) -> bool:
    """Put a claimed message back for `until` without counting an attempt: the platform
    paused the whole bot (a 429), which says nothing about this message (issue 14)."""
    return bool(await OutboxMessage.filter(
        id=delivery.message_id, status=OutboxStatus.SENDING, claim_token=delivery.claim_token,
    ).update(status=OutboxStatus.PENDING, next_attempt_at=until, claimed_until=None,
             claim_token=None, last_error=reason[:2000]))


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
        await outbox_wake.queued()


# The states /metrics counts: work to do or to look at, never the finished history.
COUNTED = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.WAITING, OutboxStatus.DEAD)


async def status_counts() -> dict[str, int]:
    """Outbox rows still to be sent or seen to (pending, sending, waiting, dead), for /metrics,
    in one grouped query an index answers however many finished rows the outbox keeps until
    they are pruned (issue 14); sent and expired rows are not counted."""
    rows = await OutboxMessage.filter(status__in=COUNTED).annotate(
        rows=Count("id")).group_by("status").values_list("status", "rows")
    return {status.value: 0 for status in COUNTED} | {str(s): n for s, n in rows}

