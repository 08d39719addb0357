"""Update handlers: each passes one update to the flows and sends the replies."""

from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import timedelta

from telegram import Bot, Update
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters
from telegram.warnings import PTBDeprecationWarning

from bot.flows import ChatRouter, Inbound, Reply
from bot.pacer import Pacer, pause_bot
from bot.replies import handed_over, rows
from bot.telegram.convert import (
    CHANNEL,
    inbound_button,
    inbound_location,
    inbound_message,
    inbound_upload,
    keyboard,
)
from domain.platform import chat_privacy, outbox
from domain.platform.chat_limits import InboundLimit
from domain.platform.clock import utcnow

log = logging.getLogger(__name__)

# A flood-control wait longer than this is left to the outbox instead of holding the update.
MAX_WAIT_IN_PLACE_SECONDS = 5.0
# How the Bot API refuses to delete a message the user deleted already.
MESSAGE_GONE = "message to delete not found"


class UpdateHandlers:
    """The handlers of the Telegram application, sharing one flow router.

    A reply that fails for a passing reason (network, 5xx, 429) is tried `reply_attempts`
    times, `reply_backoff_seconds` apart and doubling, then queued in the outbox. A chat
    user past `inbound_limit` (when one is set) is told once to slow down, the rest dropped.
    """

    def __init__(self, router: ChatRouter, *, reply_attempts: int = 3,
                 reply_backoff_seconds: float = 1.0,
                 inbound_limit: InboundLimit | None = None, pacer: Pacer | None = None) -> None:
        self.router = router
        self.inbound_limit = inbound_limit
        self.public_url = router.ctx.public_url
        self.reply_attempts = reply_attempts
        self.reply_backoff_seconds = reply_backoff_seconds
        self.pacer = pacer or Pacer()

    def install(self, application: Application) -> None:  # type: ignore[type-arg]
        """Register the handlers on an application."""
        application.add_handler(MessageHandler(filters.TEXT, self.on_message))
        application.add_handler(MessageHandler(filters.PHOTO | filters.Document.ALL,
                                               self.on_upload))
        application.add_handler(MessageHandler(filters.LOCATION, self.on_location))
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_error_handler(self.on_error)

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Pass a text or command to the flows and send the replies."""
        await self._route(context.bot, inbound_message(update))

    async def on_upload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Pass a photo or file to the flows and send the replies."""
        await self._route(context.bot, inbound_upload(update))

    async def on_location(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Pass a shared location to the flows and send the replies."""
        await self._route(context.bot, inbound_location(update))

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Pass a button press to the flows, answer the query, send the replies."""
        inbound = inbound_button(update)
        if not await self._admitted(context.bot, inbound):
            return
        handled = await self.router.handle_update(inbound)
        if not handled.replies:  # a redelivered update: its query was answered the first time
            return
        try:
            await context.bot.answer_callback_query(inbound.callback_id)
        except TelegramError as error:  # only the button's spinner: the replies matter
            log.warning("callback query %s not answered: %s", inbound.callback_id, error)
        await self._send(context.bot, inbound, handled.replies, handled.released)

    async def _route(self, bot: Bot, inbound: Inbound) -> None:
        if await self._admitted(bot, inbound):
            handled = await self.router.handle_update(inbound)
            await self._send(bot, inbound, handled.replies, handled.released)

    async def _admitted(self, bot: Bot, inbound: Inbound) -> bool:
        """Whether the chat user is within the inbound limit; past it the update is marked
        processed unhandled, and only the first one is answered "slow down"."""
        refused = await self.router.over_limit(inbound, self.inbound_limit)
        if refused:
            await self._send(bot, inbound, refused)
        return refused is None

    async def _send(self, bot: Bot, inbound: Inbound, replies: list[Reply],
                    released: bool = False) -> None:
        """Send the replies; then delete the chat's customer-data messages when the update
        released some (C10; the deletion sweep retries what fails). The router noted the
        client's language code with the update (issue 14)."""
        await send_replies(bot, self.public_url, inbound, replies,
                           attempts=self.reply_attempts, backoff=self.reply_backoff_seconds,
                           pacer=self.pacer)
        if released:
            await delete_customer_messages(bot, inbound.chat_id)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log a failed update with its id; the application keeps running."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("telegram update %s failed", update_id, exc_info=context.error)


async def send_replies(bot: Bot, public_url: str, inbound: Inbound, replies: list[Reply], *,
                       attempts: int = 3, backoff: float = 1.0,
                       pacer: Pacer | None = None) -> None:
    """Send flow replies in order; what a passing failure keeps from the chat (and what
    follows it) goes through the outbox, so the user is told what his action did (DESIGN §3).
    Each reply takes its turn from the bot's pacer, ahead of queued notifications, in the
    process that leads the bot's sending; elsewhere the leader sends them (issue 14)."""
    pacer = pacer or Pacer()
    if await handed_over(pacer, CHANNEL, inbound.external_user_id, str(inbound.update_id),
                         replies):
        return
    for index, reply in enumerate(replies):
        try:
            await _send_with_retries(bot, public_url, inbound.chat_id, reply, attempts, backoff,
                                     pacer)
        except (NetworkError, RetryAfter) as error:
            if isinstance(error, BadRequest):
                log.error("reply to chat %s refused: %s", inbound.chat_id, error)
                continue
            queued = await outbox.enqueue_replies(
                CHANNEL, inbound.external_user_id, f"{inbound.update_id}:{index}",
                rows(replies[index:]))
            log.warning("replies to chat %s failed (%s): %d of %d queued in the outbox",
                        inbound.chat_id, error, queued, len(replies) - index)
            return
        except TelegramError as error:  # blocked, chat gone: sending again cannot help
            log.error("reply to chat %s refused: %s", inbound.chat_id, error)
            return


async def delete_customer_messages(bot: Bot, chat_id: str | None = None) -> int:
    """Delete the agent's messages with customer data whose case was submitted or cancelled,
    in one chat or in all; a failure is tried again by the next sweep (C10)."""
    deleted = 0
    for row in await chat_privacy.due_deletions(CHANNEL, utcnow(), chat_id):
        try:
            await bot.delete_message(chat_id=row.chat_id, message_id=int(row.message_id))
        except RetryAfter as error:  # flood control: the next sweep goes on
            await chat_privacy.deletion_failed(row, str(error))
            break
        except BadRequest as error:
            if MESSAGE_GONE not in str(error).lower():
                await chat_privacy.deletion_failed(row, str(error))
                continue
        except TelegramError as error:
            await chat_privacy.deletion_failed(row, str(error))
            continue
        await chat_privacy.message_deleted(row, utcnow())
        deleted += 1
    return deleted


async def _send_with_retries(bot: Bot, public_url: str, chat_id: str, reply: Reply,
                             attempts: int, backoff: float, pacer: Pacer) -> None:
    """One reply, tried again in place after a network error, a 5xx or a short 429 (which
    pauses the whole bot, issue 14)."""
    for attempt in range(1, attempts + 1):
        try:
            async with pacer.turn(chat_id):
                await bot.send_message(chat_id=chat_id, text=reply.text,
                                       reply_markup=keyboard(reply, public_url))
            return
        except RetryAfter as error:
            wait = retry_after_seconds(error)
            await pause_bot(pacer, CHANNEL, wait)
            if attempt == attempts or wait > MAX_WAIT_IN_PLACE_SECONDS:
                raise
        except BadRequest:
            raise
        except NetworkError:
            if attempt == attempts:
                raise
            wait = backoff * 2 ** (attempt - 1)
        await asyncio.sleep(wait)


def retry_after_seconds(error: RetryAfter) -> float:
    """`retry_after` in seconds; PTB 22 gives an int or a timedelta (PTB_TIMEDELTA)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
