"""How a chat shows a queued notification: its intent rendered by the chat channels' table."""

from __future__ import annotations

from bot import actions
from domain.models import OutboxMessage
from domain.platform import outbox


def chat_buttons(message: OutboxMessage) -> list[list[list[str]]]:
    """The buttons under a notification in chat: rows of [label msgid, callback data or path]."""
    intent = outbox.intent_of(message)
    assert intent is not None, "a reply carries no intent"
    return [[list(button) for button in row] for row in actions.buttons(intent)]
