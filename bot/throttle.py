"""Outgoing rate limits: an overall token bucket and a minimum gap between messages to a chat."""

from __future__ import annotations

import asyncio
import time


class Throttle:
    """Keeps a sender under `per_second` messages overall and one per `chat_gap` s per chat."""

    def __init__(self, per_second: float, chat_gap: float) -> None:
        self.per_second = per_second
        self.chat_gap = chat_gap
        self._tokens = per_second
        self._refilled = time.monotonic()
        self._lock = asyncio.Lock()
        self._last_sent: dict[str, float] = {}

    async def before_send(self, chat_id: str) -> None:
        """Sleep until a message to this chat is allowed, then take a token."""
        last = self._last_sent.get(chat_id)
        if last is not None:
            await asyncio.sleep(max(0.0, last + self.chat_gap - time.monotonic()))
        async with self._lock:
            self._refill()
            while self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.per_second)
                self._refill()
            self._tokens -= 1

    def after_send(self, chat_id: str) -> None:
        """Start the chat's gap when the send has finished (success or not)."""
        now = time.monotonic()
        self._last_sent[chat_id] = now
        if len(self._last_sent) > 10_000:
            self._last_sent = {
                chat: at for chat, at in self._last_sent.items() if at + self.chat_gap > now
            }

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.per_second,
                           self._tokens + (now - self._refilled) * self.per_second)
        self._refilled = now
