"""Typed keys of the app and request state, and the in-process request counter."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from aiohttp import web

from domain.platform.actors import Actor
from domain.platform.media import MediaStore

if TYPE_CHECKING:
    from admin_web.app import AdminConfig


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


class RequestCounter:
    """HTTP requests handled, by method, route and status (for /metrics)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, int]] = Counter()

    def count(self, method: str, route: str, status: int) -> None:
        """Add one handled request."""
        self._counts[(method, route, status)] += 1

    def items(self) -> list[tuple[tuple[str, str, int], int]]:
        """All counters, in a stable order."""
        return sorted(self._counts.items())


CONFIG_KEY: web.AppKey[AdminConfig] = web.AppKey("admin_config")
TIMEZONE_KEY = web.AppKey("business_timezone", ZoneInfo)
REQUESTS_KEY = web.AppKey("request_counter", RequestCounter)
ACTOR_KEY = web.RequestKey("actor", Actor)
