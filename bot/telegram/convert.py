"""Telegram updates to flow inputs, flow replies to Bot API markup."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.flows import Inbound, Reply
from bot.flows.messages import Attachment, Buttons, absolute_links, is_url

CHANNEL = "telegram"


def inbound_message(update: Update) -> Inbound:
    """A text or command message as a flow input."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    return Inbound.message(CHANNEL, str(update.update_id), str(user.id), str(message.chat_id),
                           message.text or "", user.language_code, str(message.message_id))


def inbound_button(update: Update) -> Inbound:
    """A callback query (button press) as a flow input."""
    query = update.callback_query
    assert query is not None
    chat_id = query.message.chat.id if query.message else query.from_user.id
    return Inbound.button(CHANNEL, str(update.update_id), str(query.from_user.id), str(chat_id),
                          query.data or "", query.id, query.from_user.language_code)


def inbound_upload(update: Update) -> Inbound:
    """A photo (largest size) or a file sent as a document, downloaded on demand via getFile."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    return Inbound.upload(CHANNEL, str(update.update_id), str(user.id), str(message.chat_id),
                          attachment(message), message.caption or "", user.language_code,
                          str(message.message_id))


def inbound_location(update: Update) -> Inbound:
    """A shared location."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None and message.location is not None
    return Inbound.shared_location(CHANNEL, str(update.update_id), str(user.id),
                                   str(message.chat_id), message.location.latitude,
                                   message.location.longitude, user.language_code,
                                   str(message.message_id))


def attachment(message: Message) -> Attachment:
    """The photo or document of a message as a flow attachment."""
    bot = message.get_bot()
    if message.photo:
        largest = message.photo[-1]
        return Attachment(f"{largest.file_unique_id}.jpg", "image/jpeg", largest.file_size,
                          _fetcher(bot, largest.file_id), as_photo=True)
    document = message.document
    assert document is not None
    return Attachment(document.file_name or document.file_unique_id,
                      document.mime_type or "application/octet-stream", document.file_size,
                      _fetcher(bot, document.file_id), as_photo=False)


def _fetcher(bot: Bot, file_id: str) -> Callable[[], Awaitable[bytes]]:
    async def fetch() -> bytes:
        telegram_file = await bot.get_file(file_id)
        return bytes(await telegram_file.download_as_bytearray())
    return fetch


def keyboard(reply: Reply, public_url: str) -> InlineKeyboardMarkup | None:
    """Inline buttons of a reply, or None when it has none."""
    return markup(absolute_links(reply.buttons, public_url))


def markup(buttons: Buttons) -> InlineKeyboardMarkup | None:
    """Inline keyboard for rows of (label, data): URL buttons for links, else callbacks."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, url=data) if is_url(data)
          else InlineKeyboardButton(label, callback_data=data) for label, data in row]
         for row in buttons]
    )
