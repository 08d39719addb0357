"""Deliver outbox messages through the chat channels at the platform's speed, exactly once, from
any number of processes (DESIGN §3, issue 14).

One process sends for each channel at a time: the leader elected by the fenced lease of
domain/platform/send_budget.py; the others stand by and take over within a few seconds of
the leader stopping. The leader claims due messages in one statement under its term's token
(at most the head of each chat, so retries keep a chat's order), keeps them in one in-memory
queue per chat, and starts them one at a time on the pacer's even grid (bot/pacer.py): a chat
waiting for its gap never holds back another. Its claims and its lease are renewed every
tick (`poll_seconds`) while it works, so a slow send is never claimed and sent again; every
mark is fenced by the claim token. A 429 pauses the whole bot for `retry_after` and puts the
message back without counting an attempt. A failed message blocks its chat until it is sent
or dead: the chat's later messages go back to the queue and wait behind it. The flows' replies
share the budget: the leader's process sends its own in place through the same pacer, the
other processes queue theirs for the leader (`leads_with`, bot/replies.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
from collections import deque
from datetime import timedelta
from typing import Protocol

from bot.flows.messages import Buttons
from bot.pacer import Clock, Pacer, Sleep, pause_bot
from domain.platform import outbox, outbox_wake, send_budget
from domain.platform.clock import utcnow
from domain.platform.intents import Intent
from domain.platform.outbox import Delivery
from domain.platform.send_budget import Lease
from locales import DEFAULT_LOCALE, normalise, translate

log = logging.getLogger(__name__)

# How long a leader's lease lasts without renewal; a stand-by takes over after it.
LEASE_SECONDS = 5.0
# A leader stops sending this share of its lease before it would lapse unrenewed
# (self-fencing), so a stand-by that takes it over never sends beside it.
LEASE_MARGIN = 0.3
# How many seconds of sending a leader keeps claimed ahead.
CLAIM_AHEAD_SECONDS = 2.0
UNLIMITED_BATCH = 100
# While a backlog drains, the next claim comes this soon after the last one, not a poll later.
REFILL_SECONDS = 0.25


class SendFailed(Exception):
    """A channel could not deliver; `retry_after` (seconds) or `permanent` say what comes next."""

    def __init__(self, reason: str, *, retry_after: float | None = None,
                 permanent: bool = False) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.permanent = permanent


class Sender(Protocol):
    """What a channel adapter offers the dispatcher; raises `SendFailed` when it cannot send."""

    pacer: Pacer

    @property
    def ready(self) -> bool:
        """Whether the channel can send now (a bot still connecting cannot)."""

    def render(self, intent: Intent) -> Buttons:
        """The intent's actions as rows of (label msgid, data) this channel sends."""

    async def send_text(self, chat_id: str, text: str, buttons: Buttons = ()) -> str | None:
        """Send one text message to a chat, with rows of (label, data) buttons; returns the
        platform's id of the message (None when the channel has none)."""

    async def edit_text(self, chat_id: str, message_id: str, text: str,
                        buttons: Buttons = ()) -> None:
        """Replace the text and buttons of a message sent earlier (issue 14)."""


# The lanes of this process's running dispatchers, each sending with its bot's pacer.
_running: set[Lane] = set()


def dispatches_with(pacer: Pacer) -> bool:
    """Whether a running dispatcher of this process sends with `pacer` (a bot's budget here);
    a process without one (a bare bot) sends its replies itself (issue 14)."""
    return any(lane.pacer is pacer for lane in _running)


def leads_with(pacer: Pacer) -> bool:
    """Whether this process leads the sending of the bot `pacer` paces: its replies may go
    in place; another process's go to the outbox for it, so the bot's rate and each chat's
    gap stay one budget (issue 14)."""
    return any(lane.pacer is pacer and lane.leading for lane in _running)


