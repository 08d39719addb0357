"""Incidents in the web: the list with owner, kind and major flag, and closing (D3, Q4)."""

from __future__ import annotations

from collections.abc import Awaitable
from functools import partial
from typing import Any

from aiohttp import web

from admin_web import bulk
from admin_web.i18n import gettext as _
from admin_web.i18n import status_text
from admin_web.pages import actor_of, attempt_or_back, flash_and_redirect, form_of, render
from admin_web.paging import page_request, pager
from admin_web.params import choice, path_id
from admin_web.state import CONFIG_KEY
from domain.ledgers import incidents
from domain.models import Incident, IncidentKind, IncidentStatus
from domain.platform.actors import Actor
from domain.platform.errors import N_

KIND_LABELS: dict[IncidentKind, str] = {
    IncidentKind.DEVICE_LOSS: N_("Device lost"),
    IncidentKind.VOUCHER_LOSS: N_("Vouchers lost"),
    IncidentKind.PAPERS_LOSS: N_("Customer papers lost"),
    IncidentKind.DISCREPANCY: N_("Count discrepancy"),
    IncidentKind.MIS_ISSUE: N_("Mis-issued voucher"),
    IncidentKind.MAJOR_ERROR: N_("Major operating error"),
    IncidentKind.COMPLAINT: N_("Customer complaint"),
}
REPEATED_LOSS = N_("Repeated loss of vouchers or customer papers (Q4)")
# The reasons the services record under detail["major_reason"]; anything else was typed by
# the person who marked the incident major and is shown as typed.
MAJOR_REASON_LABELS: dict[str, str] = {
    "mass_loss": N_("Mass loss of vouchers (Q4)"),
    "mis_issue_unrecovered": N_("Mis-issued voucher not recovered (Q4)"),
    "callback_denied": N_("The customer denied the business at the callback (Q4, K1)"),
}


def labels() -> dict[str, Any]:
    """Label helpers the incident template uses."""
    return {"kind_label": lambda value: _(KIND_LABELS[IncidentKind(value)]),
            "incident_status_label": partial(status_text, IncidentStatus)}


def major_reason(incident: Incident) -> str:
    """Why an incident is major, translated, for every kind of incident (Q4); blank if not."""
    if not incident.major:
        return ""
    detail = incident.detail if isinstance(incident.detail, dict) else {}
    if detail.get("repeated_loss"):
        return _(REPEATED_LOSS)
    reason = str(detail.get("major_reason", ""))
    return _(MAJOR_REASON_LABELS[reason]) if reason in MAJOR_REASON_LABELS else reason


async def incident_list(request: web.Request) -> web.Response:
    """Incidents of the actor's subtree, newest first, open ones by default (D3, Q4)."""
    return await _list_view(request)


async def _list_view(request: web.Request) -> web.Response:
    """Render the list (with the refusal or the results `refuse`/`bulk` kept for it)."""
    chosen = choice(request.query.get("status", IncidentStatus.OPEN.value), IncidentStatus)
    status = chosen.value if chosen else ""
    page = await incidents.incident_page(actor_of(request), page_request(request.query),
                                         status=status or None)
    rows = page.rows
    context = {"rows": rows, "paging": pager(request, page),
               "reasons": {row.id: major_reason(row) for row in rows},
               "status": status, "statuses": list(IncidentStatus)}
    return await render(request, "incidents/list.html", context | labels())


async def close(request: web.Request) -> web.Response:
    """Close an incident with its resolution (D3)."""
    form = await form_of(request)
    return await _act(request, incidents.close_incident(
        actor_of(request), path_id(request, "incident_id"), form.get("resolution", "")),
        _("Incident closed."))


async def close_many(request: web.Request) -> web.Response:
    """Close each ticked incident on its own with the one resolution typed (D3)."""
    form, actor = await form_of(request), actor_of(request)
    ids = bulk.chosen_ids(form)
    rows = await incidents.list_incidents(actor, status=IncidentStatus.OPEN)
    labels = {row.id: f"#{row.id} {_(KIND_LABELS[IncidentKind(row.kind)])} {row.item}".strip()
              for row in rows}
    await bulk.apply_each(request, "/incidents", ids, partial(
        _close_one, actor, form.get("resolution", "")), labels, N_("Incident closed."))


async def _close_one(actor: Actor, resolution: str, incident_id: int) -> Incident:
    return await incidents.close_incident(actor, incident_id, resolution)


async def mark_major(request: web.Request) -> web.Response:
    """Mark an incident major with the reason; it counts toward withdrawal (Q4, K2)."""
    form = await form_of(request)
    return await _act(request, incidents.mark_major(
        actor_of(request), path_id(request, "incident_id"), form.get("reason", ""),
        rules=request.app[CONFIG_KEY].incidents),
        _("Incident marked major."))


async def _act(request: web.Request, call: Awaitable[Incident], done: str) -> web.Response:
    """Run one incident change: back to the list with its result, or with the refusal."""
    await attempt_or_back(request, call, "/incidents")
    await flash_and_redirect(request, "/incidents", done)
