"""Device ledger in the web: tablets, their register and the actions of each state (D1–D3)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiDict, MultiMapping

from admin_web.i18n import gettext as _
from admin_web.pages import actor_of, attempt, flash_and_redirect, form_of, render
from admin_web.params import choice, int_or_none, optional_date, path_id
from admin_web.state import TIMEZONE_KEY
from domain.ledgers import devices
from domain.ledgers.devices import RECEIPT_DEADLINE_HOURS, DeviceForm, receipt_overdue
from domain.models import Device, DeviceEventKind, DeviceState, Role, Staff
from domain.people import orgs, staff
from domain.platform import clock
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError

STATE_LABELS: dict[DeviceState, str] = {
    DeviceState.IN_STOCK: N_("In stock"),
    DeviceState.ISSUED: N_("Issued"),
    DeviceState.LOST: N_("Lost"),
    DeviceState.IN_REPAIR: N_("In repair"),
    DeviceState.RETIRED: N_("Retired"),
}
EVENT_LABELS: dict[DeviceEventKind, str] = {
    DeviceEventKind.REGISTERED: N_("Registered"),
    DeviceEventKind.ISSUED: N_("Issued"),
    DeviceEventKind.RECEIPT_CONFIRMED: N_("Receipt confirmed"),
    DeviceEventKind.HANDED_OVER: N_("Handed over with its tail box"),
    DeviceEventKind.RETURNED: N_("Returned"),
    DeviceEventKind.LOST: N_("Reported lost"),
    DeviceEventKind.FOUND: N_("Found"),
    DeviceEventKind.SENT_TO_REPAIR: N_("Sent to repair"),
    DeviceEventKind.REPAIRED: N_("Repaired"),
    DeviceEventKind.RETIRED: N_("Retired"),
    DeviceEventKind.AUDITED: N_("Audited"),
}
# The actions the page offers in each state; the service refuses any other (D1).
ACTIONS: dict[DeviceState, tuple[str, ...]] = {
    DeviceState.IN_STOCK: ("issue", "repair", "retire"),
    DeviceState.ISSUED: ("return",),
    DeviceState.LOST: ("found",),
    DeviceState.IN_REPAIR: ("repaired", "retire"),
    DeviceState.RETIRED: (),
}
REGISTER_FIELDS = ("asset_tag", "serial", "imei", "model", "purchase_date", "org_id")


def labels() -> dict[str, Any]:
    """Label helpers the device templates use."""
    return {"state_label": lambda value: _(STATE_LABELS[DeviceState(value)]),
            "event_label": lambda value: _(EVENT_LABELS[DeviceEventKind(value)])}


async def field_agents(actor: Actor, org_id: int | None = None) -> list[Staff]:
    """Active field agents of the actor's subtree, or of one org's subtree."""
    rows = await staff.list_staff(actor, org_id=org_id, active=True)
    return [row for row in rows if any(r.role == Role.FIELD_AGENT for r in row.roles)]


def list_filters(query: MultiMapping[str]) -> dict[str, Any]:
    """The list filters of the query string; unknown values mean any."""
    return {"state": choice(query.get("state"), DeviceState),
            "org_id": int_or_none(query.get("org_id")),
            "holder_id": int_or_none(query.get("holder_id"))}


async def device_list(request: web.Request) -> web.Response:
    """Tablets of the actor's subtree filtered by state, org and holder (D1)."""
    return await _list_view(request, {})


async def _list_view(request: web.Request, values: dict[str, str], error: str | None = None
                     ) -> web.Response:
    """Render the list with the register form (filled again after a refusal)."""
    actor = actor_of(request)
    filters = list_filters(request.query)
    unconfirmed = request.query.get("unconfirmed") == "1"
    rows = await devices.list_devices(actor, **filters, unconfirmed=unconfirmed)
    now = clock.utcnow()
    context = {
        "rows": rows, "filters": filters, "unconfirmed": unconfirmed,
        "overdue": {row.id for row in rows if receipt_overdue(row, now)},
        "states": list(DeviceState), "orgs": await orgs.list_orgs(actor),
        "holders": await field_agents(actor), "form": values, "error": error,
    }
    return await render(request, "devices/list.html", context | labels(),
                        status=400 if error else 200)


def device_form(form: MultiDict[str]) -> DeviceForm:
    """The register fields of a posted form."""
    return DeviceForm(
        asset_tag=form.get("asset_tag", "").strip(), serial=form.get("serial", "").strip(),
        imei=form.get("imei", "").strip() or None, model=form.get("model", "").strip(),
        purchase_date=optional_date(form.get("purchase_date"), N_("Purchase date")),
        org_id=int_or_none(form.get("org_id")) or 0)


