"""WeCom callbacks to flow inputs (issue 15).

A WeCom user is his UserID: it is both the flows' external user id and their chat id, and the
callback's dedupe key is the update id, so the flows deduplicate a retry a second time. No
message id is passed: the app cannot recall a member's own messages, so the flows must not
note them for deletion. What WeCom says and what the flows get:
- text → a message (commands such as "/new" or "/bind CODE" work as typed); a bind code sent
  alone by a user not bound yet → "/bind CODE" (typing "/" is awkward on a phone's Chinese
  keyboard; a bound user's text is never taken for a code);
- image → a photo, downloaded through `media/get` when the flow reads it (size unknown until
  then: the callback caps the download just past the photo limit, and a cut download is more
  than the limit, so the photo checks refuse it as too large); file → a file (as_photo False);
- location message and the menu's location picker (`location_select`) → a shared location;
- menu `click` whose key is a command ("/new", "/box", …) → that command;
- `template_card_event` (a card's button pressed) → the press of the button's own callback
  data, resolved through `chat_cards.press` once (`card_press`, called after the inbound
  limit admitted it: `to_inbound` leaves it unresolved); a card unknown, not the user's or
  already pressed → an empty press, which the flows answer as a stale button;
- entering the app, menu links and the photo pickers (their photos follow as images) → nothing.
Anything else is logged and left unanswered.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.flows import Inbound
from bot.flows.messages import Attachment
from bot.wecom.api import CHANNEL, Media
from bot.wecom.inbound import WeComInbound
from domain.people import binding
from domain.platform import chat_cards

if TYPE_CHECKING:
    from domain.models import ChatCard

log = logging.getLogger(__name__)

MediaGet = Callable[[str], Awaitable[Media]]
# Events that need no answer: entering the app, a menu link opened, the photo pickers.
SILENT_EVENTS = frozenset({"enter_agent", "view", "pic_sysphoto", "pic_photo_or_album"})
CARD_PRESS = "template_card_event"
COMMAND_PREFIX = "/"


@dataclass(frozen=True)
class CardPress:
    """A button pressed on a template card: what `card_pressed` needs to show the choice."""

    task_id: str
    response_code: str
    label: str | None


@dataclass(frozen=True)
class Converted:
    """A WeCom callback as a flow input, with the card press it was, if any;
    `unresolved_press` when it is a card press not resolved yet (see `card_press`)."""

    inbound: Inbound
    press: CardPress | None = None
    unresolved_press: bool = False


async def to_inbound(message: WeComInbound, media_get: MediaGet) -> Converted | None:
    """The flow input of a WeCom message or event; None when it asks for no answer."""
    user, key = message.from_user, message.dedupe_key
    if message.is_event:
        return _event(message)
    if message.msg_type == "text":
        return Converted(Inbound.message(CHANNEL, key, user, user,
                                         await _bind_code_as_command(user, message.content)))
    if message.msg_type in ("image", "file"):
        return Converted(Inbound.upload(CHANNEL, key, user, user,
                                        attachment(message, media_get)))
    if message.msg_type == "location":
        return _location(message)
    log.info("wecom %s message %s of %s left unanswered: not a kind FieldOps reads",
             message.msg_type, key, user)
    return None


def _event(message: WeComInbound) -> Converted | None:
    user, key = message.from_user, message.dedupe_key
    if message.event == "click" and message.event_key.startswith(COMMAND_PREFIX):
        return Converted(Inbound.message(CHANNEL, key, user, user, message.event_key))
    if message.event == "location_select":
        return _location(message)
    if message.event == CARD_PRESS:  # resolved once admitted: a refused press keeps its card
        return Converted(Inbound.button(CHANNEL, key, user, user, "", message.task_id),
                         unresolved_press=True)
    if message.event not in SILENT_EVENTS:
        log.info("wecom event %s (%s) of %s left unanswered: not one FieldOps reads",
                 message.event, message.event_key, user)
    return None


async def card_press(message: WeComInbound, now: datetime) -> Converted:
    """A card's button: its own data once; a second press or a stranger's card is stale. The
    same press handled again (a failed attempt retried) resolves as the first time."""
    user, task_id, key = message.from_user, message.task_id, message.event_key
    data = await chat_cards.press(CHANNEL, user, task_id, key, message.response_code, now)
    found = await chat_cards.card(CHANNEL, task_id)
    if data is None and found is not None and _same_press(found, message):
        data = str(found.keys[key][1])
    inbound = Inbound.button(CHANNEL, message.dedupe_key, user, user, data or "", task_id)
    if data is None or found is None:
        return Converted(inbound)
    return Converted(inbound, CardPress(task_id, message.response_code,
                                        chat_cards.pressed_label(found)))


def _same_press(found: ChatCard, message: WeComInbound) -> bool:
    """Whether the card was pressed by this very event (its key and response code)."""
    return (found.recipient == message.from_user and found.pressed_key == message.event_key
            and bool(message.response_code) and found.response_code == message.response_code)


def _location(message: WeComInbound) -> Converted | None:
    user = message.from_user
    if message.latitude is None or message.longitude is None:
        log.info("wecom location %s of %s has no coordinates: left unanswered",
                 message.dedupe_key, user)
        return None
    return Converted(Inbound.shared_location(CHANNEL, message.dedupe_key, user, user,
                                             message.latitude, message.longitude))


def attachment(message: WeComInbound, media_get: MediaGet) -> Attachment:
    """The image or file of a message, downloaded through `media/get` on demand."""
    async def fetch() -> bytes:
        return (await media_get(message.media_id)).content

    if message.msg_type == "image":
        return Attachment(f"{message.msg_id or message.media_id}.jpg", "image/jpeg", None,
                          fetch, as_photo=True)
    name = message.file_name or message.media_id
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Attachment(name, content_type, None, fetch, as_photo=False)


async def _bind_code_as_command(user: str, text: str) -> str:
    """A text that is a bind code alone, from a user not bound yet, as "/bind CODE"."""
    code = text.strip().upper()
    if (len(code) != binding.CODE_LENGTH or not set(code) <= set(binding.CODE_ALPHABET)
            or await binding.bound_staff(CHANNEL, user) is not None):
        return text
    return f"/bind {code}"
