"""Settings from `FIELDOPS_*` environment variables and an optional `.env` file."""

from __future__ import annotations

import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")
SUPPORTED_LOCALES = ("zh_CN", "en")


class SettingsError(Exception):
    """A setting has a bad value; the message names the setting in one line."""


class Settings(BaseSettings):
    """Everything FieldOps reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="FIELDOPS_", env_file=".env", extra="ignore")

    database_url: str = Field(default=f"sqlite://{VAR_DIR}/fieldops.sqlite3")
    media_root: Path = Field(default=VAR_DIR / "media")
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=1, le=65535)
    secret_key: str = ""
    business_timezone: str = "Asia/Shanghai"
    default_locale: str = "zh_CN"
    telegram_bot_token: str = ""
    telegram_bot_username: str = ""
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str = ""
    webhook_secret: str = ""
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    secure_cookies: bool = False
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    outbox_backoff_seconds: float = Field(default=2.0, gt=0)
    outbox_max_attempts: int = Field(default=8, ge=1)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgres://", "postgresql://", "asyncpg://")):
            raise ValueError("must start with sqlite://, postgres:// or postgresql://")
        return value

    @field_validator("business_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not a known IANA time zone") from exc
        return value

    @field_validator("default_locale")
    @classmethod
    def _supported_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _https_webhook(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.business_timezone)



def load_settings(**overrides: object) -> Settings:
    """Read settings; raise `SettingsError` naming the first bad setting."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "FIELDOPS_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise SettingsError(f"{name}: {first['msg']}") from None
    if settings.webhook_url and not settings.webhook_secret:
        raise SettingsError("FIELDOPS_WEBHOOK_SECRET: required when FIELDOPS_WEBHOOK_URL is set")
    if not settings.secret_key:
        settings.secret_key = _stored_secret_key()
    return settings


def _stored_secret_key() -> str:
    """Generate the secret key on first run and keep it under ./var/."""
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key, encoding="utf-8")
    path.chmod(0o600)
    return key
