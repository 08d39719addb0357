"""Settings from `FIELDOPS_*` environment variables and an optional `.env` file."""

from __future__ import annotations

import re
import secrets
from datetime import time
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.wecom.config import wecom_config
from bot.wecom.errors import BadSetting
from domain.cases.capture_gate import LocationMode
from locales import LOCALES

VAR_DIR = Path("var")
# settings that take one of a few words, and the words
CHOICES: dict[str, tuple[str, ...]] = {
    "default_locale": LOCALES, "location_mode": tuple(mode.value for mode in LocationMode)}
HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


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
    data_key: str = ""
    audit_key: str = ""
    audit_previous_keys: str = ""
    audit_checkpoint_file: Path = Field(default=VAR_DIR / "audit-checkpoints.log")
    public_url: str = ""
    working_days: str = "1,2,3,4,5"
    working_hours: str = "08:30-17:30"
    location_mode: str = "optional"
    photo_max_mb: int = Field(default=20, ge=1, le=100)
    photo_min_width: int = Field(default=800, ge=1)
    photo_min_height: int = Field(default=600, ge=1)
    sla_escalation_repeat_minutes: int = Field(default=30, ge=1)
    idle_account_days: int = Field(default=90, ge=1)
    idle_account_grace_days: int = Field(default=14, ge=0)
    major_incident_threshold: int = Field(default=2, ge=1)
    mass_loss_threshold: int = Field(default=10, ge=1)
    box_count_max_age_hours: int = Field(default=24, ge=1)
    day_end_closing_time: str = "17:30"
    day_end_answer_minutes: int = Field(default=30, ge=1)
    day_end_escalate_minutes: int = Field(default=60, ge=1)
    inspection_reminder_hours: str = "72,24"
    surprise_inspection_due_hours: int = Field(default=24, ge=1, le=24 * 31)
    callback_window_days: int = Field(default=3, ge=1, le=30)
    calling_hours: str = "09:00-20:00"
    calling_days: str = "1,2,3,4,5"
    callback_max_attempts: int = Field(default=3, ge=1, le=10)
    audit_share_percent: int = Field(default=30, ge=1, le=100)
    audit_errors_for_retraining: int = Field(default=3, ge=1)
    mis_issue_recovery_days: int = Field(default=7, ge=1, le=30)
    mis_issue_reminder_hours: str = "48,24"
    business_timezone: str = "Asia/Shanghai"
    default_locale: str = "zh_CN"
    telegram_bot_token: str = ""
    telegram_bot_username: str = ""
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    wecom_corp_id: str = ""
    wecom_agent_id: str = ""
    wecom_secret: str = ""
    wecom_token: str = ""
    wecom_aes_key: str = ""
    wecom_api_base_url: str = "https://qyapi.weixin.qq.com"
    wecom_callback_path: str = "/wecom/callback"
    wecom_per_second: float = Field(default=20.0, gt=0, le=100)
    wecom_user_gap_seconds: float = Field(default=2.0, ge=0, le=60)
    wecom_replay_seconds: int = Field(default=300, ge=30, le=3600)
    webhook_url: str = ""
    webhook_secret: str = ""
    bot_retry_first_seconds: float = Field(default=5.0, gt=0)
    bot_retry_max_seconds: float = Field(default=300.0, gt=0)
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=12, ge=1, le=24 * 7)
    metrics_token: str = ""
    secure_cookies: bool = False
    trusted_proxies: str = ""
    password_min_length: int = Field(default=10, ge=8, le=128)
    password_min_classes: int = Field(default=3, ge=1, le=4)
    password_history: int = Field(default=5, ge=1, le=24)
    password_max_age_days: int = Field(default=90, ge=0)
    one_time_password_hours: int = Field(default=72, ge=1, le=24 * 30)
    reveals_per_hour: int = Field(default=30, ge=1)
    reveal_alert_from: int = Field(default=20, ge=1)
    chat_inbound_limit: int = Field(default=30, ge=1)
    chat_inbound_window_seconds: int = Field(default=60, ge=1, le=3600)
    draft_purge_days: int = Field(default=7, ge=1)
    retention_days: int = Field(default=30, ge=1)
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

    @field_validator(*CHOICES)
    @classmethod
    def _one_of(cls, value: str, info: ValidationInfo) -> str:
        choices = CHOICES[str(info.field_name)]
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    @field_validator("webhook_url", "public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("working_days", "calling_days")
    @classmethod
    def _weekdays(cls, value: str) -> str:
        days = [d.strip() for d in value.split(",") if d.strip()]
        if not days or any(d not in "1234567" or len(d) != 1 for d in days):
            raise ValueError("must list ISO weekdays 1 (Monday) to 7 (Sunday), e.g. 1,2,3,4,5")
        return value

    @field_validator("working_hours", "calling_hours")
    @classmethod
    def _opening_hours(cls, value: str) -> str:
        match = HOURS.match(value.strip())
        if match is None or match.group(1, 2) >= match.group(3, 4):
            raise ValueError("must be HH:MM-HH:MM with the start before the end, e.g. 08:30-17:30")
        return value.strip()

    @field_validator("inspection_reminder_hours", "mis_issue_reminder_hours")
    @classmethod
    def _reminder_hours(cls, value: str) -> str:
        hours = [h.strip() for h in value.split(",") if h.strip()]
        if any(not h.isdigit() or int(h) < 1 for h in hours):
            raise ValueError("must list whole hours before the due time, e.g. 72,24")
        return value

    @field_validator("day_end_closing_time")
    @classmethod
    def _closing_time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError("must be HH:MM, e.g. 17:30")
        return value.strip()

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        try:
            _networks(value)
        except ValueError as exc:
            raise ValueError("must list IP addresses or networks, e.g. 10.0.0.1,10.1.0.0/16"
                             ) from exc
        return value

    @field_validator("public_url")
    @classmethod
    def _without_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.business_timezone)

    @property
    def audit_keys_before(self) -> tuple[str, ...]:
        """Audit keys replaced by rotation, oldest first: they check the older rows (S3)."""
        return tuple(key.strip() for key in self.audit_previous_keys.split(",") if key.strip())

    @property
    def proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """Reverse proxies whose X-Forwarded-For names the client address (S3)."""
        return _networks(self.trusted_proxies)