async def _register(request: web.Request, form: MultiDict[str]) -> Device:
    return await devices.register_device(actor_of(request), device_form(form),
                                         zone=request.app[TIMEZONE_KEY])


async def register(request: web.Request) -> web.Response:
    """Register a tablet in stock (D1)."""
    form = await form_of(request)
    row, error = await attempt(_register(request, form))
    if row is None:
        return await _list_view(request, {key: form.get(key, "") for key in REGISTER_FIELDS},
                                error)
    message = _("Tablet %(asset_tag)s registered.") % {"asset_tag": row.asset_tag}
    await flash_and_redirect(request, f"/devices/{row.id}", message)


async def device_page(request: web.Request) -> web.Response:
    """One tablet with its full register and the actions of its state (D1)."""
    return await _device_view(request, path_id(request, "device_id"))


async def _device_view(request: web.Request, device_id: int, error: str | None = None
                       ) -> web.Response:
    """Render the tablet page, with the refusal of an action when there is one."""
    actor = actor_of(request)
    device, events = await devices.device_history(actor, device_id)
    actions = ACTIONS[DeviceState(device.state)]
    context = {
        "device": device, "events": sorted(events, key=lambda e: -e.id), "actions": actions,
        "agents": await field_agents(actor, device.org.id) if "issue" in actions else [],
        "overdue": receipt_overdue(device, clock.utcnow()), "error": error,
        "deadline_hours": RECEIPT_DEADLINE_HOURS,
    }
    return await render(request, "devices/detail.html", context | labels(),
                        status=409 if error else 200)


async def _acted(request: web.Request, call: Awaitable[Device], done: str) -> web.Response:
    """Report an action on a tablet; a refused transition is shown with its reason."""
    device_id = path_id(request, "device_id")
    row, error = await attempt(call)
    if row is None:
        return await _device_view(request, device_id, error)
    await flash_and_redirect(request, f"/devices/{device_id}",
                             _(done) % {"asset_tag": row.asset_tag})


async def _issue(actor: Actor, device_id: int, form: MultiDict[str], zone: ZoneInfo) -> Device:
    agent_id = int_or_none(form.get("staff_id"))
    if agent_id is None:
        raise DomainError(N_("Choose the field agent who receives the tablet."))
    return await devices.issue_device(actor, device_id, agent_id, form.get("note", ""),
                                      zone=zone)


async def issue(request: web.Request) -> web.Response:
    """Issue an in-stock tablet to a field agent, who confirms receipt in chat (D1)."""
    form = await form_of(request)
    call = _issue(actor_of(request), path_id(request, "device_id"), form,
                  request.app[TIMEZONE_KEY])
    return await _acted(request, call, N_(
        "Tablet %(asset_tag)s issued. The field agent is asked to confirm receipt in chat."))


async def return_device(request: web.Request) -> web.Response:
    """Take an issued tablet back into stock (D1)."""
    form = await form_of(request)
    call = devices.return_device(actor_of(request), path_id(request, "device_id"),
                                 form.get("note", ""))
    return await _acted(request, call, N_("Tablet %(asset_tag)s returned to stock."))


async def send_to_repair(request: web.Request) -> web.Response:
    """Send an in-stock tablet to repair (D1)."""
    form = await form_of(request)
    call = devices.send_to_repair(actor_of(request), path_id(request, "device_id"),
                                  form.get("note", ""))
    return await _acted(request, call, N_("Tablet %(asset_tag)s sent to repair."))


async def repaired(request: web.Request) -> web.Response:
    """A repaired tablet is back in stock (D1)."""
    form = await form_of(request)
    call = devices.mark_repaired(actor_of(request), path_id(request, "device_id"),
                                 form.get("note", ""))
    return await _acted(request, call, N_("Tablet %(asset_tag)s is repaired and in stock."))


async def found(request: web.Request) -> web.Response:
    """A lost tablet is found and back in stock (D3)."""
    form = await form_of(request)
    call = devices.mark_found(actor_of(request), path_id(request, "device_id"),
                              form.get("note", ""))
    return await _acted(request, call, N_("Tablet %(asset_tag)s found and back in stock."))


async def retire(request: web.Request) -> web.Response:
    """Retire a tablet for good (D1)."""
    form = await form_of(request)
    call = devices.retire_device(actor_of(request), path_id(request, "device_id"),
                                 form.get("note", ""))
    return await _acted(request, call, N_("Tablet %(asset_tag)s retired."))
