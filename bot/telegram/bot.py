"""The Telegram adapter: one `Application`, polling or webhook, and the outbox sender."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import socket
from collections.abc import Iterator
from datetime import timedelta

from aiohttp import web
from telegram import Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot import actions
from bot.dispatcher import SendFailed
from bot.flows import ChatRouter
from bot.flows.context import FlowContext
from bot.flows.messages import Buttons, absolute_links
from bot.pacer import Pacer
from bot.telegram.config import BotConfig
from bot.telegram.convert import markup
from bot.telegram.handlers import (
    UpdateHandlers,
    delete_customer_messages,
    retry_after_seconds,
)
from bot.telegram.ordering import in_chat_order
from bot.telegram.polling import CHATS_AT_ONCE, ConfirmingPoller
from domain.platform import leases
from domain.platform.intents import Intent

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Deletions of customer-data messages that failed are tried again this often, by one worker.
DELETION_SWEEP = timedelta(minutes=1)
DELETION_LEASE = "telegram_customer_messages"
# How the Bot API answers an edit to the text the message already has.
NOT_MODIFIED = "message is not modified"
# Bot API connections beside getUpdates': one per chat handled at once (its download or its
# answer) and a few for the dispatcher's notifications and the sweeps.
API_CONNECTIONS = CHATS_AT_ONCE + 4


class BotApiUnexpected(TelegramError):
    """The Bot API answered something the bot cannot work with."""


class TelegramBot:
    """Runs the FieldOps flows on Telegram and sends outbox messages for the dispatcher."""

    def __init__(self, config: BotConfig, ctx: FlowContext) -> None:
        self.config = config
        self.public_url = ctx.public_url
        # the bot's send budget in this process (issue 14)
        self.pacer = Pacer(config.per_second, config.chat_gap_seconds, config.group_gap_seconds)
        self.handlers = UpdateHandlers(ChatRouter(ctx, config.default_locale),
                                       reply_attempts=config.reply_attempts,
                                       reply_backoff_seconds=config.reply_backoff_seconds,
                                       inbound_limit=config.inbound_limit,
                                       pacer=self.pacer)
        self._application: Application | None = None  # type: ignore[type-arg]
        self._poller: ConfirmingPoller | None = None
        self._deletions: asyncio.Task[None] | None = None

    @property
    def application(self) -> Application:  # type: ignore[type-arg]
        """The running python-telegram-bot application."""
        if self._application is None:
            raise RuntimeError("TelegramBot.start() has not been called")
        return self._application

    @property
    def username(self) -> str:
        """The bot's user name, as getMe reported it at start."""
        return self.application.bot.username

    @property
    def ready(self) -> bool:
        """Whether the bot is up (started and not stopped), so that it can send."""
        return self._application is not None and self._application.running

    async def start(self) -> None:
        """Build the application and receive updates: webhook when configured, else polling.

        A Bot API that cannot be reached or answers unexpectedly raises (a `TelegramError`
        or whatever the answer broke) and leaves nothing open, so the caller can try again.
        """
        application = self._build()
        try:
            await self._run(application)
        except BaseException:
            await _discard(application)
            raise
        self._application = application
        self._deletions = asyncio.create_task(self._sweep_deletions())
        log.info("telegram bot @%s started (%s)", self.username,
                 "webhook" if self.config.webhook_url else "polling")

    async def _run(self, application: Application) -> None:  # type: ignore[type-arg]
        await application.initialize()
        if not application.bot.username:
            raise BotApiUnexpected("getMe answered without the bot's username")
        if self.config.webhook_url:
            await application.bot.set_webhook(
                self.config.webhook_url, secret_token=self.config.webhook_secret,
                allowed_updates=Update.ALL_TYPES,
            )
        await application.start()
        if not self.config.webhook_url:
            self._poller = ConfirmingPoller(application, self.config.poll_timeout_seconds)
            await self._poller.start()

    async def stop(self) -> None:
        """Stop receiving updates and release the application."""
        application, self._application = self._application, None
        if self._deletions is not None:
            self._deletions.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._deletions
            self._deletions = None
        if self._poller is not None:
            await self._poller.stop()
            self._poller = None
        if application is not None:
            await _discard(application)

    async def _sweep_deletions(self) -> None:
        """Try the customer-data deletions again every minute, under a lease so that one
        worker does it (C10)."""
        holder = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        while True:
            await asyncio.sleep(DELETION_SWEEP.total_seconds())
            try:
                if await leases.acquire(DELETION_LEASE, holder, DELETION_SWEEP * 2):
                    await delete_customer_messages(self.application.bot)
            except Exception:  # the next round tries again; the bot keeps serving
                log.exception("sweep of customer-data messages to delete failed")

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """Process one webhook delivery; 403 unless it carries the secret token, 503 (Telegram
        delivers again later) while the bot is not up."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        expected = self.config.webhook_secret.encode()
        if not expected or not hmac.compare_digest(given, expected):
            return web.Response(status=403)
        if not self.ready:
            return web.Response(status=503)
        try:
            update = Update.de_json(await request.json(), self.application.bot)
        except (ValueError, KeyError, TypeError) as error:
            log.warning("unreadable telegram webhook delivery: %r", error)
            return web.Response(status=400)
        async with in_chat_order(update):  # one chat's updates in order across workers
            await self.application.process_update(update)
        return web.Response()

    def render(self, intent: Intent) -> Buttons:
        """Actions as inline buttons of the flows; `open` as a link made absolute when sent."""
        return actions.buttons(intent)

    async def send_text(self, chat_id: str, text: str, buttons: Buttons = ()) -> str | None:
        """Send a notification; returns Telegram's message id (which an edit needs); Bot API
        errors become `SendFailed` for the dispatcher."""
        with _as_send_failed():
            message = await self.application.bot.send_message(
                chat_id=chat_id, text=text,
                reply_markup=markup(absolute_links(buttons, self.public_url)))
        return str(message.message_id)

    async def edit_text(self, chat_id: str, message_id: str, text: str,
                        buttons: Buttons = ()) -> None:
        """Replace a sent notice's text and buttons (editMessageText, issue 14); an edit that
        changes nothing counts as done."""
        try:
            with _as_send_failed():
                await self.application.bot.edit_message_text(
                    text, chat_id=chat_id, message_id=int(message_id),
                    reply_markup=markup(absolute_links(buttons, self.public_url)))
        except SendFailed as failure:
            if NOT_MODIFIED not in str(failure).lower():
                raise

    def _build(self) -> Application:  # type: ignore[type-arg]
        # python-telegram-bot keeps one connection for all Bot API calls but getUpdates:
        # a chat's photo download would hold every other chat's answer behind it (issue 14).
        builder = (ApplicationBuilder().token(self.config.token)
                   .base_url(self.config.api_base_url)
                   .base_file_url(self.config.file_base_url)
                   .connection_pool_size(API_CONNECTIONS))
        application = builder.updater(None).build()  # polling: ConfirmingPoller
        self.handlers.install(application)
        return application


@contextlib.contextmanager
def _as_send_failed() -> Iterator[None]:
    """Bot API errors as the dispatcher reads them: a 429 pauses the bot, a refusal is
    final, the rest is tried again."""
    try:
        yield
    except RetryAfter as error:
        raise SendFailed(str(error), retry_after=retry_after_seconds(error)) from error
    except (Forbidden, BadRequest, ChatMigrated) as error:
        raise SendFailed(str(error), permanent=True) from error
    except TelegramError as error:
        raise SendFailed(str(error)) from error


async def _discard(application: Application) -> None:  # type: ignore[type-arg]
    """Stop and release an application in whatever state a start left it."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()
    await application.bot.shutdown()  # the HTTP clients, when getMe failed in initialize
