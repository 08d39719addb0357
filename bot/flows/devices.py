"""The device flow (being built): /loss and the receipt confirmation of an issued tablet."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.flows.turn import Outcome, Turn

Handler = Callable[[Turn], Awaitable[Outcome]]

COMMANDS: dict[str, Handler] = {}
CALLBACKS: dict[str, Handler] = {}
STEPS: dict[str, Handler] = {}
