"""What a chat channel hands to the flows and what the flows hand back."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from domain.platform.errors import DomainError
from domain.platform.images import PhotoInfo

Buttons = tuple[tuple[tuple[str, str], ...], ...]
# An empty row among a reply's buttons: the rows after it stand apart from those before (a
# final action such as Submit, away from the "Change …" buttons). Telegram and the browser
# chat show rows as they come (an empty row is dropped, or shows as a gap); WeCom, whose
# cards have no rows, puts each group on a card of its own (`groups`).
APART: tuple[tuple[str, str], ...] = ()
URL_PREFIXES = ("https://", "http://")
MAX_IDENTITY = 64  # the width of ProcessedUpdate.update_id; longer identities are hashed


@dataclass(frozen=True)
class Attachment:
    """A photo or file sent in chat; `fetch` downloads its bytes from the channel.

    `size` is what the channel announced (None when unknown) so that oversized files are
    refused before they are downloaded; `as_photo` is False for files sent as documents;
    `checked` is the photo checks' verdict when the router ran them before the update's
    transaction (issue 14).
    """

    name: str
    content_type: str
    size: int | None
    fetch: Callable[[], Awaitable[bytes]]
    as_photo: bool = True
    checked: PhotoInfo | DomainError | None = None

    async def prefetched(self) -> Attachment:
        """The attachment downloaded now: its `fetch` then returns these bytes, or raises
        again what the download raised, so a flow reads it as it would have."""
        try:
            content = await self.fetch()
        except Exception as error:  # any channel's failure, handed to the flow that reads it
            failure = error

            async def fetch() -> bytes:
                raise failure
        else:
            async def fetch() -> bytes:
                return content
        return replace(self, fetch=fetch)


@dataclass(frozen=True)
class Inbound:
    """One event from a chat account: a text, a command or a button press."""

    channel: str
    update_id: str
    external_user_id: str
    chat_id: str
    language_code: str | None = None
    text: str = ""
    command: str = ""
    args: tuple[str, ...] = ()
    callback_data: str = ""
    callback_id: str = ""
    attachment: Attachment | None = None
    location: tuple[float, float] | None = None
    message_id: str = ""

    @property
    def identity(self) -> str:
        """What identifies this event on its channel, not only its update id: the chat with
        the message, or the button press (a restarted update counter reuses update ids)."""
        press = f"q{self.callback_id}" if self.callback_id else self.message_id
        key = ":".join((self.update_id, self.chat_id, press))
        return key if len(key) <= MAX_IDENTITY else hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def message(cls, channel: str, update_id: str, external_user_id: str, chat_id: str,
                text: str, language_code: str | None = None, message_id: str = "") -> Inbound:
        """A typed message; `/name args` becomes a command with its arguments."""
        command, args = parse_command(text)
        return cls(channel, update_id, external_user_id, chat_id, language_code,
                   text=text, command=command, args=args, message_id=message_id)

    @classmethod
    def button(cls, channel: str, update_id: str, external_user_id: str, chat_id: str,
               callback_data: str, callback_id: str, language_code: str | None = None
               ) -> Inbound:
        """A press on one of the buttons a reply carried."""
        return cls(channel, update_id, external_user_id, chat_id, language_code,
                   callback_data=callback_data, callback_id=callback_id)

    @classmethod
    def upload(cls, channel: str, update_id: str, external_user_id: str, chat_id: str,
               attachment: Attachment, caption: str = "", language_code: str | None = None,
               message_id: str = "") -> Inbound:
        """A photo or file, with its caption as text."""
        return cls(channel, update_id, external_user_id, chat_id, language_code,
                   text=caption, attachment=attachment, message_id=message_id)

    @classmethod
    def shared_location(cls, channel: str, update_id: str, external_user_id: str, chat_id: str,
                        latitude: float, longitude: float, language_code: str | None = None,
                        message_id: str = "") -> Inbound:
        """A location shared from the phone."""
        return cls(channel, update_id, external_user_id, chat_id, language_code,
                   location=(latitude, longitude), message_id=message_id)


@dataclass(frozen=True)
class Reply:
    """A message for the chat account, with optional rows of (label, data) buttons.

    A button whose data is an http(s) URL, or an admin path starting with "/", opens that
    page (paths are made absolute with the public address, and dropped without one); any
    other data comes back as a button press.
    """

    text: str
    buttons: Buttons = ()


def is_url(data: str) -> bool:
    """True when button data is a link (URL or admin path) rather than callback data."""
    return data.startswith((*URL_PREFIXES, "/"))


def absolute_links(buttons: Buttons, public_url: str) -> Buttons:
    """Admin paths made absolute with the public address; without one, link buttons go."""
    rows = (tuple((label, f"{public_url.rstrip('/')}{data}" if data.startswith("/") else data)
                  for label, data in row if not data.startswith("/") or public_url)
            for row in buttons)
    return tuple(row for row in rows if row)


def groups(buttons: Buttons) -> list[Buttons]:
    """The rows of buttons in the groups `APART` separates, empty groups left out."""
    found: list[Buttons] = [()]
    for row in buttons:
        if row:
            found[-1] = (*found[-1], row)
        else:
            found.append(())
    return [group for group in found if group]


def parse_command(text: str) -> tuple[str, tuple[str, ...]]:
    """Split `/bind@FieldOpsBot ABCD` into ("bind", ("ABCD",)); plain text has no command."""
    words = text.strip().split()
    if not words or not words[0].startswith("/") or len(words[0]) < 2:
        return "", ()
    return words[0][1:].split("@", 1)[0].lower(), tuple(words[1:])
