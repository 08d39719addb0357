"""The audit log (S3): filtered by actor, action, object and date, newest first."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiMapping

from admin_web.i18n import error_text
from admin_web.pages import actor_of, render
from admin_web.params import max_length, optional_date, text
from admin_web.state import TIMEZONE_KEY
from domain.models import AuditLog
from domain.platform import audit
from domain.platform.errors import N_, DomainError

# name: (label msgid, column) of the text filters, each no longer than its column
TEXT_FILTERS: dict[str, tuple[str, str]] = {
    "actor": (N_("Actor"), "actor_label"), "action": (N_("Action"), "action"),
    "object_type": (N_("Object type"), "object_type"), "object_id": (N_("Object id"), "object_id"),
}
ALL_FILTERS = (*TEXT_FILTERS, "date_from", "date_to")


def day_start(value: str, label: str, zone: ZoneInfo, days_after: int = 0) -> datetime | None:
    """Midnight (business time) of a YYYY-MM-DD day, plus some days; None when blank."""
    day = optional_date(value, label)
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=days_after), time.min, tzinfo=zone)


def audit_filter(query: MultiMapping[str], zone: ZoneInfo) -> audit.AuditFilter:
    """Search terms from the query string; the end date is inclusive."""
    texts = {name: text(query.get(name), label, max_length(AuditLog, column))
             for name, (label, column) in TEXT_FILTERS.items()}
    return audit.AuditFilter(
        **texts,
        date_from=day_start(query.get("date_from", ""), N_("From"), zone),
        date_to=day_start(query.get("date_to", ""), N_("To"), zone, days_after=1),
    )


async def audit_log(request: web.Request) -> web.Response:
    """Show the audit rows the actor may read."""
    filters = {name: request.query.get(name, "") for name in ALL_FILTERS}
    try:
        terms = audit_filter(request.query, request.app[TIMEZONE_KEY])
    except DomainError as err:
        context = {"rows": [], "filters": filters, "error": error_text(err)}
        return await render(request, "audit/list.html", context, status=400)
    rows = await audit.search(actor_of(request), terms)
    return await render(request, "audit/list.html", {"rows": rows, "filters": filters})
