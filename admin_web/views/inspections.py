"""Vault inspections in the web: the month's list and completion rates, a box's history, one
inspection with its start and count forms, surprise samples and their check (V5, K3, S1)."""

from __future__ import annotations

from collections.abc import Awaitable
from functools import partial
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from admin_web.i18n import gettext as _
from admin_web.i18n import status_text
from admin_web.pages import (
    actor_of,
    attempt,
    attempt_or_back,
    business_today,
    flash_and_redirect,
    form_of,
    refuse,
    render,
    sent,
)
from admin_web.paging import page_request, pager
from admin_web.params import choice, int_or_none, path_id, whole_number
from admin_web.state import CONFIG_KEY, TIMEZONE_KEY
from domain.models import Inspection, InspectionKind, InspectionResult, InspectionStatus
from domain.oversight import inspection_reports, inspections
from domain.oversight.inspection_reports import InspectionFilter
from domain.people import orgs
from domain.platform.access import Permission, can
from domain.platform.errors import N_
from domain.vouchers import voucher_counts

KIND_LABELS: dict[InspectionKind, str] = {
    InspectionKind.MONTHLY: N_("Monthly"),
    InspectionKind.SURPRISE: N_("Surprise"),
}
COUNT_FIELD = "count_"
SURPRISE = "/inspections/surprise"  # the surprise samples and the launch form
NOT_COMPLETED = "open"  # the status filter of every inspection not completed yet


def labels() -> dict[str, Any]:
    """Label helpers the inspection templates use."""
    return {"inspection_status_label": partial(status_text, InspectionStatus),
            "inspection_kind_label": lambda value: _(KIND_LABELS[InspectionKind(value)]),
            "inspection_result_label": partial(status_text, InspectionResult)}


async def _page(request: web.Request, template: str, context: dict[str, Any],
                error: str | None = None, refused: int = 409) -> web.Response:
    """Render an inspection page, with the refusal of an action (409) or of the request
    itself (400) when there is one."""
    return await render(request, template, context | labels() | {"error": error},
                        status=refused if error else 200)


def _month(request: web.Request) -> str:
    """The month asked for as YYYY-MM, this business month when none is given."""
    return request.query.get("month", "").strip() or f"{business_today(request):%Y-%m}"


def list_terms(request: web.Request) -> InspectionFilter:
    """The list filters of the query string: overdue inspections of every month unless a
    month is given, otherwise this month's; status "open" means not completed (V5)."""
    status = choice(request.query.get("status"), InspectionStatus)
    month = None if status is InspectionStatus.OVERDUE and not request.query.get(
        "month", "").strip() else _month(request)
    return InspectionFilter(month, int_or_none(request.query.get("org_id")), status,
                            choice(request.query.get("kind"), InspectionKind),
                            not_completed=request.query.get("status") == NOT_COMPLETED)


async def inspection_list(request: web.Request) -> web.Response:
    """The month's inspections of the subtree, filtered by org, status and kind (V5, K3)."""
    actor = actor_of(request)
    terms = list_terms(request)
    page, error = await attempt(inspection_reports.list_inspections(
        actor, terms, page_request(request.query), zone=request.app[TIMEZONE_KEY]))
    status = NOT_COMPLETED if terms.not_completed else terms.status
    context = {"rows": page.rows if page else [], "terms": terms,
               "paging": pager(request, page) if page else None,
               "orgs": await orgs.list_orgs(actor),
               "status": status or "", "not_completed": NOT_COMPLETED,
               "statuses": list(InspectionStatus), "kinds": list(InspectionKind)}
    return await _page(request, "inspections/list.html", context, error, refused=400)


async def completion_page(request: web.Request) -> web.Response:
    """The completion rate of the month's round per org of the subtree (V5)."""
    month = _month(request)
    rows, error = await attempt(inspection_reports.completion_rates(actor_of(request), month))
    return await _page(request, "inspections/completion.html",
                       {"rows": rows or [], "month": month}, error)


async def box_page(request: web.Request) -> web.Response:
    """Every inspection of one tail box, newest first (V5)."""
    box, rows = await inspection_reports.box_history(actor_of(request),
                                                     path_id(request, "box_id"))
    return await _page(request, "inspections/box.html", {"box": box, "rows": rows})


