"""Helpers several flows share: the acting staff member of a turn and lists in replies."""

from __future__ import annotations

from datetime import date, time

from bot.flows.turn import Turn
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError


async def chat_actor(turn: Turn) -> Actor:
    """The actor behind a bound, active chat account; refused otherwise (Q6). Built from
    what the turn read, without another query (issue 14)."""
    return turn.account.actor()


def joined(turn: Turn, items: list[str]) -> str:
    """A list of names the way the reply language writes it."""
    return ("、" if turn.locale.startswith("zh") else ", ").join(items) or "–"


def typed_date(text: str) -> date:
    """A typed date, refused when it does not exist."""
    try:
        return date.fromisoformat("-".join(part.zfill(2) for part in text.split("-")))
    except ValueError:
        raise DomainError(N_("%(value)s is not a real date."), value=text) from None


def typed_time(text: str) -> time:
    """A typed time of day, refused outside 00:00 to 23:59."""
    hours, minutes = (int(part) for part in text.split(":"))
    if hours > 23 or minutes > 59:
        raise DomainError(N_("%(value)s is not a valid time of day."), value=text)
    return time(hours, minutes)
