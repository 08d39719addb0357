"""Deliver outbox messages through a chat channel: retries, backoff and rate limits (DESIGN §3)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from datetime import timedelta
from typing import Protocol

from bot.flows.messages import Buttons
from bot.throttle import Throttle
from domain.platform import outbox
from domain.platform.intents import Intent
from domain.platform.outbox import Delivery
from locales import DEFAULT_LOCALE, normalise, translate

log = logging.getLogger(__name__)


class SendFailed(Exception):
    """A channel could not deliver; `retry_after` (seconds) or `permanent` say what comes next."""

    def __init__(self, reason: str, *, retry_after: float | None = None,
                 permanent: bool = False) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.permanent = permanent


class Sender(Protocol):
    """What a channel adapter offers the dispatcher; raises `SendFailed` when it cannot send."""

    @property
    def ready(self) -> bool:
        """Whether the channel can send now (a bot still connecting cannot)."""

    def render(self, intent: Intent) -> Buttons:
        """The intent's actions as rows of (label msgid, data) this channel sends."""

    async def send_text(self, chat_id: str, text: str, buttons: Buttons = ()) -> None:
        """Send one text message to a chat, with rows of (label, data) buttons."""


class OutboxDispatcher:
    """Sends due outbox messages in the recipient's language, at most once per message.

    `senders` maps each channel this process can deliver on to its adapter; messages of other
    channels are left for a process that can.
    """

    def __init__(self, senders: dict[str, Sender], *, poll_seconds: float = 1.0,
                 backoff_seconds: float = 5.0, max_attempts: int = 8,
                 default_locale: str = DEFAULT_LOCALE, per_second: float = 30.0,
                 chat_gap_seconds: float = 1.0, batch_size: int = 50) -> None:
        self.senders = senders
        self.poll_seconds = poll_seconds
        self.backoff = timedelta(seconds=backoff_seconds)
        self.max_attempts = max_attempts
        self.default_locale = default_locale
        self.batch_size = batch_size
        self.throttle = Throttle(per_second, chat_gap_seconds)
        self._stopping = asyncio.Event()

    async def run_once(self) -> int:
        """Claim the due messages and send them, chats in parallel; returns how many were sent."""
        by_chat: dict[str | None, list[Delivery]] = defaultdict(list)
        channels = tuple(name for name, sender in self.senders.items() if sender.ready)
        if not channels:
            return 0
        for delivery in await outbox.claim_due(self.batch_size, channels,
                                               max_attempts=self.max_attempts,
                                               default_locale=self.default_locale):
            by_chat[delivery.chat_id].append(delivery)
        results = await asyncio.gather(
            *(self._deliver_in_order(items) for items in by_chat.values()),
            return_exceptions=True,
        )
        sent = 0
        for result in results:
            if isinstance(result, Exception):
                log.error("outbox delivery failed; the claim expires and is retried",
                          exc_info=result)
            elif isinstance(result, BaseException):
                raise result
            else:
                sent += result
        return sent

    async def run_forever(self) -> None:
        """Deliver until `stop()`; a failed round is logged and the loop goes on."""
        self._stopping.clear()
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("outbox dispatch round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll_seconds)

    def stop(self) -> None:
        """Ask `run_forever` to return after the current round."""
        self._stopping.set()

    async def _deliver_in_order(self, deliveries: list[Delivery]) -> int:
        sent = 0
        for delivery in deliveries:
            sent += await self._deliver(delivery)
        return sent

    async def _deliver(self, delivery: Delivery) -> bool:
        if delivery.chat_id is None:
            outcome = await outbox.wait_for_binding(delivery.message_id)
            log.info("outbox message %s: recipient has no %s chat, %s",
                     delivery.message_id, delivery.channel, outcome)
            return False
        try:
            text, buttons = self._render(delivery)
        except (KeyError, TypeError, ValueError) as error:
            await self._fail(delivery, SendFailed(f"template cannot be filled: {error!r}",
                                                  permanent=True))
            return False
        await self.throttle.before_send(delivery.chat_id)
        try:
            await self.senders[delivery.channel].send_text(delivery.chat_id, text, buttons)
        except SendFailed as failure:
            await self._fail(delivery, failure)
            return False
        except Exception as error:  # a sender bug or an unforeseen answer: a failed attempt
            log.exception("outbox message %s: unexpected error while sending",
                          delivery.message_id)
            await self._fail(delivery, SendFailed(f"unexpected error: {error!r}"))
            return False
        finally:
            self.throttle.after_send(delivery.chat_id)
        await outbox.mark_sent(delivery.message_id)
        return True

    def _render(self, delivery: Delivery) -> tuple[str, Buttons]:
        """The text in the recipient's language and the intent's actions as the channel
        renders them; a reply goes as its channel already rendered it."""
        if delivery.intent is None:
            return delivery.template, delivery.buttons
        locale = normalise(delivery.locale, self.default_locale)
        buttons = tuple(tuple((translate(locale, label), data) for label, data in row)
                        for row in self.senders[delivery.channel].render(delivery.intent))
        return translate(locale, delivery.template, **delivery.params), buttons

    async def _fail(self, delivery: Delivery, failure: SendFailed) -> None:
        status = await outbox.mark_failed(
            delivery.message_id, str(failure), retry_after=failure.retry_after,
            backoff=self.backoff, max_attempts=self.max_attempts, permanent=failure.permanent,
        )
        log.warning("outbox message %s to chat %s failed (attempt %s, now %s): %s",
                    delivery.message_id, delivery.chat_id, delivery.attempts + 1, status, failure)
