"""Settings of the Telegram adapter, handed in by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from domain.platform.chat_limits import InboundLimit
from locales import DEFAULT_LOCALE


@dataclass(frozen=True)
class BotConfig:
    """Token, Bot API addresses (local Bot API servers, tests), webhook settings and the
    inbound limit per chat user (none: unlimited)."""

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

    def __post_init__(self) -> None:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("webhook mode needs a webhook_secret")