async def inspection_page(request: web.Request) -> web.Response:
    """One inspection: box, people, status, and the forms the actor may use (V5)."""
    return await _detail_view(request, path_id(request, "inspection_id"))


async def _detail_view(request: web.Request, inspection_id: int) -> web.Response:
    actor = actor_of(request)
    row = await inspection_reports.inspection_detail(actor, inspection_id)
    me = actor.staff_id
    may_start = (can(actor, Permission.INSPECTION_CONDUCT) and me != row.holder_id  # type: ignore[attr-defined]
                 and row.status in inspections.STARTABLE)
    may_count = (row.status == InspectionStatus.IN_PROGRESS and me is not None
                 and me == row.supervisor_id  # type: ignore[attr-defined]
                 and row.supervisor_counted_at is None)
    context = {"row": row, "may_start": may_start, "may_count": may_count, "form": {},
               "types": await voucher_counts.types_to_count(row.expected),
               "shown": row.status == InspectionStatus.COMPLETED}
    return await _page(request, "inspections/detail.html", context)


async def _act(request: web.Request, call: Awaitable[Any], done: str, back: str,
               location: str, form: MultiMapping[str] | None = None) -> web.Response:
    """Run one change: on to `location` with its message, or back with the refusal and the
    typed form (post/redirect/get)."""
    result = await attempt_or_back(request, call, back, None if form is None else sent(form))
    await flash_and_redirect(request, location.format(result=result), _(done))


async def start(request: web.Request) -> web.Response:
    """The second person starts the inspection; the holder is asked to count in chat (V5)."""
    inspection_id = path_id(request, "inspection_id")
    return await _act(request, inspections.start_inspection(actor_of(request), inspection_id),
                      N_("Inspection started: the holder has been asked for his count in "
                         "chat. Count the box yourself and enter your figures."),
                      f"/inspections/{inspection_id}", f"/inspections/{inspection_id}")


async def _count(request: web.Request, form: MultiMapping[str]) -> Inspection:
    texts = {key[len(COUNT_FIELD):]: value for key, value in form.items()
             if key.startswith(COUNT_FIELD)}
    return await inspections.record_count(actor_of(request), path_id(request, "inspection_id"),
                                          inspections.whole_counts(texts))


async def count(request: web.Request) -> web.Response:
    """The second person's count of every voucher type (V5)."""
    inspection_id = path_id(request, "inspection_id")
    form = await form_of(request)
    return await _act(request, _count(request, form), N_("Your count is recorded."),
                      f"/inspections/{inspection_id}", f"/inspections/{inspection_id}", form)


async def surprise_page(request: web.Request) -> web.Response:
    """The surprise samples of the subtree and, for operations management, the launch form
    (K3)."""
    return await _surprise_view(request)


async def _surprise_view(request: web.Request) -> web.Response:
    actor = actor_of(request)
    context = {"samples": await inspection_reports.samples(actor),
               "orgs": await orgs.list_orgs(actor), "form": {},
               "due_hours": request.app[CONFIG_KEY].calendar.surprise_due_hours}
    return await _page(request, "inspections/surprise.html", context)


async def launch(request: web.Request) -> web.Response:
    """Launch a surprise inspection of a random sample of boxes (K3)."""
    form = await form_of(request)
    org_id = int_or_none(form.get("org_id"))
    if org_id is None:
        await refuse(request, SURPRISE, _("Choose the organisation."), sent(form))
    call = inspections.launch_surprise(
        actor_of(request), org_id,
        percent=whole_number(form.get("percent")), count=whole_number(form.get("count")),
        note=form.get("note", ""), due_hours=request.app[CONFIG_KEY].calendar.surprise_due_hours,
        zone=request.app[CONFIG_KEY].calendar.zone)
    return await _act(request, call, N_("Surprise inspection launched."), SURPRISE,
                      "/inspections/samples/{result.id}", form)


async def sample_page(request: web.Request) -> web.Response:
    """A surprise sample: seed, population, chosen boxes, the check by drawing again, and its
    inspections (K3)."""
    sample, check = await inspections.verify_sample(actor_of(request),
                                                    path_id(request, "sample_id"))
    context = {"sample": sample, "check": check,
               "rows": await inspection_reports.sample_inspections(sample)}
    return await _page(request, "inspections/sample.html", context)
