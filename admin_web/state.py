"""Typed keys of the app and request state, and the in-process request counter."""

from __future__ import annotations

from collections import Counter
from zoneinfo import ZoneInfo

from aiohttp import web

from admin_web.config import AdminConfig
from domain.platform.actors import Actor


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


CONFIG_KEY = web.AppKey("admin_config", AdminConfig)
TIMEZONE_KEY = web.AppKey("business_timezone", ZoneInfo)
REQUESTS_KEY = web.AppKey("request_counter", RequestCounter)
ACTOR_KEY = web.RequestKey("actor", Actor)
