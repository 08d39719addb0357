"""Telegram updates to flow inputs, flow replies to Bot API markup."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.flows import Inbound, Reply

CHANNEL = "telegram"


def inbound_message(update: Update) -> Inbound:
    """A text or command message as a flow input."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    return Inbound.message(CHANNEL, str(update.update_id), str(user.id), str(message.chat_id),
                           message.text or "", user.language_code)


def inbound_button(update: Update) -> Inbound:
    """A callback query (button press) as a flow input."""
    query = update.callback_query
    assert query is not None
    chat_id = query.message.chat.id if query.message else query.from_user.id
    return Inbound.button(CHANNEL, str(update.update_id), str(query.from_user.id), str(chat_id),
                          query.data or "", query.id, query.from_user.language_code)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """Inline buttons of a reply, or None when it has none."""
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row]
         for row in reply.buttons]
    )
