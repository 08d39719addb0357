"""The dashboard: the figures of the viewer's subtree, each linking to the list behind it,
the 30-day trends as inline SVG charts with a table, and the task lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from aiohttp import web
from markupsafe import Markup

from admin_web.charts import Line, line_chart
from admin_web.i18n import gettext as _
from admin_web.menu import (
    ADMINISTRATION,
    CALENDAR,
    CASES,
    LEDGERS,
    VOUCHERS,
    areas_for,
)
from admin_web.pages import actor_of, redirect, render
from admin_web.state import CONFIG_KEY, TIMEZONE_KEY
from domain.models import Staff
from domain.oversight import dashboard
from domain.oversight.dashboard import EXPIRY_DAYS, Dashboard, FigureKey, Series, TrendKey
from domain.platform.access import Permission, can
from domain.platform.actors import person_label
from domain.platform.errors import N_

AREAS = (CASES, VOUCHERS, CALENDAR, LEDGERS, ADMINISTRATION)
# Per figure: its area, caption and the list behind it ({day}: today, {month}: this month).
FIGURES: dict[FigureKey, tuple[str, str, str]] = {
    FigureKey.CASES_CAPTURED: (CASES, N_("Cases captured today"), "/cases?captured={day}"),
    FigureKey.CASES_OPEN: (CASES, N_("Open cases"), "/cases"),
    FigureKey.CASES_OVERDUE: (CASES, N_("Overdue cases"), "/cases?overdue=1"),
    FigureKey.CASES_APPROVED: (CASES, N_("Approved today"),
                               "/cases?status=approved&decided={day}"),
    FigureKey.CASES_RETURNED: (CASES, N_("Returned today"),
                               "/cases?status=returned&decided={day}"),
    FigureKey.CASES_REJECTED: (CASES, N_("Rejected today"),
                               "/cases?status=rejected&decided={day}"),
    FigureKey.SLA_KEPT: (CASES, N_("Reviews within the time limit today"),
                         "/cases?decided={day}"),
    FigureKey.VOUCHERS_IN_VAULTS: (VOUCHERS, N_("Vouchers in vaults"), "/vouchers"),
    FigureKey.VOUCHERS_IN_BOXES: (VOUCHERS, N_("Vouchers in tail boxes"), "/vouchers"),
    FigureKey.VOIDS_PENDING: (VOUCHERS, N_("Voids waiting for signatures"), "/vouchers/voids"),
    FigureKey.DAY_END_MISSING: (VOUCHERS, N_("Day-end counts not answered today"),
                                "/vouchers/counts?day={day}&open=1"),
    FigureKey.INSPECTIONS_DUE: (CALENDAR, N_("Vault inspections due this month"),
                                "/inspections?month={month}&status=open"),
    FigureKey.INSPECTIONS_OVERDUE: (CALENDAR, N_("Overdue vault inspections"),
                                    "/inspections?status=overdue"),
    FigureKey.CALLBACKS_DUE: (CALENDAR, N_("Callbacks due today"), "/callbacks?due=today"),
    FigureKey.CALLBACKS_OVERDUE: (CALENDAR, N_("Overdue callbacks"), "/callbacks?due=overdue"),
    FigureKey.INCIDENTS_OPEN: (LEDGERS, N_("Open incidents"), "/incidents?status=open"),
    FigureKey.DEVICES_LOST: (LEDGERS, N_("Tablets lost"), "/devices?state=lost"),
    FigureKey.DEVICES_UNCONFIRMED: (LEDGERS, N_("Tablets not confirmed within 24 hours"),
                                    "/devices?state=issued&unconfirmed=1"),
    FigureKey.QUALIFICATIONS_EXPIRING: (
        LEDGERS, N_("Qualifications expiring within 30 days"),
        f"/qualifications?status=active&expiring={EXPIRY_DAYS}"),
    FigureKey.QUALIFICATIONS_SUSPENDED: (LEDGERS, N_("Suspended qualifications"),
                                         "/qualifications?status=suspended"),
    FigureKey.STAFF_ACTIVE: (ADMINISTRATION, N_("Active staff"), "/staff?active=1"),
    FigureKey.ORGS: (ADMINISTRATION, N_("Organisations in scope"), "/orgs"),
    FigureKey.OUTBOX_PENDING: (ADMINISTRATION, N_("Outbox pending"), "/outbox"),
    FigureKey.OUTBOX_DEAD: (ADMINISTRATION, N_("Outbox dead"), "/outbox"),
}
PERCENT = frozenset({FigureKey.SLA_KEPT})
# Per chart: caption, its lines (trend and label) and the value at its top (None: fit).
CHARTS: tuple[tuple[str, tuple[tuple[TrendKey, str], ...], float | None], ...] = (
    (N_("Cases per day"), ((TrendKey.CAPTURED, N_("Captured")),
                           (TrendKey.APPROVED, N_("Approved"))), None),
    (N_("Reviews within the time limit per day, in percent"),
     ((TrendKey.SLA_KEPT, N_("Within the time limit")),), 100),
    (N_("Callback satisfaction per day (average, 1 to 5)"),
     ((TrendKey.SATISFACTION, N_("Average satisfaction")),), 5),
)


@dataclass(frozen=True)
class Tile:
    """A figure as shown: caption msgid, link, figure text and whether it calls for action."""

    title: str
    href: str
    figure: str
    alert: bool = False


@dataclass(frozen=True)
class Chart:
    """One trend chart: the SVG, and the same figures as table columns for the fallback."""

    title: str
    svg: Markup
    labels: list[str]
    rows: list[tuple[date, list[str]]]


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


def _figure_text(key: FigureKey, value: int | None) -> str:
    if value is None:
        return "—"
    return f"{value}%" if key in PERCENT else str(value)


def _areas(board: Dashboard, used: frozenset[str]) -> list[tuple[str, list[Tile]]]:
    """The figures of the areas the viewer works with as linked cards, area by area,
    leaving out empty areas."""
    links = {"day": board.today.isoformat(), "month": f"{board.today:%Y-%m}"}
    tiles: dict[str, list[Tile]] = {area: [] for area in AREAS if area in used}
    for figure in board.figures:
        area, title, href = FIGURES[figure.key]
        if area in tiles:
            tiles[area].append(Tile(title, href.format(**links),
                                    _figure_text(figure.key, figure.value), figure.alert))
    return [(area, cards) for area, cards in tiles.items() if cards]


def _value_text(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _charts(board: Dashboard) -> list[Chart]:
    """The charts whose trends the viewer may see, each with its table fallback."""
    series: dict[TrendKey, Series] = {s.key: s for s in board.trends}
    charts = []
    for number, (title, keys, top) in enumerate(CHARTS):
        if not all(key in series for key, _label in keys):
            continue
        lines = [Line(_(label), series[key].points) for key, label in keys]
        description = _("Daily values from %(first)s to %(last)s.") % {
            "first": board.days[0].isoformat(), "last": board.days[-1].isoformat()}
        svg = line_chart(f"trend-{number}", _(title), description, board.days, lines, top=top)
        rows = [(day, [_value_text(line.points[n]) for line in lines])
                for n, day in enumerate(board.days)]
        charts.append(Chart(title, svg, [line.label for line in lines], rows))
    return charts


def _task(member: Staff, href: str, since: datetime | None) -> Task:
    return Task(person_label(member), href, member.org.name, since)


def _task_lists(board: Dashboard) -> list[TaskList]:
    """Withdrawal proposals (Q3, K2), retraining (K2) and flagged idle accounts (Q7) for those
    who act on them."""
    lists = []
    if board.withdrawal_proposals is not None:
        lists.append(TaskList(
            N_("Withdrawal proposals"),
            N_("Repeated major incidents: review the withdrawal of the qualification."),
            [_task(m, f"/staff/{m.id}/qualifications", m.retraining_flagged_at)
             for m in board.withdrawal_proposals]))
    if board.retraining is not None:
        lists.append(TaskList(
            N_("Flagged for retraining"),
            N_("Repeated major incidents or off-site audit errors (K2): arrange retraining and "
               "watch the work closely."),
            [_task(m, f"/staff/{m.id}", m.retraining_flagged_at) for m in board.retraining]))
    if board.idle_accounts is not None:
        lists.append(TaskList(
            N_("Idle accounts"),
            N_("No operation for a long time: keep the account, or let it be disabled."),
            [_task(m, f"/staff/{m.id}/qualifications#keep", m.idle_flagged_at)
             for m in board.idle_accounts]))
    return lists


async def index(request: web.Request) -> web.Response:
    """Show the figures of the areas the actor works with (admin_web.menu), the trends and
    task lists he may see; staff without a dashboard (field agents) go to chat."""
    actor = actor_of(request)
    if not can(actor, Permission.DASHBOARD_VIEW) and request.app[CONFIG_KEY].chat is not None:
        redirect("/chat")
    board = await dashboard.overview(actor, request.app[TIMEZONE_KEY])
    return await render(request, "dashboard/index.html", {
        "areas": _areas(board, areas_for(actor)), "charts": _charts(board),
        "tasks": _task_lists(board)})
