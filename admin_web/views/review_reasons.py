"""Review reasons: the managed list for operations management, read-only for reviewers (C7)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDict

from admin_web.i18n import gettext as _
from admin_web.pages import actor_of, attempt, flash_and_redirect, form_of, render
from admin_web.params import path_id, whole_number
from domain.cases import review_reasons
from domain.cases.review_reasons import RETAKE_ITEM_LABELS, ReasonForm
from domain.models import ReasonKind, ReviewReason
from domain.platform.errors import N_

TEXT_FIELDS = ("code", "kind", "name_zh", "name_en", "sort_order")
KIND_LABELS = {ReasonKind.RETURN: N_("Return for correction"), ReasonKind.REJECT: N_("Reject")}


def reason_form(form: MultiDict[str]) -> ReasonForm:
    """The reason fields of a posted form."""
    return ReasonForm(name_zh=form.get("name_zh", ""), name_en=form.get("name_en", ""),
                      retake_items=frozenset(form.getall("retake_items", [])),
                      sort_order=whole_number(form.get("sort_order")))


def form_values(row: ReviewReason) -> dict[str, Any]:
    """The edit form filled from a reason."""
    return {"code": row.code, "kind": row.kind.value, "name_zh": row.name_zh,
            "name_en": row.name_en, "sort_order": row.sort_order,
            "retake_items": list(row.retake_items)}


def posted_values(form: MultiDict[str]) -> dict[str, Any]:
    """The form as the user sent it, to show it again with an error."""
    values: dict[str, Any] = {key: form.get(key, "") for key in TEXT_FIELDS}
    return values | {"retake_items": form.getall("retake_items", [])}


def _context() -> dict[str, Any]:
    """Choices every reason template uses."""
    return {"kinds": list(ReasonKind), "retake_labels": RETAKE_ITEM_LABELS,
            "kind_label": lambda kind: _(KIND_LABELS[ReasonKind(kind)])}


async def reason_list(request: web.Request) -> web.Response:
    """List the return and reject reasons."""
    rows = await review_reasons.list_reasons(actor_of(request))
    return await render(request, "review_reasons/list.html", {"rows": rows} | _context())


async def _edit_page(request: web.Request, row: ReviewReason | None, values: dict[str, Any],
                     error: str | None = None) -> web.Response:
    context = {"reason": row, "form": values, "error": error} | _context()
    return await render(request, "review_reasons/edit.html", context,
                        status=400 if error else 200)


async def new_form(request: web.Request) -> web.Response:
    """Show the form for a new reason."""
    defaults = {"code": "", "kind": ReasonKind.RETURN.value, "name_zh": "", "name_en": "",
                "sort_order": 100, "retake_items": []}
    return await _edit_page(request, None, defaults)


async def create(request: web.Request) -> web.Response:
    """Add a reason."""
    form = await form_of(request)
    kind = form.get("kind", "")
    if kind not in {k.value for k in ReasonKind}:
        return await _edit_page(request, None, posted_values(form),
                                _("Choose whether the reason is for a return or a rejection."))
    row, error = await attempt(review_reasons.create_reason(
        actor_of(request), form.get("code", ""), ReasonKind(kind), reason_form(form)))
    if row is None:
        return await _edit_page(request, None, posted_values(form), error)
    message = _("Review reason %(code)s added.") % {"code": row.code}
    await flash_and_redirect(request, f"/review-reasons/{row.id}", message)


async def reason_page(request: web.Request) -> web.Response:
    """Show one reason with its edit form."""
    row = await review_reasons.get_reason(actor_of(request), path_id(request, "reason_id"))
    return await _edit_page(request, row, form_values(row))


async def update(request: web.Request) -> web.Response:
    """Save the edited names, items to retake and position of a reason."""
    form = await form_of(request)
    actor, reason_id = actor_of(request), path_id(request, "reason_id")
    row, error = await attempt(review_reasons.update_reason(actor, reason_id, reason_form(form)))
    if row is None:
        current = await review_reasons.get_reason(actor, reason_id)
        values = posted_values(form) | {"code": current.code, "kind": current.kind.value}
        return await _edit_page(request, current, values, error)
    await flash_and_redirect(request, f"/review-reasons/{reason_id}", _("Changes saved."))


async def set_active(request: web.Request) -> web.Response:
    """Withdraw a reason from the reviewers' choices, or offer it again."""
    form = await form_of(request)
    reason_id = path_id(request, "reason_id")
    active = form.get("active") == "1"
    await review_reasons.set_active(actor_of(request), reason_id, active)
    done = _("Review reason reactivated.") if active else _("Review reason deactivated.")
    await flash_and_redirect(request, f"/review-reasons/{reason_id}", done)
