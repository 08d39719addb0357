"""Telegram adapter on python-telegram-bot 22."""

from bot.telegram.bot import TelegramBot
from bot.telegram.config import BotConfig

__all__ = ["BotConfig", "TelegramBot"]
