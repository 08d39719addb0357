"""Long polling that confirms an update to Telegram only once it has been handled.

python-telegram-bot's `Updater` asks for the next batch (which confirms the previous one to
Telegram) while the application is still working on it, and confirms everything it fetched
when it stops: an update in flight at a crash or a stop is lost. This poller hands each
update to the application and waits until it is processed before the next getUpdates call
confirms it. The flows commit an update's processed mark together with its effects (see
`bot.flows.router`), so after a crash Telegram delivers the unconfirmed updates again, the
ones already handled are recognised and dropped, and the one in flight is handled once.

The updates of one batch are handled a chat at a time within the chat and concurrently
across chats (issue 14): the batch is split into lanes, one per chat (updates that share a
sender or a chat go in one lane, so a user's session and a chat's answers keep their
order), each lane handles its updates one after the other, and at most `CHATS_AT_ONCE`
lanes run at once. The batch is confirmed (the next getUpdates' offset) only once every
lane is done, so a crash or a stop still leaves every unhandled update unconfirmed. One
chat's slow photo no longer holds another chat's /whoami behind it in the batch. On SQLite
the lanes share one connection whose transactions Tortoise takes one at a time (an asyncio
lock, so no "database is locked" within the process); each lane holds it only for its
update's transaction, and photos are downloaded and checked before it (`bot.flows.router`).

Only one process may poll a bot (Telegram answers a second getUpdates 409 Conflict, and the
two would split the updates between them): the poller holds the database lease
`telegram-poller` while it polls, renewed as it goes, and refuses to start while another
process holds it (`PollingElsewhere`). A 409 Conflict all the same (a poller on another
database, or a webhook set meanwhile) ends polling with a log line saying why (issue 14).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Sequence
from datetime import timedelta

from telegram import Update
from telegram.error import Conflict, TelegramError
from telegram.ext import Application

from domain.platform import leases

log = logging.getLogger(__name__)

RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
POLLER_LEASE = "telegram-poller"
# The lease outlives one long poll by this much. It is renewed once it is a third of the
# margin old (not before every getUpdates), so at each getUpdates and each update at least
# the long poll plus 40 s of it remain.
LEASE_MARGIN = timedelta(seconds=60)
RENEW_AFTER_SECONDS = LEASE_MARGIN.total_seconds() / 3
# Chats whose updates are handled at the same time: each holds a database connection (or
# waits for SQLite's) and possibly a downloaded photo in memory (up to the 20 MiB limit), and
# the photo checks share the process pool's two workers, so more would only queue.
CHATS_AT_ONCE = 8


class PollingElsewhere(RuntimeError):
    """Another process polls Telegram for this bot; a second poller is refused (issue 14)."""


class PollingEnded(RuntimeError):
    """Polling had to stop: Telegram answered 409 Conflict or the lease was lost."""


class ConfirmingPoller:
    """Fetches updates with getUpdates and confirms each one only after it was handled."""

    def __init__(self, application: Application, timeout_seconds: float,  # type: ignore[type-arg]
                 holder: str | None = None, chats_at_once: int = CHATS_AT_ONCE) -> None:
        self.application = application
        self.timeout_seconds = timeout_seconds
        self.chats_at_once = chats_at_once
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self.lease_ttl = timedelta(seconds=timeout_seconds) + LEASE_MARGIN
        self.offset = 0
        self._renewed = 0.0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Take the poller lease, drop any webhook (Telegram refuses getUpdates beside one)
        and start polling; `PollingElsewhere` while another process polls (issue 14)."""
        if not (await leases.acquire(POLLER_LEASE, self.holder, self.lease_ttl)
                or await self._take_from_the_dead()):
            raise PollingElsewhere(await _refusal())
        self._renewed = time.monotonic()
        try:
            await self.application.bot.delete_webhook()
        except BaseException:
            await leases.release(POLLER_LEASE, self.holder)
            raise
        self._task = asyncio.create_task(self._poll(), name="telegram-polling")

    async def _take_from_the_dead(self) -> bool:
        """Take the lease of a poller of this host whose process is gone (a restart after a
        crash need not wait for the lease to expire)."""
        lease = await leases.holder_of(POLLER_LEASE)
        if lease is None or not _dead_here(lease.holder):
            return False
        log.warning("taking the %s lease of %s: that process is gone", POLLER_LEASE,
                    lease.holder)
        return await leases.take_over(POLLER_LEASE, lease.holder, self.holder, self.lease_ttl)

    @property
    def polling(self) -> bool:
        """Whether the poller still fetches updates (it stops for good on 409 Conflict)."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop polling; an update being handled is abandoned unconfirmed (its transaction
        rolls back), so Telegram delivers it again at the next start."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self.offset:
            with contextlib.suppress(TelegramError):
                await self.application.bot.get_updates(offset=self.offset, timeout=0, limit=1)
        await leases.release(POLLER_LEASE, self.holder)

    async def _poll(self) -> None:
        try:
            await self._fetch_and_handle()
        except PollingEnded as ended:
            log.error("telegram polling stopped: %s", ended)
            await leases.release(POLLER_LEASE, self.holder)

    async def _renew(self) -> None:
        """Keep the poller lease, renewed once it is `RENEW_AFTER_SECONDS` old; the lanes of
        a batch renew it once between them."""
        if time.monotonic() - self._renewed < RENEW_AFTER_SECONDS:
            return
        self._renewed = time.monotonic()  # the other lanes need not renew it meanwhile
        try:
            renewed = await leases.acquire(POLLER_LEASE, self.holder, self.lease_ttl)
        except BaseException:
            self._renewed = 0.0
            raise
        if not renewed:
            raise PollingEnded(f"the lease {POLLER_LEASE} was taken over: "
                               f"{await _refusal()}")

    async def _renew_between_updates(self) -> None:
        """Renew the lease during a long batch; a database error here waits for the renewal
        before the next getUpdates, which retries."""
        try:
            await self._renew()
        except PollingEnded:
            raise
        except Exception:
            log.warning("telegram poller lease not renewed; renewing before the next poll",
                        exc_info=True)

    async def _fetch_and_handle(self) -> None:
        failures = 0
        while True:
            try:
                await self._renew()
                updates = await self.application.bot.get_updates(
                    offset=self.offset, timeout=int(self.timeout_seconds),
                    allowed_updates=Update.ALL_TYPES)
            except PollingEnded:
                raise
            except Conflict as error:
                raise PollingEnded(
                    f"Telegram answered 409 Conflict ({error}): another program polls this "
                    "bot's token or a webhook is set for it; stop it (one poller per bot, or "
                    "webhook mode for several workers) and restart this process") from error
            except Exception as error:  # polling must outlive any other bad answer
                wait = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning("telegram polling failed (%r); trying again in %.0f s", error,
                            wait, exc_info=not isinstance(error, TelegramError))
                await asyncio.sleep(wait)
                continue
            failures = 0
            await self._handle_batch(updates)

    async def _handle_batch(self, updates: Sequence[Update]) -> None:
        """Handle a batch, each chat's updates in order and the chats concurrently (at most
        `chats_at_once`); returns once all are handled, so the next getUpdates confirms the
        batch only then. The offset passes an update only when it and every earlier one of
        the batch were handled: stopping cancels the lanes, and `stop` confirms no more."""
        chats = asyncio.Semaphore(self.chats_at_once)
        waiting = sorted(update.update_id for update in updates)
        handled: set[int] = set()

        async def lane(in_order: list[Update]) -> None:
            async with chats:
                for update in in_order:
                    await self._renew_between_updates()
                    await self.application.process_update(update)
                    handled.add(update.update_id)
                    while waiting and waiting[0] in handled:
                        self.offset = waiting.pop(0) + 1

        running = [asyncio.create_task(lane(each)) for each in chat_lanes(updates)]
        try:
            await asyncio.gather(*running)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)


def chat_lanes(updates: Sequence[Update]) -> list[list[Update]]:
    """The updates of a batch in lanes that may run concurrently, each in batch order:
    updates sharing a sender or a chat are in one lane (issue 14)."""
    lane_of: dict[str, str] = {}

    def root(key: str) -> str:
        while lane_of.setdefault(key, key) != key:
            key = lane_of[key]
        return key

    for update in updates:
        first, *others = _lane_keys(update)
        for key in others:
            lane_of[root(key)] = root(first)
    lanes: dict[str, list[Update]] = {}
    for update in updates:
        lanes.setdefault(root(_lane_keys(update)[0]), []).append(update)
    return list(lanes.values())


def _lane_keys(update: Update) -> list[str]:
    """What orders an update: its sender and its chat (one shared lane when it has neither)."""
    keys = [f"user:{update.effective_user.id}"] if update.effective_user else []
    if update.effective_chat:
        keys.append(f"chat:{update.effective_chat.id}")
    return keys or ["unattributed"]


def _dead_here(holder: str) -> bool:
    """Whether a lease holder (`host:pid:…`) is a process of this host that no longer runs."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


async def _refusal() -> str:
    """Why a second poller cannot start, naming who polls and what to do instead."""
    lease = await leases.holder_of(POLLER_LEASE)
    who = (f"{lease.holder}, lease until {lease.expires_at:%Y-%m-%d %H:%M:%S} UTC"
           if lease else "another process")
    return (f"another process polls Telegram for this bot ({who}); run one process with "
            "the bot in polling mode, or set FIELDOPS_WEBHOOK_URL to run several bot workers")