def process_holder() -> str:
    """A name for this dispatcher's process, unique among the processes of a deployment."""
    return f"{socket.gethostname()}:{os.getpid()}"


class OutboxDispatcher:
    """Sends due outbox messages in the recipient's language, at most once per message.

    `senders` maps each channel this process can deliver on to its adapter; messages of other
    channels are left for a process that can. `clock` and `sleep` (monotonic) are injectable
    for tests; the database time is `domain.platform.clock`.
    """

    def __init__(self, senders: dict[str, Sender], *, poll_seconds: float = 1.0,
                 backoff_seconds: float = 5.0, max_attempts: int = 8,
                 default_locale: str = DEFAULT_LOCALE, lease_seconds: float = LEASE_SECONDS,
                 claim_lease: timedelta = outbox.CLAIM_LEASE, holder: str | None = None,
                 refill_seconds: float = REFILL_SECONDS,
                 clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.senders = senders
        self.poll_seconds = poll_seconds
        self.backoff = timedelta(seconds=backoff_seconds)
        self.max_attempts = max_attempts
        self.default_locale = default_locale
        self.lease = timedelta(seconds=lease_seconds)
        # The lease and the claims are renewed every tick, however seldom the poll.
        self.tick_seconds = min(poll_seconds, lease_seconds * LEASE_MARGIN / 2)
        self.refill_seconds = refill_seconds
        self.claim_lease = claim_lease
        self.holder = holder or f"{process_holder()}:{id(self)}"
        self.clock = clock
        self.sleep = sleep
        self.lanes = {name: Lane(self, name, sender) for name, sender in senders.items()}
        self._stopping = asyncio.Event()

    async def run_once(self) -> int:
        """Lead each ready channel that has no other leader, send what is due now (pacing
        included) and hand the lead back; returns how many messages were sent."""
        sent = 0
        for lane in self.lanes.values():
            if lane.sender.ready:
                sent += await lane.run_once()
        return sent

    async def run_forever(self) -> None:
        """Lead or stand by for every channel until `stop()`; a failed tick is logged and the
        lane goes on."""
        self._stopping.clear()
        async with outbox_wake.listening(self.wake):  # woken when a message is queued
            await asyncio.gather(*(lane.run(self._stopping) for lane in self.lanes.values()))

    def stop(self) -> None:
        """Ask `run_forever` to return: sends in flight end, queued claims go back, the
        lease is handed over."""
        self._stopping.set()
        self.wake()

    def wake(self) -> None:
        """Look for due messages now instead of at the next tick (a message was enqueued)."""
        for lane in self.lanes.values():
            lane.wanted = True
            lane.changed.set()

    def render(self, delivery: Delivery) -> tuple[str, Buttons]:
        """The text in the recipient's language and the intent's actions as the channel
        renders them; a reply goes as its channel already rendered it."""
        if delivery.intent is None:
            return delivery.template, delivery.buttons
        locale = normalise(delivery.locale, self.default_locale)
        buttons = tuple(tuple((translate(locale, label), data) for label, data in row)
                        for row in self.senders[delivery.channel].render(delivery.intent))
        return translate(locale, delivery.template, **delivery.params), buttons


class Lane:
    """The sending of one channel in this process: its lease, queues per chat and sends."""

    def __init__(self, dispatcher: OutboxDispatcher, name: str, sender: Sender) -> None:
        self.d = dispatcher
        self.name = name
        self.sender = sender
        self.pacer = sender.pacer
        self.lease: Lease | None = None
        self.fenced_at = -math.inf  # the local time the leader stops sending unrenewed
        self.queues: dict[str, deque[Delivery]] = {}
        self.flying: dict[int, asyncio.Task[bool]] = {}
        self.changed = asyncio.Event()  # a send ended or a message was enqueued: look again
        self.wanted = False  # a message was enqueued: claim before the next tick
        # More messages may be due: the last claim was full, or a chat's queue ran dry (its
        # next message becomes claimable once the one before it is sent).
        self.more = False
        # Failures so far, and the count at each chat's last failure (a claim in flight
        # must not queue a chat's message behind which an earlier one just failed).
        self.failures = 0
        self.failed: dict[str, int] = {}
        self.sent = 0

    @property
    def leading(self) -> bool:
        """Whether this process may send for the channel now (a lease not about to lapse)."""
        return self.lease is not None and self.lease.leading and self.d.clock() < self.fenced_at

    async def run(self, stopping: asyncio.Event) -> None:
        """Renew the lease and the claims every tick; claim every `poll_seconds`, when woken,
        or at once while a backlog is being worked off; start what is due; until `stopping`."""
        next_tick = next_claim = last_claim = -math.inf
        ticking: asyncio.Task[None] | None = None  # sends go on while a tick awaits the database
        _running.add(self)
        try:
            while not stopping.is_set():
                self.changed.clear()
                now = self.d.clock()
                backlog = self.more and self._queued() < self._room() / 2 \
                    and now >= last_claim + self.d.refill_seconds
                if (now >= next_tick or self.wanted or backlog) and (
                        ticking is None or ticking.done()):
                    claim = now >= next_claim or self.wanted or backlog
                    replies_first, self.wanted = self.wanted, False
                    ticking = asyncio.create_task(self._safe_tick(claim, replies_first))
                    next_tick = now + self.d.tick_seconds
                    if claim:
                        last_claim, next_claim = now, now + self.d.poll_seconds
                wake_at = min(next_tick, self._start_due())
                await self._nap(wake_at - self.d.clock())
        finally:
            _running.discard(self)
            if ticking is not None:
                await ticking
            await self._hand_over()

    async def run_once(self) -> int:
        """Lead, send what is due (each chat's later messages as their turn comes) until
        nothing due is left, and hand the lease back."""
        self.sent = 0
        try:
            await self._tick(replies_first=True)
            while self.leading:
                if not (self.queues or self.flying):
                    await self._tick()
                    if not self.queues:
                        break
                wake_at = self._start_due()
                if self.flying:
                    await asyncio.wait(set(self.flying.values()),
                                       timeout=max(0.0, wake_at - self.d.clock()),
                                       return_when=asyncio.FIRST_COMPLETED)
                elif wake_at > self.d.clock():
                    await self.d.sleep(min(wake_at - self.d.clock(), self.d.poll_seconds))
                if self.d.clock() >= self.fenced_at - self.d.lease.total_seconds() / 2:
                    await self._tick(claim=False)
        finally:
            await self._hand_over()
        return self.sent

    async def _nap(self, seconds: float) -> None:
        """Sleep up to `seconds`, or less when something changes (a send ended, a wake)."""
        if seconds <= 0 or self.changed.is_set():
            await asyncio.sleep(0)
            return
        nap = asyncio.ensure_future(self.d.sleep(seconds))
        woken = asyncio.ensure_future(self.changed.wait())
        try:
            await asyncio.wait({nap, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            nap.cancel()
            woken.cancel()

    async def _safe_tick(self, claim: bool, replies_first: bool) -> None:
        try:
            await self._tick(claim=claim, replies_first=replies_first)
        except Exception:
            log.exception("outbox lane %s: tick failed; the next one tries again", self.name)
        finally:
            self.changed.set()  # what it claimed may start now

    async def _tick(self, *, claim: bool = True, replies_first: bool = False) -> None:
        """Renew or take the lease, honour the bot-wide pause, renew claims, claim more (when
        woken, the replies other processes handed over first, ahead of a backlog of notices);
        a channel that cannot send (a bot still connecting) leaves the lead to another."""
        started = self.d.clock()
        if not self.sender.ready:
            self.more = False
            await self._hand_over()
            return
        lease = await send_budget.lead(self.name, self.d.holder, self.d.lease)
        previous, self.lease = self.lease, lease
        if previous is not None and previous.leading and previous.token != lease.token:
            log.warning("outbox lane %s: lost the lead (epoch %s); its queue goes back",
                        self.name, previous.epoch)
            await self._drop_queues(previous.token)
        if lease.paused_until is not None:
            self.pacer.pause((lease.paused_until - utcnow()).total_seconds())
        if not lease.leading:
            self.more = False
            return
        self.fenced_at = started + self.d.lease.total_seconds() * (1 - LEASE_MARGIN)
        held = [d.message_id for queue in self.queues.values() for d in queue]
        await outbox.renew_claims(lease.token, held + list(self.flying),
                                  utcnow() + self.d.claim_lease)
        room = self._room() - len(held)
        failures_before = self.failures
        if claim and room > 0:
            claimed = await self._claim(lease, room, (outbox.REPLY,)) if replies_first else []
            if len(claimed) < room:
                claimed += await self._claim(lease, room - len(claimed))
            late = [d.message_id for d in claimed if self.failed.get(
                d.chat_id or "", -1) > failures_before]
            for delivery in claimed:
                if delivery.message_id not in late:
                    self._queue(delivery)
            if late:  # its chat's earlier message failed meanwhile: it goes back behind it
                await outbox.release_claims(lease.token, late)
            self.failed = {c: n for c, n in self.failed.items() if n > failures_before}
            self.more = len(claimed) >= room  # more may be due: claim again when half sent

    async def _claim(self, lease: Lease, room: int, kinds: tuple[str, ...] | None = None
                     ) -> list[Delivery]:
        return await outbox.claim_due(
            room, (self.name,), token=lease.token, lease=self.d.claim_lease,
            max_attempts=self.d.max_attempts, default_locale=self.d.default_locale,
            kinds=kinds)

    def _queued(self) -> int:
        return sum(len(queue) for queue in self.queues.values())

    def _room(self) -> int:
        per_second = self.pacer.per_second
        return int(per_second * CLAIM_AHEAD_SECONDS) if per_second else UNLIMITED_BATCH

    def _queue(self, delivery: Delivery) -> None:
        key = delivery.chat_id or f"no-chat:{delivery.message_id}"
        queue = self.queues.setdefault(key, deque())
        queue.append(delivery)
        if len(queue) > 1 and queue[-2].message_id > delivery.message_id:
            self.queues[key] = deque(sorted(queue, key=lambda d: d.message_id))

    def _start_due(self) -> float:
        """Start every message whose turn has come; returns when to look again."""
        while self.leading and self.queues:
            now = self.d.clock()
            slot = self.pacer.slot_at()
            if slot > now:
                return slot
            if self.pacer.urgent_ready(now):
                return now + (self.pacer.interval or 0.01)
            chat, ready_at = self._next_chat(now)
            if chat is None:
                return ready_at
            delivery = self.queues[chat].popleft()
            if not self.queues[chat]:
                del self.queues[chat]
            if delivery.chat_id is not None:
                self.pacer.start(chat, now)
            self.flying[delivery.message_id] = asyncio.create_task(
                self._deliver(chat, delivery), name=f"outbox-{delivery.message_id}")
        return math.inf if not self.flying else self.d.clock() + self.d.poll_seconds

    def _next_chat(self, now: float) -> tuple[str | None, float]:
        """Among the chats that may receive now, the one whose head is a reply (a user waits
        for it), else the oldest; else when the first one may."""
        best, best_key, soonest = None, (True, math.inf), math.inf
        for chat, queue in self.queues.items():
            ready_at = self.pacer.chat_ready_at(chat) if queue[0].chat_id else -math.inf
            key = (queue[0].intent is not None, queue[0].message_id)  # replies carry none
            if ready_at <= now and key < best_key:
                best, best_key = chat, key
            soonest = min(soonest, ready_at)
        return best, soonest

    async def _deliver(self, chat: str, delivery: Delivery) -> bool:
        try:
            sent = await self._send(chat, delivery)
        except Exception:  # bookkeeping failed: the claim is no longer renewed, so it lapses
            log.exception("outbox message %s: the attempt could not be recorded",
                          delivery.message_id)
            sent = False
        finally:
            if delivery.chat_id is not None:
                self.pacer.finish(chat)
            self.flying.pop(delivery.message_id, None)
            self.changed.set()
        if sent and chat not in self.queues:
            self.more = True
        self.sent += sent
        return sent

    async def _send(self, chat: str, delivery: Delivery) -> bool:
        if delivery.chat_id is None:
            outcome = await outbox.wait_for_binding(delivery)
            log.info("outbox message %s: recipient has no %s chat, %s",
                     delivery.message_id, delivery.channel, outcome)
            return False
        try:
            text, buttons = self.d.render(delivery)
        except (KeyError, TypeError, ValueError) as error:
            await self._fail(chat, delivery, SendFailed(f"template cannot be filled: {error!r}",
                                                        permanent=True))
            return False
        try:
            if delivery.edit_of is None:
                external_id = await self.sender.send_text(delivery.chat_id, text, buttons)
            else:
                external_id = await outbox.resolve_edit(delivery)
                if external_id is None:  # applied in place, or nothing left to edit
                    return False
                await self.sender.edit_text(delivery.chat_id, external_id, text, buttons)
        except SendFailed as failure:
            await self._fail(chat, delivery, failure)
            return False
        except Exception as error:  # a sender bug or an unforeseen answer: a failed attempt
            log.exception("outbox message %s: unexpected error while sending",
                          delivery.message_id)
            await self._fail(chat, delivery, SendFailed(f"unexpected error: {error!r}"))
            return False
        if not await outbox.mark_sent(delivery, external_id):
            log.error("outbox message %s was sent but its claim had been taken over",
                      delivery.message_id)
        return True

    async def _fail(self, chat: str, delivery: Delivery, failure: SendFailed) -> None:
        if failure.retry_after is not None:  # the whole bot pauses; not a failed attempt
            await pause_bot(self.pacer, self.name, failure.retry_after)
            until = utcnow() + timedelta(seconds=failure.retry_after)
            await outbox.postpone(delivery, until, str(failure))
            status = "postponed (the bot pauses)"
        else:
            status = await outbox.mark_failed(
                delivery, str(failure), backoff=self.d.backoff,
                max_attempts=self.d.max_attempts, permanent=failure.permanent)
        await self._requeue_chat(chat, delivery.claim_token)
        log.warning("outbox message %s to chat %s failed (attempt %s, now %s): %s",
                    delivery.message_id, delivery.chat_id, delivery.attempts + 1, status,
                    failure)

    async def _requeue_chat(self, chat: str, token: str) -> None:
        """The chat's later messages go back behind its failed one, to keep the order (also
        those a claim running now brings, see `_tick`)."""
        self.failures += 1
        self.failed[chat] = self.failures
        queue = self.queues.pop(chat, None)
        if queue:
            await outbox.release_claims(token, [d.message_id for d in queue])

    async def _drop_queues(self, token: str) -> None:
        queued = [d.message_id for queue in self.queues.values() for d in queue]
        self.queues.clear()
        if queued:
            await outbox.release_claims(token, queued)

    async def _hand_over(self) -> None:
        """Let sends in flight end, give queued claims back, resign the lease."""
        if self.flying:
            await asyncio.wait(set(self.flying.values()), timeout=10)
        lease = self.lease
        if lease is None or not lease.leading:
            return
        self.lease = None
        try:
            await self._drop_queues(lease.token)
            await send_budget.resign(lease)
        except Exception:  # the claims and the lease lapse on their own
            log.exception("outbox lane %s: could not hand over; the lease lapses", self.name)
