"""Business types: list for every reviewer and supervisor, create and edit for ops admins."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from admin_web.forms import Field, Form, Kind
from admin_web.i18n import current_locale
from admin_web.i18n import gettext as _
from admin_web.pages import (
    ACTIVE_FILTER,
    actor_of,
    attempt_or_back,
    flash_and_redirect,
    form_of,
    render,
    switch_active,
)
from admin_web.params import path_id
from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.models import BusinessType, PhotoKind
from domain.platform.access import Permission, require
from domain.platform.errors import N_
from domain.vouchers.voucher_names import type_names

BUSINESS_TYPE = Form(BusinessTypeForm, (
    Field("code", to=None), Field("name_zh"), Field("name_en"),
    Field("review_sla_minutes", Kind.NUMBER), Field("callback_rate", Kind.NUMBER),
    Field("four_eyes", Kind.FLAG),
    Field("photo_kinds", Kind.CHOICES, options=PhotoKind, to="required_photo_kinds"),
))


async def business_type_list(request: web.Request) -> web.Response:
    """List the business types, optionally only active or inactive ones."""
    state = request.query.get("active", "")
    rows = await business_types.list_business_types(actor_of(request),
                                                    active=ACTIVE_FILTER.get(state))
    return await render(request, "business_types/list.html", {
        "rows": rows, "state": state, "type_names": await type_names(current_locale())})


async def new_form(request: web.Request) -> web.Response:
    """Show the form for a new business type, to those who may add one."""
    require(actor_of(request), Permission.BUSINESS_TYPE_MANAGE)
    defaults = {"review_sla_minutes": 15, "callback_rate": 0, "four_eyes": False,
                "photo_kinds": sorted(business_types.MANDATORY_PHOTO_KINDS)}
    return await _edit_page(request, None, defaults)


async def _edit_page(request: web.Request, row: BusinessType | None, values: dict[str, Any]
                     ) -> web.Response:
    context = {"business_type": row, "form": values}
    context["type_names"] = await type_names(current_locale())
    return await render(request, "business_types/edit.html", context)


async def create(request: web.Request) -> web.Response:
    """Add a business type."""
    form = await form_of(request)
    row = await attempt_or_back(request, business_types.create_business_type(
        actor_of(request), form.get("code", ""), BUSINESS_TYPE.parse(form)
    ), "/business-types/new", BUSINESS_TYPE.as_sent(form))
    message = _("Business type %(code)s added.") % {"code": row.code}
    await flash_and_redirect(request, f"/business-types/{row.id}", message)


async def business_type_page(request: web.Request) -> web.Response:
    """Show one business type with its edit form."""
    row = await business_types.get_business_type(actor_of(request),
                                                 path_id(request, "business_type_id"))
    return await _edit_page(request, row, BUSINESS_TYPE.filled(row))


async def update(request: web.Request) -> web.Response:
    """Save the edited fields of a business type."""
    form = await form_of(request)
    actor, type_id = actor_of(request), path_id(request, "business_type_id")
    await attempt_or_back(request, business_types.update_business_type(
        actor, type_id, BUSINESS_TYPE.parse(form)
    ), f"/business-types/{type_id}", BUSINESS_TYPE.as_sent(form))
    await flash_and_redirect(request, f"/business-types/{type_id}", _("Changes saved."))


async def set_active(request: web.Request) -> web.Response:
    """Withdraw a business type from new cases, or offer it again."""
    await switch_active(request, "business_type_id", business_types.set_active,
                        "/business-types/{}",
                        (N_("Business type deactivated."), N_("Business type reactivated.")))
