"""The dashboard: one card per figure; later areas append to CARDS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime

from aiohttp import web

from admin_web.pages import actor_of, redirect, render
from admin_web.state import CONFIG_KEY
from admin_web.views.devices import unconfirmed_issues
from admin_web.views.ledger_forms import business_today
from domain.errors import N_
from domain.models import IncidentStatus, OutboxStatus, Staff
from domain.services import devices, orgs, outbox, qualifications, review, staff
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


async def _ledger_tiles(actor: Actor) -> list[Tile]:
    """Open incidents and tablets whose receipt is overdue, for their viewers (D1, D3)."""
    tiles = []
    if can(actor, Permission.INCIDENT_VIEW):
        count = len(await devices.list_incidents(actor, status=IncidentStatus.OPEN))
        tiles.append(Tile(N_("Open incidents"), "/incidents?status=open", str(count),
                          alert=count > 0))
    if can(actor, Permission.DEVICE_VIEW):
        count = len(await unconfirmed_issues(actor))
        tiles.append(Tile(N_("Tablets not confirmed within 24 hours"),
                          "/devices?state=issued&unconfirmed=1", str(count), alert=count > 0))
    return tiles


@dataclass(frozen=True)
class Task:
    """One staff member on a task list: who, where to act, his org and since when."""

    label: str
    href: str
    org: str
    since: datetime | None


@dataclass(frozen=True)
class TaskList:
    """A list of things waiting for the actor: caption and hint msgids, and the items."""

    title: str
    hint: str
    items: list[Task]


def _task(member: Staff, href: str, since: datetime | None) -> Task:
    return Task(f"{member.employee_no} {member.name}", href, member.org.name, since)


def _idle_unkept(member: Staff, today: date) -> bool:
    """Flagged idle and not kept active by an admin (Q7)."""
    kept = member.idle_kept_until is not None and member.idle_kept_until >= today
    return member.idle_flagged_at is not None and not kept


async def _task_lists(actor: Actor, today: date) -> list[TaskList]:
    """Withdrawal proposals (Q3, K2) and flagged idle accounts (Q7) for those who act on them."""
    lists = []
    if can(actor, Permission.QUALIFICATION_MANAGE):
        proposals = await qualifications.withdrawal_proposals(actor)
        lists.append(TaskList(
            N_("Withdrawal proposals"),
            N_("Repeated major incidents: review the withdrawal of the qualification."),
            [_task(m, f"/staff/{m.id}/qualifications", m.retraining_flagged_at)
             for m in proposals]))
    if can(actor, Permission.IDLE_ACCOUNT_KEEP):
        members = await staff.list_staff(actor, active=True)
        lists.append(TaskList(
            N_("Idle accounts"),
            N_("No operation for a long time: keep the account, or let it be disabled."),
            [_task(m, f"/staff/{m.id}/qualifications#keep", m.idle_flagged_at)
             for m in members if _idle_unkept(m, today)]))
    return lists


async def index(request: web.Request) -> web.Response:
    """Show the cards the actor may see; staff without a dashboard (field agents) go to chat."""
    actor = actor_of(request)
    if not can(actor, Permission.DASHBOARD_VIEW) and request.app[CONFIG_KEY].chat is not None:
        redirect("/chat")
    require(actor, Permission.DASHBOARD_VIEW)
    tiles = await _sla_tiles(request, actor) + await _ledger_tiles(actor) + [
        Tile(card.title, card.href, str(await card.figure(actor)))
        for card in CARDS if can(actor, card.permission)]
    tasks = await _task_lists(actor, business_today(request))
    return await render(request, "dashboard/index.html", {"cards": tiles, "tasks": tasks})
