"""Webhook updates of one chat handled one at a time and in order, whichever worker received
them (issue 14).

Several webhook workers may receive the updates of one chat at the same moment (an agent
sending the customer's name and ID number in quick succession). Each update is registered
in the database on arrival; it is handled once the bot's previous update has arrived at some
worker (Telegram numbers a bot's updates one by one) and the earlier updates of its chat
were handled (`chat.await_turn`), both waits bounded. Inside its transaction the flow
session is then read afresh under a row lock (`chat_accounts.chat_account`: `FOR UPDATE OF`
the chat's session row), so an update is always judged against the step its predecessor
left. Polling needs none of this: one process handles the updates one after the other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram import Update

from bot.telegram.convert import CHANNEL
from domain.platform import chat


@asynccontextmanager
async def in_chat_order(update: Update) -> AsyncIterator[None]:
    """Hold a webhook update until its turn in its chat; on leaving, the chat's next update
    may go on (issue 14)."""
    user = update.effective_user
    sender = str(user.id) if user else ""
    await chat.register_inbound(CHANNEL, update.update_id, sender)
    await chat.await_turn(CHANNEL, update.update_id, sender)
    try:
        yield
    finally:
        await chat.inbound_handled(CHANNEL, update.update_id)
