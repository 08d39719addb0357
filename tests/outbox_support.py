"""How a chat shows a queued notification (its intent rendered by the chat channels' table),
and a dispatcher whose sends are counted."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from bot import actions
from bot.dispatcher import OutboxDispatcher, Sender
from domain.models import OutboxMessage
from domain.platform import outbox


def chat_buttons(message: OutboxMessage) -> list[list[list[str]]]:
    """The buttons under a notification in chat: rows of [label msgid, callback data or path]."""
    intent = outbox.intent_of(message)
    assert intent is not None, "a reply carries no intent"
    return [[list(button) for button in row] for row in actions.buttons(intent)]


async def counted_dispatcher(channel: str, sender: Sender, starts: list[str],
                             stack: AsyncExitStack,
                             monkeypatch: pytest.MonkeyPatch) -> OutboxDispatcher:
    """An outbox dispatcher for one channel, running until `stack` closes; each chat its
    sender's pacer lets a message start to is appended to `starts` (the sends of this
    process, replies included)."""
    dispatcher = OutboxDispatcher({channel: sender}, poll_seconds=0.2, backoff_seconds=0.5,
                                  default_locale="en")
    start = sender.pacer.start

    def counted(chat_id: str, now: float) -> None:
        starts.append(chat_id)
        start(chat_id, now)

    monkeypatch.setattr(sender.pacer, "start", counted)
    running = asyncio.create_task(dispatcher.run_forever())

    async def stop() -> None:
        dispatcher.stop()
        await running

    stack.push_async_callback(stop)
    return dispatcher
