"""The dashboard: one card per figure; later areas append to CARDS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from admin_web.pages import actor_of, render
from domain.errors import N_
from domain.models import OutboxStatus
from domain.services import orgs, outbox, staff
from domain.services.access import Permission, can, require
from domain.services.actors import Actor


@dataclass(frozen=True)
class Card:
    """A figure on the dashboard, shown to those holding its permission."""

    title: str
    permission: Permission
    href: str
    figure: Callable[[Actor], Awaitable[int]]


async def _active_staff(actor: Actor) -> int:
    return await staff.count_staff(actor, active=True)


async def _outbox_pending(actor: Actor) -> int:
    return await outbox.count_messages(actor, OutboxStatus.PENDING)


async def _outbox_dead(actor: Actor) -> int:
    return await outbox.count_messages(actor, OutboxStatus.DEAD)


CARDS: tuple[Card, ...] = (
    Card(N_("Active staff"), Permission.STAFF_VIEW, "/staff?active=1", _active_staff),
    Card(N_("Organisations in scope"), Permission.ORG_VIEW, "/orgs", orgs.count_orgs),
    Card(N_("Outbox pending"), Permission.OUTBOX_VIEW, "/outbox", _outbox_pending),
    Card(N_("Outbox dead"), Permission.OUTBOX_VIEW, "/outbox", _outbox_dead),
)


async def index(request: web.Request) -> web.Response:
    """Show the cards the actor may see."""
    actor = actor_of(request)
    require(actor, Permission.DASHBOARD_VIEW)
    cards = [(card, await card.figure(actor)) for card in CARDS if can(actor, card.permission)]
    return await render(request, "dashboard/index.html", {"cards": cards})
