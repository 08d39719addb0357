"""Chat-side state: flow sessions, chosen language and processed-update marks."""

from __future__ import annotations

import logging

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.models import ChatBinding, ChatSession, ProcessedUpdate, Staff
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
    update's effects, the mark commits with them or not at all (a savepoint here).
    """
    try:
        async with in_transaction():
            await ProcessedUpdate.create(
                channel=channel, update_id=str(identity), processed_at=utcnow()
            )
    except IntegrityError:
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
