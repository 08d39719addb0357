"""Settings of the Telegram adapter, handed in by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.pacer import TELEGRAM_CHAT_GAP, TELEGRAM_GROUP_GAP, TELEGRAM_PER_SECOND
from domain.platform.chat_limits import InboundLimit
from locales import DEFAULT_LOCALE


@dataclass(frozen=True)
class BotConfig:
    """Token, Bot API addresses (local Bot API servers, tests), webhook settings, the
    inbound limit per chat user (none: unlimited) and the send budget: messages a second
    overall (None: unlimited) and the least gap between two messages to a chat or a group.
    Telegram's limits are the defaults; a test against the fake Bot API lifts them so that a
    conversation does not wait a real second between replies."""

    token: str
    api_base_url: str = "https://api.telegram.org/bot"
    file_base_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str = ""
    webhook_secret: str = ""
    default_locale: str = DEFAULT_LOCALE
    poll_timeout_seconds: float = 10.0
    reply_attempts: int = 3
    reply_backoff_seconds: float = 1.0
    inbound_limit: InboundLimit | None = None
    per_second: float | None = TELEGRAM_PER_SECOND
    chat_gap_seconds: float = TELEGRAM_CHAT_GAP
    group_gap_seconds: float = TELEGRAM_GROUP_GAP

    def __post_init__(self) -> None:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("webhook mode needs a webhook_secret")
