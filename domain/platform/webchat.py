"""The browser chat: its implicit chat binding and each staff member's own transcript (Q6, C10)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.models import ChatBinding, Staff, WebChatMessage
from domain.platform import audit, outbox
from domain.platform.actors import Actor, system_actor
from domain.platform.chat_privacy import masked_text
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError, NotFound

CHANNEL = "web"
TRANSCRIPT_PAGE = 50  # lines shown at once; "earlier" loads the page before them
ButtonRows = tuple[tuple[tuple[str, str], ...], ...]


@dataclass(frozen=True)
class ChatLine:
    """One bubble of the browser chat: who spoke, the text, buttons and an optional photo."""

    id: int
    from_bot: bool
    text: str
    buttons: ButtonRows
    photo_sha256: str | None
    created_at: datetime


async def bind_web_chat(staff_id: int) -> ChatBinding:
    """The staff member's browser chat binding, made on first use; the log-in is the proof (Q6)."""
    made, _ = await _web_binding(staff_id)
    return made


async def open_web_chat(staff_id: int) -> Staff | None:
    """Bind the staff member's browser chat when he first opens it (Q6): the staff member
    when this call made the binding, so that he is told as a chat bound in Telegram is; None
    when it was bound before (or by a concurrent call)."""
    made, new = await _web_binding(staff_id)
    return made.staff if new else None


async def _web_binding(staff_id: int) -> tuple[ChatBinding, bool]:
    """The binding, and whether this call made it (audited, held notices released)."""
    staff = await Staff.get_or_none(id=staff_id).prefetch_related("org")
    if staff is None or not staff.active:
        raise DomainError(N_("Your staff account is deactivated. Contact your administrator."))
    existing = await ChatBinding.get_or_none(staff_id=staff_id, channel=CHANNEL)
    if existing is not None:
        return existing, False
    address = str(staff_id)
    try:
        async with in_transaction():
            created = await ChatBinding.create(staff=staff, channel=CHANNEL,
                                               external_user_id=address, chat_id=address,
                                               bound_at=utcnow())
            await audit.record(system_actor(f"chat:{CHANNEL}"), "chat.bind", "staff", staff.id,
                               org_id=staff.org.id,
                               detail={"channel": CHANNEL, "external_user_id": address})
            await outbox.release_for_binding(staff.id, CHANNEL)
    except IntegrityError:
        return await ChatBinding.get(staff_id=staff_id, channel=CHANNEL), False
    return created, True


async def record(staff_id: int, from_bot: bool, text: str, buttons: ButtonRows = (),
                 photo_sha256: str | None = None) -> ChatLine:
    """Append one line to a staff member's browser chat transcript.

    The transcript is the browser chat's own history, like Telegram's: its `buttons` are
    rows of (label, data) as the chat adapter rendered them, a notice's intent included.
    What the staff member typed is kept with its ID and mobile numbers masked (C10).
    """
    row = await WebChatMessage.create(
        staff_id=staff_id, from_bot=from_bot, text=text if from_bot else masked_text(text),
        buttons=[[[label, data] for label, data in row] for row in buttons],
        photo_sha256=photo_sha256, created_at=utcnow(),
    )
    return _line(row)


async def replace(staff_id: int, line_id: int, text: str, buttons: ButtonRows = ()) -> bool:
    """Replace the text and buttons of a line the bot wrote in a staff member's transcript
    (a notice edited, issue 14); False when there is no such line of his."""
    return bool(await WebChatMessage.filter(id=line_id, staff_id=staff_id, from_bot=True).update(
        text=text, buttons=[[[label, data] for label, data in row] for row in buttons]))


async def transcript(actor: Actor, after_id: int = 0, before_id: int | None = None,
                     limit: int = TRANSCRIPT_PAGE) -> list[ChatLine]:
    """The actor's own lines, oldest first (C10: nobody reads another's), keyset by id: the
    first `limit` after `after_id` when it is given (the new ones), else the last `limit`
    before `before_id` (the newest when None)."""
    if actor.staff_id is None:
        return []
    mine = WebChatMessage.filter(staff_id=actor.staff_id)
    if after_id:
        return [_line(row) for row in await mine.filter(id__gt=after_id).order_by("id")
                .limit(limit)]
    if before_id is not None:
        mine = mine.filter(id__lt=before_id)
    return [_line(row) for row in reversed(await mine.order_by("-id").limit(limit))]


async def has_earlier(actor: Actor, line_id: int) -> bool:
    """Whether the actor's transcript holds a line before `line_id`."""
    return actor.staff_id is not None and await WebChatMessage.exists(
        staff_id=actor.staff_id, id__lt=line_id)


async def require_own_photo(actor: Actor, sha256: str) -> None:
    """Refuse a photo the actor did not send himself in his browser chat (C10)."""
    sent = actor.staff_id is not None and await WebChatMessage.exists(
        staff_id=actor.staff_id, from_bot=False, photo_sha256=sha256)
    if not sent:
        raise NotFound(N_("This photo is not in your chat."))


def _line(row: WebChatMessage) -> ChatLine:
    buttons = tuple(tuple((str(label), str(data)) for label, data in button_row)
                    for button_row in row.buttons or [])
    return ChatLine(row.id, row.from_bot, row.text, buttons, row.photo_sha256, row.created_at)
