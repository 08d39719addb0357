"""The Telegram adapter: one `Application`, polling or webhook, and the outbox sender."""

from __future__ import annotations

import hmac
import logging
import warnings
from datetime import timedelta

from aiohttp import web
from telegram import Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder
from telegram.warnings import PTBDeprecationWarning

from bot.dispatcher import SendFailed
from bot.flows import ChatRouter
from bot.flows.context import FlowContext
from bot.flows.messages import Buttons, absolute_links
from bot.telegram.config import BotConfig
from bot.telegram.convert import markup
from bot.telegram.handlers import UpdateHandlers

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramBot:
    """Runs the FieldOps flows on Telegram and sends outbox messages for the dispatcher."""

    def __init__(self, config: BotConfig, ctx: FlowContext) -> None:
        self.config = config
        self.public_url = ctx.public_url
        self.handlers = UpdateHandlers(ChatRouter(ctx, config.default_locale))
        self._application: Application | None = None  # type: ignore[type-arg]

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

    async def start(self) -> None:
        """Build the application and receive updates: webhook when configured, else polling."""
        application = self._build()
        self._application = application
        await application.initialize()
        if self.config.webhook_url:
            await application.bot.set_webhook(
                self.config.webhook_url, secret_token=self.config.webhook_secret,
                allowed_updates=Update.ALL_TYPES,
            )
        else:
            assert application.updater is not None
            await application.updater.start_polling(
                timeout=self.config.poll_timeout_seconds, allowed_updates=Update.ALL_TYPES
            )
        await application.start()
        log.info("telegram bot @%s started (%s)", self.username,
                 "webhook" if self.config.webhook_url else "polling")

    async def stop(self) -> None:
        """Stop receiving updates and release the application."""
        application = self._application
        if application is None:
            return
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
        self._application = None

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """Process one webhook delivery; 403 unless it carries the secret token."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        expected = self.config.webhook_secret.encode()
        if not expected or not hmac.compare_digest(given, expected):
            return web.Response(status=403)
        try:
            update = Update.de_json(await request.json(), self.application.bot)
        except (ValueError, KeyError, TypeError) as error:
            log.warning("unreadable telegram webhook delivery: %r", error)
            return web.Response(status=400)
        await self.application.process_update(update)
        return web.Response()

    async def send_text(self, chat_id: str, text: str, buttons: Buttons = ()) -> None:
        """Send a notification; Bot API errors become `SendFailed` for the dispatcher."""
        try:
            await self.application.bot.send_message(
                chat_id=chat_id, text=text,
                reply_markup=markup(absolute_links(buttons, self.public_url)))
        except RetryAfter as error:
            raise SendFailed(str(error), retry_after=_seconds(error)) from error
        except (Forbidden, BadRequest, ChatMigrated) as error:
            raise SendFailed(str(error), permanent=True) from error
        except TelegramError as error:
            raise SendFailed(str(error)) from error

    def _build(self) -> Application:  # type: ignore[type-arg]
        builder = (ApplicationBuilder().token(self.config.token)
                   .base_url(self.config.api_base_url)
                   .base_file_url(self.config.file_base_url))
        if self.config.webhook_url:
            builder = builder.updater(None)
        application = builder.build()
        self.handlers.install(application)
        return application


def _seconds(error: RetryAfter) -> float:
    """`retry_after` in seconds; PTB 22 gives an int or a timedelta (PTB_TIMEDELTA)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
