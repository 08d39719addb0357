"""Where the flows' replies are sent from, for every chat adapter (issue 14).

A bot has one send budget (its rate and each chat's gap) however many processes serve it:
the process whose dispatcher leads the bot's sending sends its replies in place through the
shared pacer; another process with a dispatcher queues them in the outbox for the leader
(woken by the enqueue); and a reply never overtakes an earlier message to the chat still
waiting in the outbox: it queues behind it. A process without a dispatcher (a bare bot) and
a chat account that is not bound (it has no outbox) answer in place.
"""

from __future__ import annotations

from enum import Enum

from bot.dispatcher import dispatches_with, leads_with
from bot.flows import Reply
from bot.pacer import Pacer
from domain.platform import outbox
from domain.platform.outbox import ButtonRows


class Route(Enum):
    """How a chat's replies go out."""

    IN_PLACE = "in_place"  # sent here, through the bot's pacer
    TO_LEADER = "to_leader"  # another process leads the bot's sending: the outbox
    BEHIND = "behind"  # an earlier message to the chat waits in the outbox: behind it


async def route(pacer: Pacer, channel: str, external_user_id: str) -> Route:
    """How replies to a chat account of the bot `pacer` paces go out (issue 14)."""
    if not dispatches_with(pacer):
        return Route.IN_PLACE
    if not leads_with(pacer):
        return Route.TO_LEADER
    if await outbox.waiting_for_chat(channel, external_user_id):
        return Route.BEHIND
    return Route.IN_PLACE


async def handed_over(pacer: Pacer, channel: str, external_user_id: str, update_key: str,
                      replies: list[Reply]) -> bool:
    """Queue the replies in the outbox unless they go in place (see `route`); False when
    the caller sends them itself (in place, or an unbound chat account)."""
    if not replies or await route(pacer, channel, external_user_id) is Route.IN_PLACE:
        return False
    return await outbox.enqueue_replies(channel, external_user_id, update_key,
                                        rows(replies)) > 0


def rows(replies: list[Reply]) -> list[tuple[str, ButtonRows]]:
    """Replies as the outbox keeps them: each text with its rows of buttons."""
    return [(reply.text, [list(row) for row in reply.buttons]) for reply in replies]
