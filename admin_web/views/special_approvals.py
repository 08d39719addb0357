"""Special approvals in the web: supervisors decide out-of-hours requests, others read (C2)."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from admin_web.i18n import gettext as _
from admin_web.i18n import status_text
from admin_web.pages import actor_of, attempt, flash_and_redirect, form_of, local_path, render
from admin_web.paging import page_request, pager
from admin_web.params import choice, path_id
from admin_web.state import TIMEZONE_KEY
from domain.cases import special
from domain.models import SpecialApprovalStatus


async def special_list(request: web.Request) -> web.Response:
    """Requests of the actor's org subtree, newest first, optionally of one status (C2)."""
    state = request.query.get("status", "")
    status = choice(state, SpecialApprovalStatus)
    page = await special.list_special(actor_of(request), status, page_request(request.query))
    context = {"rows": page.rows, "paging": pager(request, page), "state": state,
               "statuses": list(SpecialApprovalStatus),
               "status_label": partial(status_text, SpecialApprovalStatus)}
    return await render(request, "special_approvals/list.html", context)


async def decide(request: web.Request) -> web.Response:
    """Approve or refuse one request with a note; a second decision is refused (C2)."""
    form = await form_of(request)
    approval_id = path_id(request, "approval_id")
    approve = form.get("decision") == "approve"
    _done, error = await attempt(special.decide_special(
        actor_of(request), approval_id, approve, form.get("note", ""),
        zone=request.app[TIMEZONE_KEY]))
    done = _("Special approval granted.") if approve else _("Special approval refused.")
    await flash_and_redirect(request, local_path(form.get("next"), "/special-approvals"),
                             error or done)
