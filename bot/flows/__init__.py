"""Channel-neutral chat flows: an `Inbound` goes in, `Reply` objects come out."""

from bot.flows.messages import Inbound, Reply, parse_command
from bot.flows.router import ChatRouter

__all__ = ["ChatRouter", "Inbound", "Reply", "parse_command"]
