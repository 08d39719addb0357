"""Helpers several flows share: the acting staff member of a turn and lists in replies."""

from __future__ import annotations

from bot.flows.turn import Turn
from domain.services import binding
from domain.services.actors import Actor, actor_for


async def chat_actor(turn: Turn) -> Actor:
    """The actor behind a bound, active chat account; refused otherwise (Q6)."""
    await binding.chat_identity(turn.inbound.channel, turn.inbound.external_user_id)
    assert turn.staff is not None
    return await actor_for(turn.staff)


def joined(turn: Turn, items: list[str]) -> str:
    """A list of names the way the reply language writes it."""
    return ("、" if turn.locale.startswith("zh") else ", ").join(items) or "–"
