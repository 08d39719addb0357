"""Chat-side state: flow sessions, chosen language, processed-update marks, and the order
in which the updates of one chat are handled across webhook workers (issue 14)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.models import ChatBinding, ChatInbound, ChatSession, Staff
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError
from locales import DEFAULT_LOCALE, LOCALES

log = logging.getLogger(__name__)


def locale_from_language_code(language_code: str | None) -> str | None:
    """Map a chat client's language code (`zh-hans`, `en-GB`) to a supported locale."""
    if not language_code:
        return None
    code = language_code.lower()
    if code.startswith("zh"):
        return "zh_CN"
    if code.startswith("en"):
        return "en"
    return None


def preferred_locale(
    session_locale: str | None,
    staff_locale: str | None,
    language_code: str | None,
    default: str,
) -> str:
    """The language to answer in: chosen in chat, else the staff member's, else the client's."""
    for locale in (session_locale, staff_locale, locale_from_language_code(language_code)):
        if locale in LOCALES:
            return locale
    return default


def locale_of(staff: Staff) -> str:
    """The locale a staff member reads messages in; Chinese unless he chose otherwise."""
    return staff.locale or DEFAULT_LOCALE


async def claim_update(channel: str, identity: str | int) -> bool:
    """Mark an inbound update handled; False, logged, when it was handled before.

    `identity` is what identifies the update on its channel (for Telegram its update id
    with the chat and the message or button press, see `Inbound.identity`), never the bare
    update id: Telegram restarts its counter after a week without updates, and a new update
    must not be taken for an old one. Called inside the transaction that applies the
    update's effects, the mark commits with them or not at all. One statement (issue 14):
    a mark already there leaves the transaction usable, so no savepoint is needed.
    """
    connection = connections.get("default")
    marks = "$1, $2, $3" if connection.capabilities.dialect == "postgres" else "?, ?, ?"
    inserted = await connection.execute_query_dict(
        f'INSERT INTO "processed_update" ("channel", "update_id", "processed_at") '
        f'VALUES ({marks}) ON CONFLICT ("channel", "update_id") DO NOTHING RETURNING "id"',
        [channel, str(identity), utcnow()])
    if not inserted:
        log.warning("dropped a duplicate %s update %s: it was handled before", channel,
                    identity)
        return False
    return True


async def session_for(channel: str, external_user_id: str, chat_id: str) -> ChatSession:
    """The flow session of a chat account, created on first contact."""
    session = await ChatSession.get_or_none(channel=channel, external_user_id=external_user_id)
    if session is not None:
        return session
    try:
        async with in_transaction():
            return await ChatSession.create(
                channel=channel, external_user_id=external_user_id, chat_id=chat_id
            )
    except IntegrityError:
        return await ChatSession.get(channel=channel, external_user_id=external_user_id)


# How long a webhook update waits for the bot's previous update to arrive at some worker
# (Telegram numbers a bot's updates one by one), when the bot had updates lately.
ARRIVAL_WAIT = timedelta(seconds=1)
RECENT = timedelta(seconds=10)
# How long it waits for the earlier updates of its chat to be handled; an earlier update
# registered longer ago than STALE is not waited for (its worker died: Telegram delivers
# it again later).
TURN_WAIT = timedelta(seconds=10)
STALE = timedelta(minutes=1)
POLL_SECONDS = 0.02


async def register_inbound(channel: str, update_id: int, sender: str) -> None:
    """Note a webhook update's arrival, so that the later updates of its chat wait for it
    (issue 14); a redelivered update is registered already."""
    await ChatInbound.bulk_create([ChatInbound(channel=channel, update_id=update_id,
                                               sender=sender, received_at=utcnow())],
                                  ignore_conflicts=True)


async def await_turn(channel: str, update_id: int, sender: str) -> bool:
    """Wait until an update may be handled in order: the bot's previous update has arrived
    (when the bot had updates lately) and the earlier updates of the same chat were handled;
    False, logged, when it stopped waiting (issue 14)."""
    deadline = time.monotonic() + TURN_WAIT.total_seconds()
    arrival_deadline = time.monotonic() + ARRIVAL_WAIT.total_seconds()
    while True:
        now = utcnow()
        rows = await ChatInbound.filter(
            Q(update_id=update_id - 1)
            | Q(sender=sender, handled_at__isnull=True, received_at__gte=now - STALE),
            channel=channel, update_id__lt=update_id,
        ).values_list("update_id", "sender", "handled_at")
        earlier = sorted(row[0] for row in rows if row[1] == sender and row[2] is None)
        arrived = (any(row[0] == update_id - 1 for row in rows)
                   or time.monotonic() > arrival_deadline
                   or not await _had_recent_updates(channel, update_id, now))
        if arrived and not earlier:
            return True
        if time.monotonic() > deadline:
            log.warning("%s update %s handled before earlier update(s) %s of its chat, "
                        "after %s s", channel, update_id, earlier, TURN_WAIT.total_seconds())
            return False
        await asyncio.sleep(POLL_SECONDS)


async def _had_recent_updates(channel: str, update_id: int, now: datetime) -> bool:
    return await ChatInbound.filter(channel=channel, update_id__lt=update_id,
                                    received_at__gte=now - RECENT).exists()


async def inbound_handled(channel: str, update_id: int) -> None:
    """Let the later updates of the chat go on: this one was handled (or given up)."""
    await ChatInbound.filter(channel=channel, update_id=update_id,
                             handled_at__isnull=True).update(handled_at=utcnow())


async def save_step(session: ChatSession, flow: str, step: str, data: dict) -> None:
    """Persist where a chat account stands in a flow."""
    session.flow, session.step, session.data = flow, step, data
    await session.save(update_fields=["flow", "step", "data", "updated_at"])


async def choose_locale(session: ChatSession, locale: str) -> None:
    """Keep the chat account's language, and the bound staff member's too."""
    if locale not in LOCALES:
        raise DomainError(N_("Unsupported language."))
    async with in_transaction():
        session.locale = locale
        await session.save(update_fields=["locale", "updated_at"])
        binding = await ChatBinding.get_or_none(
            channel=session.channel, external_user_id=session.external_user_id
        )
        if binding is not None:
            await Staff.filter(id=binding.staff_id).update(locale=locale)  # type: ignore[attr-defined]
