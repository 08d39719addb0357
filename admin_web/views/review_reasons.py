"""Review reasons: the managed list for operations management, read-only for reviewers (C7)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from admin_web.forms import Field, Form, Kind
from admin_web.i18n import gettext as _
from admin_web.pages import (
    actor_of,
    attempt_or_back,
    flash_and_redirect,
    form_of,
    refuse,
    render,
    switch_active,
)
from admin_web.params import path_id
from domain.cases import review_reasons
from domain.cases.review_reasons import RETAKE_ITEM_LABELS, ReasonForm
from domain.models import ReasonKind, ReviewReason
from domain.platform.access import Permission, require
from domain.platform.errors import N_

KIND_LABELS = {ReasonKind.RETURN: N_("Return for correction"), ReasonKind.REJECT: N_("Reject")}
REASON = Form(ReasonForm, (
    Field("code", to=None), Field("kind", to=None), Field("name_zh"), Field("name_en"),
    Field("sort_order", Kind.NUMBER), Field("retake_items", Kind.ITEMS),
))


def _context() -> dict[str, Any]:
    """Choices every reason template uses."""
    return {"kinds": list(ReasonKind), "retake_labels": RETAKE_ITEM_LABELS,
            "kind_label": lambda kind: _(KIND_LABELS[ReasonKind(kind)])}


async def reason_list(request: web.Request) -> web.Response:
    """List the return and reject reasons."""
    rows = await review_reasons.list_reasons(actor_of(request))
    return await render(request, "review_reasons/list.html", {"rows": rows} | _context())


async def _edit_page(request: web.Request, row: ReviewReason | None, values: dict[str, Any]
                     ) -> web.Response:
    context = {"reason": row, "form": values} | _context()
    return await render(request, "review_reasons/edit.html", context)


async def new_form(request: web.Request) -> web.Response:
    """Show the form for a new reason, to those who may add one."""
    require(actor_of(request), Permission.REVIEW_REASON_MANAGE)
    defaults = {"code": "", "kind": ReasonKind.RETURN.value, "name_zh": "", "name_en": "",
                "sort_order": 100, "retake_items": []}
    return await _edit_page(request, None, defaults)


async def create(request: web.Request) -> web.Response:
    """Add a reason."""
    require(actor_of(request), Permission.REVIEW_REASON_MANAGE)  # before the form is read
    form = await form_of(request)
    kind = form.get("kind", "")
    if kind not in {k.value for k in ReasonKind}:
        await refuse(request, "/review-reasons/new",
                     _("Choose whether the reason is for a return or a rejection."),
                     REASON.as_sent(form))
    row = await attempt_or_back(request, review_reasons.create_reason(
        actor_of(request), form.get("code", ""), ReasonKind(kind), REASON.parse(form)),
        "/review-reasons/new", REASON.as_sent(form))
    message = _("Review reason %(code)s added.") % {"code": row.code}
    await flash_and_redirect(request, f"/review-reasons/{row.id}", message)


async def reason_page(request: web.Request) -> web.Response:
    """Show one reason with its edit form."""
    row = await review_reasons.get_reason(actor_of(request), path_id(request, "reason_id"))
    return await _edit_page(request, row, REASON.filled(row))


async def update(request: web.Request) -> web.Response:
    """Save the edited names, items to retake and position of a reason."""
    form = await form_of(request)
    actor, reason_id = actor_of(request), path_id(request, "reason_id")
    await attempt_or_back(request, review_reasons.update_reason(
        actor, reason_id, REASON.parse(form)), f"/review-reasons/{reason_id}",
        REASON.as_sent(form))
    await flash_and_redirect(request, f"/review-reasons/{reason_id}", _("Changes saved."))


async def set_active(request: web.Request) -> web.Response:
    """Withdraw a reason from the reviewers' choices, or offer it again."""
    await switch_active(request, "reason_id", review_reasons.set_active, "/review-reasons/{}",
                        (N_("Review reason deactivated."), N_("Review reason reactivated.")))
