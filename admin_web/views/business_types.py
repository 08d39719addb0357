"""Business types: list for every reviewer and supervisor, create and edit for ops admins."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDict

from admin_web.i18n import gettext as _
from admin_web.pages import ACTIVE_FILTER, actor_of, attempt, flash_and_redirect, form_of, render
from admin_web.params import path_id, whole_number
from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.models import BusinessType, PhotoKind

PHOTO_KIND_KEYS = frozenset(kind.value for kind in PhotoKind)
TEXT_FIELDS = ("code", "name_zh", "name_en", "review_sla_minutes", "callback_rate")


def business_type_form(form: MultiDict[str]) -> BusinessTypeForm:
    """The business type fields of a posted form; unknown photo kinds are ignored."""
    kinds = frozenset(PhotoKind(v) for v in form.getall("photo_kinds", []) if v in PHOTO_KIND_KEYS)
    return BusinessTypeForm(
        name_zh=form.get("name_zh", ""), name_en=form.get("name_en", ""),
        required_photo_kinds=kinds,
        review_sla_minutes=whole_number(form.get("review_sla_minutes")),
        four_eyes=form.get("four_eyes") == "1",
        callback_rate=whole_number(form.get("callback_rate")),
    )


def form_values(row: BusinessType) -> dict[str, Any]:
    """The edit form filled from a business type."""
    return {"code": row.code, "name_zh": row.name_zh, "name_en": row.name_en,
            "review_sla_minutes": row.review_sla_minutes, "callback_rate": row.callback_rate,
            "four_eyes": row.four_eyes, "photo_kinds": list(row.required_photo_kinds)}


def posted_values(form: MultiDict[str]) -> dict[str, Any]:
    """The form as the user sent it, to show it again with an error."""
    values: dict[str, Any] = {key: form.get(key, "") for key in TEXT_FIELDS}
    return values | {"four_eyes": form.get("four_eyes") == "1",
                     "photo_kinds": form.getall("photo_kinds", [])}


async def business_type_list(request: web.Request) -> web.Response:
    """List the business types, optionally only active or inactive ones."""
    state = request.query.get("active", "")
    rows = await business_types.list_business_types(actor_of(request),
                                                    active=ACTIVE_FILTER.get(state))
    return await render(request, "business_types/list.html", {"rows": rows, "state": state})


async def new_form(request: web.Request) -> web.Response:
    """Show the form for a new business type."""
    defaults = {"review_sla_minutes": 15, "callback_rate": 0, "four_eyes": False,
                "photo_kinds": sorted(business_types.MANDATORY_PHOTO_KINDS)}
    return await _edit_page(request, None, defaults)


async def _edit_page(request: web.Request, row: BusinessType | None, values: dict[str, Any],
                     error: str | None = None) -> web.Response:
    context = {"business_type": row, "form": values, "error": error}
    return await render(request, "business_types/edit.html", context,
                        status=400 if error else 200)


async def create(request: web.Request) -> web.Response:
    """Add a business type."""
    form = await form_of(request)
    row, error = await attempt(business_types.create_business_type(
        actor_of(request), form.get("code", ""), business_type_form(form)
    ))
    if row is None:
        return await _edit_page(request, None, posted_values(form), error)
    message = _("Business type %(code)s added.") % {"code": row.code}
    await flash_and_redirect(request, f"/business-types/{row.id}", message)


async def business_type_page(request: web.Request) -> web.Response:
    """Show one business type with its edit form."""
    row = await business_types.get_business_type(actor_of(request),
                                                 path_id(request, "business_type_id"))
    return await _edit_page(request, row, form_values(row))


async def update(request: web.Request) -> web.Response:
    """Save the edited fields of a business type."""
    form = await form_of(request)
    actor, type_id = actor_of(request), path_id(request, "business_type_id")
    row, error = await attempt(business_types.update_business_type(
        actor, type_id, business_type_form(form)
    ))
    if row is None:
        current = await business_types.get_business_type(actor, type_id)
        return await _edit_page(request, current, posted_values(form), error)
    await flash_and_redirect(request, f"/business-types/{type_id}", _("Changes saved."))


async def set_active(request: web.Request) -> web.Response:
    """Withdraw a business type from new cases, or offer it again."""
    form = await form_of(request)
    type_id = path_id(request, "business_type_id")
    active = form.get("active") == "1"
    await business_types.set_active(actor_of(request), type_id, active)
    done = _("Business type reactivated.") if active else _("Business type deactivated.")
    await flash_and_redirect(request, f"/business-types/{type_id}", done)
