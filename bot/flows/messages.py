"""What a chat channel hands to the flows and what the flows hand back."""

from __future__ import annotations

from dataclasses import dataclass

Buttons = tuple[tuple[tuple[str, str], ...], ...]


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

    @classmethod
    def message(cls, channel: str, update_id: str, external_user_id: str, chat_id: str,
                text: str, language_code: str | None = None) -> Inbound:
        """A typed message; `/name args` becomes a command with its arguments."""
        command, args = parse_command(text)
        return cls(channel, update_id, external_user_id, chat_id, language_code,
                   text=text, command=command, args=args)

    @classmethod
    def button(cls, channel: str, update_id: str, external_user_id: str, chat_id: str,
               callback_data: str, callback_id: str, language_code: str | None = None
               ) -> Inbound:
        """A press on one of the buttons a reply carried."""
        return cls(channel, update_id, external_user_id, chat_id, language_code,
                   callback_data=callback_data, callback_id=callback_id)


@dataclass(frozen=True)
class Reply:
    """A message for the chat account, with optional rows of (label, callback data) buttons."""

    text: str
    buttons: Buttons = ()


def parse_command(text: str) -> tuple[str, tuple[str, ...]]:
    """Split `/bind@FieldOpsBot ABCD` into ("bind", ("ABCD",)); plain text has no command."""
    words = text.strip().split()
    if not words or not words[0].startswith("/") or len(words[0]) < 2:
        return "", ()
    return words[0][1:].split("@", 1)[0].lower(), tuple(words[1:])
