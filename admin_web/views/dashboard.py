"""The dashboard: one card per figure; later areas append to CARDS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from admin_web.pages import actor_of, redirect, render
from admin_web.state import CONFIG_KEY
from domain.errors import N_
from domain.models import OutboxStatus
from domain.services import orgs, outbox, review, staff
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


@dataclass(frozen=True)
class Tile:
    """A card as shown: caption msgid, link, figure text and whether it calls for action."""

    title: str
    href: str
    figure: str
    alert: bool = False


async def _sla_tiles(request: web.Request, actor: Actor) -> list[Tile]:
    """Open and overdue cases now and the SLA kept today, for case viewers (C8, S1)."""
    ctx = request.app[CONFIG_KEY].capture
    if ctx is None or not can(actor, Permission.CASE_VIEW):
        return []
    stats = await review.sla_stats(actor, ctx)
    kept = "—" if stats.kept_percent is None else f"{stats.kept_percent}%"
    return [
        Tile(N_("Open cases"), "/cases", str(stats.open_cases)),
        Tile(N_("Overdue cases"), "/cases?overdue=1", str(stats.overdue_cases),
             alert=stats.overdue_cases > 0),
        Tile(N_("Reviews within the time limit today"), "/cases", kept),
    ]


async def index(request: web.Request) -> web.Response:
    """Show the cards the actor may see; staff without a dashboard (field agents) go to chat."""
    actor = actor_of(request)
    if not can(actor, Permission.DASHBOARD_VIEW) and request.app[CONFIG_KEY].chat is not None:
        redirect("/chat")
    require(actor, Permission.DASHBOARD_VIEW)
    tiles = await _sla_tiles(request, actor) + [
        Tile(card.title, card.href, str(await card.figure(actor)))
        for card in CARDS if can(actor, card.permission)]
    return await render(request, "dashboard/index.html", {"cards": tiles})
