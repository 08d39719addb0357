"""Loss-report test helpers: a branch with its agent, delivered notifications."""

from __future__ import annotations

from bot.telegram import TelegramBot
from domain.models import (
    OutboxMessage,
    OutboxStatus,
)
from tests.bot_support import dispatching


async def delivered(bot: TelegramBot) -> None:
    """Send every queued notification through the bot (those past their moment expire)."""
    async def all_sent() -> bool:
        return not await OutboxMessage.exists(
            status__not_in=[OutboxStatus.SENT, OutboxStatus.EXPIRED])

    await dispatching(bot, all_sent)
