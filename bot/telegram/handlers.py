"""Update handlers: each passes one update to the flows and sends the replies."""

from __future__ import annotations

import logging

from telegram import Bot, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.flows import ChatRouter, Inbound, Reply
from bot.telegram.convert import (
    inbound_button,
    inbound_location,
    inbound_message,
    inbound_upload,
    keyboard,
)

log = logging.getLogger(__name__)


class UpdateHandlers:
    """The handlers of the Telegram application, sharing one flow router."""

    def __init__(self, router: ChatRouter) -> None:
        self.router = router
        self.public_url = router.ctx.public_url

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
        inbound = inbound_message(update)
        await self._route(context.bot, inbound)

    async def on_upload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Pass a photo or file to the flows and send the replies."""
        inbound = inbound_upload(update)
        await self._route(context.bot, inbound)

    async def on_location(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Pass a shared location to the flows and send the replies."""
        inbound = inbound_location(update)
        await self._route(context.bot, inbound)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Pass a button press to the flows, answer the query, send the replies."""
        inbound = inbound_button(update)
        replies = await self.router.handle(inbound)
        if not replies:  # a redelivered update: its query was answered the first time
            return
        await context.bot.answer_callback_query(inbound.callback_id)
        await send_replies(context.bot, self.public_url, inbound.chat_id, replies)

    async def _route(self, bot: Bot, inbound: Inbound) -> None:
        await send_replies(bot, self.public_url, inbound.chat_id,
                           await self.router.handle(inbound))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log a failed update with its id; the application keeps running."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("telegram update %s failed", update_id, exc_info=context.error)


async def send_replies(bot: Bot, public_url: str, chat_id: str, replies: list[Reply]) -> None:
    """Send flow replies in order, with their buttons."""
    for reply in replies:
        await bot.send_message(chat_id=chat_id, text=reply.text,
                               reply_markup=keyboard(reply, public_url))
