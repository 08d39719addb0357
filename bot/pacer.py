"""The send budget of one bot in the process that sends for it (issue 14): sends spaced evenly
under the overall rate (never a burst), a gap between two messages to one chat (longer for a
group chat), and a pause of everything when the platform asks for one (a 429).

Only the leader of a channel sends notifications (domain/platform/send_budget.py), so this
in-memory budget is the bot's whole budget; replies to a user's own action take their turn
from the same pacer, ahead of queued notifications. Time is read from an injectable
monotonic clock and waited with an injectable sleep, so tests run on a fake clock.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from domain.platform import send_budget
from domain.platform.clock import utcnow

# Telegram: 30 messages a second overall; 28 leaves room for the jitter between starting a
# request and its arrival (a busy event loop or network sends a few together). One a second
# to a chat, 20 a minute to a group (a negative chat id).
TELEGRAM_PER_SECOND = 28.0
TELEGRAM_CHAT_GAP = 1.0
TELEGRAM_GROUP_GAP = 3.0
# Chats idle longer than this are forgotten, so the table stays small.
FORGET_AFTER = 60.0

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class _Chat:
    busy: bool = False
    last_end: float = -math.inf


class Pacer:
    """Says when the next message may start, overall and to each chat; see the module doc.

    `per_second` None means no overall limit (the browser chat). A chat's gap runs from the
    end of its previous send, so two messages never reach it closer than the gap.
    """

    def __init__(self, per_second: float | None = TELEGRAM_PER_SECOND,
                 chat_gap: float = TELEGRAM_CHAT_GAP, group_gap: float = TELEGRAM_GROUP_GAP,
                 *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.interval = 1.0 / per_second if per_second else 0.0
        self.per_second = per_second
        self.chat_gap = chat_gap
        self.group_gap = group_gap
        self.clock = clock
        self.sleep = sleep
        self._next_slot = -math.inf
        # The last starts: never more than `per_second` of them within one second.
        self._starts: deque[float] = deque(maxlen=max(1, int(per_second or 1)))
        self._paused_until = -math.inf
        self._chats: dict[str, _Chat] = {}
        self._urgent: dict[str, int] = {}

    def gap(self, chat_id: str) -> float:
        """The least time between two messages to a chat; groups have a negative id."""
        return self.group_gap if chat_id.startswith("-") else self.chat_gap

    def chat_ready_at(self, chat_id: str) -> float:
        """When the chat's gap allows its next message (infinity while one is in flight)."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return -math.inf
        return math.inf if chat.busy else chat.last_end + self.gap(chat_id)

    def slot_at(self) -> float:
        """When the overall rate and any pause allow the next message to start."""
        window = self._starts[0] + 1.0 if self.per_second and \
            len(self._starts) == self._starts.maxlen else -math.inf
        return max(self._next_slot, self._paused_until, window)

    @property
    def paused_until(self) -> float:
        """The end of the current pause on the clock of this pacer."""
        return self._paused_until

    def pause(self, seconds: float) -> None:
        """Send nothing for `seconds` from now (the platform asked for it: a 429)."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    def urgent_ready(self, now: float) -> bool:
        """Whether a reply waits whose chat may send now: queued notifications give way."""
        return any(self.chat_ready_at(chat) <= now for chat in self._urgent)

    def start(self, chat_id: str, now: float) -> None:
        """Take the next slot for a message to a chat starting now: the slots keep their even
        grid when a start comes a little late, and begin anew after an idle spell."""
        on_grid = self._next_slot if now - self._next_slot < self.interval else now
        self._next_slot = on_grid + self.interval
        self._starts.append(now)
        self._chats.setdefault(chat_id, _Chat()).busy = True

    def finish(self, chat_id: str) -> None:
        """The message to a chat has ended (sent or not): its gap starts now."""
        now = self.clock()
        self._chats[chat_id] = _Chat(busy=False, last_end=now)
        if len(self._chats) > 10_000:
            self._chats = {chat: state for chat, state in self._chats.items()
                           if state.busy or state.last_end + FORGET_AFTER > now}

    @asynccontextmanager
    async def turn(self, chat_id: str) -> AsyncIterator[None]:
        """Wait for a reply's turn to a chat, ahead of queued notifications, and hold the
        chat until the send ends."""
        self._urgent[chat_id] = self._urgent.get(chat_id, 0) + 1
        try:
            while True:
                now = self.clock()
                at = max(self.chat_ready_at(chat_id), self.slot_at())
                if at <= now:
                    break
                await self.sleep(min(at - now, 1.0) if at < math.inf else self.interval or 0.01)
        finally:
            self._urgent[chat_id] -= 1
            if not self._urgent[chat_id]:
                del self._urgent[chat_id]
        self.start(chat_id, now)
        try:
            yield
        finally:
            self.finish(chat_id)


async def pause_bot(pacer: Pacer, channel: str, seconds: float) -> None:
    """A 429: pause the bot here at once, and in the database so that the process that
    leads the channel's sending (and whoever leads next) pauses too."""
    pacer.pause(seconds)
    await send_budget.pause(channel, utcnow() + timedelta(seconds=seconds))
