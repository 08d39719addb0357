"""The capture flow (being built): its commands, button prefixes and steps for the router."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.flows.turn import Outcome, Turn

Handler = Callable[[Turn], Awaitable[Outcome]]

COMMANDS: dict[str, Handler] = {}
CALLBACKS: dict[str, Handler] = {}
STEPS: dict[str, Handler] = {}
