"""Domain errors carry a message key (an English gettext msgid) translated at the edge."""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Mark a msgid for extraction without translating it here."""
    return message


class DomainError(Exception):
    """A business rule refused the request; `key` is a msgid, `params` fill it."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class PermissionDenied(DomainError):
    """The actor lacks the role or the org scope for the request."""


class NotFound(DomainError):
    """The object does not exist (or is outside the actor's view)."""
