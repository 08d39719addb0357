"""WeCom's callback URL (issue 15): the URL check, and messages stored at once, handled later.

`GET` is WeCom checking the URL: the signature over token, timestamp, nonce and `echostr` is
verified and the decrypted echo answered as plain text, with no database write. `POST` carries
a message or event: verified, decrypted and read with the hardened parser, then stored in the
durable inbox (`domain.platform.chat_inbox`, still encrypted as WeCom sent it) and answered
200 with an empty body at once — WeCom waits 5 s and retries three times, and a retry of a
stored message is answered the same without being stored again. Every refusal (a forged
signature, a replay, a message for another corp, unsafe or oversize XML) is answered 403,
413 or 400 and logged with its reason; nothing of it is stored.

The stored messages are handled in the background, per sender in arrival order and one at a
time across any number of processes, senders side by side: each is converted to a flow
input (`bot.wecom.convert`), admitted within the inbound limit, handled by the flows and its
replies sent. A card press is resolved only once the press is admitted, so a press refused
by the limit leaves its card live. The worker renews its claim every `renew_seconds` while it
handles a message (a reply can wait a minute on WeCom's timeouts), and never takes again a
message it is still handling. A worker that dies mid-handling leaves its claim to lapse; the
sweep `start` runs every few seconds takes such messages again, and a message that fails
`max_attempts` times is marked dead with its error.

Once the flows have committed an update, handling it again would find it processed and answer
nothing: a failure while its replies are sent or its card marked is logged and the message
counted handled, not retried. `WeComBot.send_replies` queues in the outbox what it could not
send, whatever stopped it; a cancellation (`stop`) gives the message back, and its retry
finds the update processed.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from aiohttp import web
from tortoise.exceptions import BaseORMException

from bot.flows import Reply
from bot.wecom import convert
from bot.wecom.api import CHANNEL
from bot.wecom.errors import (
    BadSignature,
    CallbackRefused,
    MalformedMessage,
    OversizeBody,
    StaleTimestamp,
    WrongReceiveId,
)
from bot.wecom.inbound import MAX_XML_BYTES, parse_envelope, parse_inbound
from domain.platform import chat_inbox
from domain.platform.chat_inbox import InboxItem
from domain.platform.clock import utcnow

if TYPE_CHECKING:
    from bot.wecom.bot import WeComBot

log = logging.getLogger(__name__)

SWEEP_SECONDS = 5.0
WORKERS = 8  # senders handled side by side by one process
PRUNE_EVERY = timedelta(hours=1)
MAX_USER_ID = 64  # WeCom's UserID is at most 64 bytes
# Refusals answered 403 (not WeCom, or not now) and 413; the rest are malformed: 400.
FORBIDDEN = (BadSignature, StaleTimestamp, WrongReceiveId)
SIGNED = ("msg_signature", "timestamp", "nonce")


class WeComCallback:
    """Serves the callback URL of one WeCom app and handles what it stored (issue 15)."""

    def __init__(self, bot: WeComBot, *, sweep_seconds: float = SWEEP_SECONDS,
                 workers: int = WORKERS, lease: timedelta = chat_inbox.CLAIM_LEASE,
                 renew_seconds: float | None = None,
                 max_attempts: int = chat_inbox.MAX_ATTEMPTS,
                 retry_after: timedelta = chat_inbox.RETRY_AFTER) -> None:
        self.bot = bot
        self.sweep_seconds = sweep_seconds
        self.workers = workers
        self.lease = lease
        # renewed three times a lease by default: two renewals may fail before it lapses
        self.renew_seconds = (lease.total_seconds() / 3 if renew_seconds is None
                              else renew_seconds)
        self.max_attempts = max_attempts
        self.retry_after = retry_after
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._handling: dict[asyncio.Task[None], InboxItem] = {}
        self._pruned_at = utcnow()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer WeCom: the URL check (`GET`) or a message stored for handling (`POST`);
        a refusal is answered 403, 413 or 400, logged with its reason, never a 500."""
        try:
            if request.method == "GET":
                return self._verify_url(request)
            if request.method == "POST":
                return await self._receive(request)
        except CallbackRefused as refusal:
            status = (403 if isinstance(refusal, FORBIDDEN)
                      else 413 if isinstance(refusal, OversizeBody) else 400)
            log.warning("wecom callback refused (%s, answered %d) from %s: %s",
                        refusal.reason, status, request.remote, refusal)
            return web.Response(status=status, text=f"{refusal.reason}\n")
        return web.Response(status=405, headers={"Allow": "GET, POST"})

    def _verify_url(self, request: web.Request) -> web.Response:
        signature, timestamp, nonce, echostr = _params(request, (*SIGNED, "echostr"))
        # a '+' of the base64 echo left unescaped in the query reads as a space
        echo = self.bot.crypt.verify_url(signature, timestamp, nonce, echostr.replace(" ", "+"))
        return web.Response(text=echo)

    async def _receive(self, request: web.Request) -> web.Response:
        signature, timestamp, nonce = _params(request, SIGNED)
        body = await _bounded_body(request)
        message = parse_inbound(self.bot.crypt.decrypt_message(body, signature, timestamp,
                                                               nonce))
        if len(message.from_user.encode("utf-8")) > MAX_USER_ID:
            raise MalformedMessage(f"<FromUserName> is longer than {MAX_USER_ID} bytes")
        try:
            stored = await chat_inbox.store(CHANNEL, message.dedupe_key, message.from_user,
                                            parse_envelope(body).encrypt, utcnow())
        except (BaseORMException, OSError):
            log.exception("wecom callback %s of %s not stored: answered 503, WeCom retries",
                          message.dedupe_key, message.from_user)
            return web.Response(status=503)
        if stored:
            self._wake.set()
        else:
            log.info("wecom callback %s of %s retried: answered, stored already",
                     message.dedupe_key, message.from_user)
        return web.Response()

    async def start(self) -> None:
        """Handle stored messages in the background: at once when one arrives, and every
        `sweep_seconds` those left unhandled (a lapsed claim, a retry that is due)."""
        self._loop = asyncio.create_task(self._run(), name="wecom-callback-inbox")

    async def stop(self) -> None:
        """Stop handling; messages under way are given back unhandled, without counting the
        attempt, for another worker or the next start."""
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
        handling, self._handling = self._handling, {}
        for task in handling:
            task.cancel()
        await asyncio.gather(*handling, return_exceptions=True)
        for item in handling.values():
            await chat_inbox.release(item)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._claim_more()
                await self._prune()
            except Exception:  # the database gone a moment: the loop outlives the round
                log.exception("wecom inbox sweep failed; trying again in %s s",
                              self.sweep_seconds)
            try:
                await asyncio.wait_for(self._wake.wait(), self.sweep_seconds)
            except TimeoutError:
                pass

    async def _claim_more(self) -> None:
        """Claim the next message of as many senders as there are idle workers."""
        room = self.workers - len(self._handling)
        if room <= 0 or not self.bot.ready:  # the bot still connecting: messages wait
            return
        handling = {item.id for item in self._handling.values()}
        for item in await chat_inbox.claim(CHANNEL, utcnow(), limit=room, lease=self.lease,
                                           max_attempts=self.max_attempts, skip=handling):
            task = asyncio.create_task(self._process(item), name=f"wecom-inbox-{item.id}")
            self._handling[task] = item
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        item = self._handling.pop(task, None)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("wecom message %s left to its claim's lapse: %s",
                      item.dedupe_key if item else "?", error, exc_info=error)
        self._wake.set()  # a worker is free, and the sender's next message may be due

    async def _prune(self) -> None:
        now = utcnow()
        if now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            await chat_inbox.prune(CHANNEL, now - chat_inbox.KEEP_HANDLED)

    async def _process(self, item: InboxItem) -> None:
        """Handle one stored message, its claim renewed meanwhile; a failure is counted,
        tried again, dead at the last."""
        renewing = asyncio.create_task(self._renew(item), name=f"wecom-renew-{item.id}")
        try:
            await self.handle_stored(item.payload)
        except Exception as error:  # any failure of the flows or of WeCom: counted, retried
            log.exception("wecom message %s of %s failed (attempt %d)", item.dedupe_key,
                          item.sender, item.attempts)
            await chat_inbox.failed(item, f"{type(error).__name__}: {error}", utcnow(),
                                    max_attempts=self.max_attempts,
                                    retry_after=self.retry_after)
            return
        finally:
            renewing.cancel()
        if not await chat_inbox.handled(item, utcnow()):
            log.warning("wecom message %s of %s handled after its claim lapsed",
                        item.dedupe_key, item.sender)

    async def _renew(self, item: InboxItem) -> None:
        """Hold the claim of a message being handled, every `renew_seconds`; a lost claim is
        logged (the handling goes on, fenced off at its end), a failed renewal tried again."""
        while True:
            await asyncio.sleep(self.renew_seconds)
            try:
                if not await chat_inbox.renew(item, utcnow() + self.lease):
                    log.warning("wecom message %s of %s: its claim was lost during handling",
                                item.dedupe_key, item.sender)
                    return
            except Exception:  # the database gone a moment: the next renewal tries again
                log.exception("wecom message %s: claim not renewed", item.dedupe_key)

    async def handle_stored(self, payload: str) -> None:
        """Convert a stored message, admit it within the inbound limit (then resolve a card
        press), let the flows handle it and send their replies; a card press then shows the
        choice on its card."""
        message = parse_inbound(self.bot.crypt.decrypt(payload))
        limit = self.bot.router.ctx.capture.photo_limits.max_bytes
        converted = await convert.to_inbound(
            message, partial(self.bot.api.media_get, max_bytes=limit))
        if converted is None:
            return
        inbound, user = converted.inbound, message.from_user
        refused = await self.bot.router.over_limit(inbound, self.bot.inbound_limit)
        if refused is not None:
            await self._answer(user, refused, inbound.update_id)
            return
        if converted.unresolved_press:
            converted = await convert.card_press(message, utcnow())
            inbound = converted.inbound
        handled = await self.bot.router.handle_update(inbound)
        await self._answer(user, handled.replies, inbound.update_id, handled.released,
                           converted.press)

    async def _answer(self, user: str, replies: list[Reply], update_key: str,
                      released: bool = False, press: convert.CardPress | None = None) -> None:
        """Send the replies of an update the flows committed, then mark its card; a failure
        is logged, not raised: a retry would find the update processed and answer nothing
        (`send_replies` has queued in the outbox what it did not send)."""
        try:
            await self.bot.send_replies(user, replies, update_key, released=released)
            if press is not None:
                await self.bot.card_pressed(user, press.task_id, press.response_code,
                                            press.label)
        except Exception:
            log.exception("wecom update %s of %s: sending its replies failed after the "
                          "flows committed it", update_key, user)


def _params(request: web.Request, names: tuple[str, ...]) -> list[str]:
    """The query parameters WeCom signs; a missing one is a malformed callback."""
    missing = [name for name in names if not request.query.get(name)]
    if missing:
        raise MalformedMessage(f"the query lacks {', '.join(missing)}")
    return [request.query[name] for name in names]


async def _bounded_body(request: web.Request) -> bytes:
    """The body, refused unread past `MAX_XML_BYTES` (a callback is a few KiB)."""
    if (request.content_length or 0) > MAX_XML_BYTES:
        raise OversizeBody(f"{request.content_length} bytes announced, more than "
                           f"{MAX_XML_BYTES}")
    body = bytearray()
    while chunk := await request.content.read(MAX_XML_BYTES + 1 - len(body)):
        body += chunk
        if len(body) > MAX_XML_BYTES:
            raise OversizeBody(f"more than {MAX_XML_BYTES} bytes sent")
    return bytes(body)
