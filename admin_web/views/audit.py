"""The audit log (S3) in words: filtered by person (chosen or typed), action (by its name),
object and date, newest first; each row a sentence with its details for the auditor."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiMapping

from admin_web.i18n import error_text, gettext
from admin_web.pages import actor_of, render
from admin_web.paging import page_request, pager
from admin_web.params import int_or_none, max_length, optional_date, text
from admin_web.state import TIMEZONE_KEY
from domain.models import AuditLog
from domain.oversight.audit_words import action_labels, audit_lines
from domain.people import staff
from domain.platform import audit
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError

# name: (label msgid, column) of the text filters, each no longer than its column
TEXT_FILTERS: dict[str, tuple[str, str]] = {
    "actor": (N_("Name"), "actor_label"), "action": (N_("Action"), "action"),
    "object_type": (N_("Object type"), "object_type"), "object_id": (N_("Object id"), "object_id"),
}
ALL_FILTERS = (*TEXT_FILTERS, "person", "date_from", "date_to")


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
        person_id=int_or_none(query.get("person")),
        date_from=day_start(query.get("date_from", ""), N_("From"), zone),
        date_to=day_start(query.get("date_to", ""), N_("To"), zone, days_after=1),
    )


async def filter_choices(actor: Actor) -> dict[str, list[tuple[str, str]]]:
    """The people in the actor's scope and the actions by their names, for the selects."""
    people = await staff.list_staff(actor)
    actions = sorted(((code, gettext(label)) for code, label in action_labels().items()),
                     key=lambda pair: pair[1])
    return {"people": [(str(p.id), f"{p.name} {p.employee_no}") for p in people],
            "actions": actions}


async def audit_log(request: web.Request) -> web.Response:
    """Show the audit rows the actor may read, in words."""
    actor = actor_of(request)
    filters = {name: request.query.get(name, "") for name in ALL_FILTERS}
    context = {"filters": filters, "choices": await filter_choices(actor)}
    try:
        terms = audit_filter(request.query, request.app[TIMEZONE_KEY])
    except DomainError as err:
        context |= {"rows": [], "paging": None, "error": error_text(err)}
        return await render(request, "audit/list.html", context, status=400)
    page = await audit.search_page(actor, terms, page_request(request.query))
    rows = await audit_lines(page.rows)
    return await render(request, "audit/list.html",
                        context | {"rows": rows, "paging": pager(request, page)})
