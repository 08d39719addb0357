"""The admin site's settings and the chat port the composition root hands in; below every
other admin module, so app, state and views all read it without an import running back up."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from typing import Protocol

from domain.cases.capture_gate import CaptureContext
from domain.ledgers.major_incidents import DEFAULT_INCIDENT_RULES, IncidentRules
from domain.people.auth import DEFAULT_RULES, LoginRules
from domain.platform.calendar import Calendar
from domain.platform.media import MediaStore


class ChatPort(Protocol):
    """The browser chat adapter the composition root hands to the admin (see /chat).

    `media` holds the photos sent in chat; `max_upload_bytes` is the largest photo accepted.
    """

    media: MediaStore
    max_upload_bytes: int

    async def post(self, staff_id: int, *, client_id: str, text: str = "", button: str = "",
                   upload: tuple[str, str, bytes] | None = None, locale: str | None = None
                   ) -> None:
        """Handle one chat form of a staff member once per `client_id`.

        `upload` is (file name, content type, bytes); refusals raise `DomainError`.
        """

    async def open(self, staff_id: int, locale: str | None = None) -> None:
        """The staff member opens his chat: bound on first opening, and told so (Q6, C10)."""


@dataclass(frozen=True)
class AdminConfig:
    """Settings of the admin site."""

    secret_key: str
    session_idle_minutes: int = 30
    session_max_hours: int = 12  # absolute lifetime of a session (S3)
    metrics_token: str = ""  # bearer token of /metrics; without one /metrics is not found
    default_locale: str = "zh_CN"
    business_timezone: str = "Asia/Shanghai"
    bot_username: str = ""
    secure_cookies: bool = False
    capture: CaptureContext | None = None
    chat: ChatPort | None = None
    box_count_max_age_hours: int = 24
    calendar: Calendar = field(default_factory=Calendar)
    incidents: IncidentRules = DEFAULT_INCIDENT_RULES  # thresholds of Q4 and K2
    login: LoginRules = DEFAULT_RULES  # throttle and password policy (S3)
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()  # whose X-Forwarded-For counts


# Route names the request pipeline treats apart (admin_web.routes gives every route its name).
PUBLIC_ROUTES = frozenset({"login", "language", "healthz", "metrics", "static"})
PASSWORD_CHANGE_ROUTES = frozenset({"password", "logout"})
# Requests a page makes by itself (the chat's and the bell's polling) do not count as
# activity (S3).
PASSIVE_ROUTES = frozenset({"chat_messages", "notifications_status"})
