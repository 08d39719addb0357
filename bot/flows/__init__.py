"""Channel-neutral chat flows: an `Inbound` goes in, `Reply` objects come out.

`ChatRouter` is imported on first use: the router imports every flow, and the flows use
modules (such as `bot.actions`) that import `bot.flows.messages`, which runs this file first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.flows.messages import Inbound, Reply, parse_command

if TYPE_CHECKING:
    from bot.flows.router import ChatRouter

__all__ = ["ChatRouter", "Inbound", "Reply", "parse_command"]


def __getattr__(name: str) -> Any:
    """`ChatRouter`, imported when it is first asked for."""
    if name == "ChatRouter":
        from bot.flows.router import ChatRouter

        return ChatRouter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