def _networks(value: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """A comma-separated list of IP addresses and networks."""
    return tuple(ip_network(part.strip(), strict=False) for part in value.split(",")
                 if part.strip())


def hours_before(value: str) -> tuple[int, ...]:
    """Reminder hours before a deadline, latest first, from a list such as "72,24"."""
    return tuple(sorted({int(h) for h in value.split(",") if h.strip()}, reverse=True))


def start_and_end(value: str) -> tuple[time, time]:
    """A validated HH:MM-HH:MM setting as start and end times."""
    start, end = value.split("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def weekday_numbers(value: str) -> frozenset[int]:
    """A validated ISO weekday list as Python weekday numbers (0 = Monday)."""
    return frozenset(int(d) - 1 for d in value.split(",") if d.strip())


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
    try:
        wecom_config(settings)  # issue 15: a bad WeCom setting stops start-up
    except BadSetting as exc:
        raise SettingsError(str(exc)) from None
    if not settings.secret_key:
        settings.secret_key = _stored_key("secret_key")
    if not settings.data_key:
        settings.data_key = _stored_key("data_key")
    if not settings.audit_key:
        settings.audit_key = _stored_key("audit_key")
    return settings


def _stored_key(name: str) -> str:
    """Generate a key on first run and keep it under ./var/.

    `secret_key` signs sessions and may be rotated freely; `data_key` encrypts customer data
    at rest (C10) and must be kept (and backed up) as long as the data lives; `audit_key`
    signs the audit chain (S3) and is kept, with its predecessors, as long as the log lives.
    """
    path = VAR_DIR / name
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key, encoding="utf-8")
    path.chmod(0o600)
    return key
