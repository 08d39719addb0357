"""Device ledger in the web: tablets, their register and the actions of each state (D1–D3)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiDict, MultiMapping

from admin_web import bulk
from admin_web.forms import Field, Form, Kind
from admin_web.i18n import gettext as _
from admin_web.i18n import status_text
from admin_web.pages import actor_of, attempt_or_back, flash_and_redirect, form_of, render
from admin_web.paging import page_request, pager
from admin_web.params import choice, int_or_none, path_id
from admin_web.state import TIMEZONE_KEY
from domain.ledgers import devices
from domain.ledgers.devices import RECEIPT_DEADLINE_HOURS, DeviceForm, receipt_overdue
from domain.models import Device, DeviceEventKind, DeviceState, Role, Staff
from domain.people import orgs, staff
from domain.platform import clock
from domain.platform.access import Permission, can
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError

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


@dataclass(frozen=True)
class Transition:
    """A change of state a manager makes with a note: the service that makes it, the panel
    that offers it (heading, hint, button and its style) and the message once done."""

    change: Callable[[Actor, int, str], Awaitable[Device]]
    heading: str
    button: str
    done: str
    style: str = "primary"
    hint: str = ""


# Each rule's service checks the permission (device.manage) and the state (D1, D3).
TRANSITIONS: dict[str, Transition] = {
    "return": Transition(devices.return_device, N_("Return the tablet"),
                         N_("Take back into stock"),
                         N_("Tablet %(asset_tag)s returned to stock.")),
    "found": Transition(devices.mark_found, N_("Found"), N_("Mark as found"),
                        N_("Tablet %(asset_tag)s found and back in stock.")),
    "repair": Transition(devices.send_to_repair, N_("Send to repair"), N_("Send to repair"),
                         N_("Tablet %(asset_tag)s sent to repair."), style=""),
    "repaired": Transition(devices.mark_repaired, N_("Repaired"), N_("Back in stock"),
                           N_("Tablet %(asset_tag)s is repaired and in stock.")),
    "retire": Transition(devices.retire_device, N_("Retire"), N_("Retire"),
                         N_("Tablet %(asset_tag)s retired."), style="danger",
                         hint=N_("A retired tablet cannot be issued again.")),
}
# The actions the page offers in each state; the service refuses any other (D1).
ACTIONS: dict[DeviceState, tuple[str, ...]] = {
    DeviceState.IN_STOCK: ("issue", "repair", "retire"),
    DeviceState.ISSUED: ("return",),
    DeviceState.LOST: ("found",),
    DeviceState.IN_REPAIR: ("repaired", "retire"),
    DeviceState.RETIRED: (),
}
ISSUE_TO = "issue_to_"  # a bulk issue's select beside each tablet: issue_to_<device id>
DEVICE = Form(DeviceForm, (
    Field("asset_tag", Kind.STRIPPED), Field("serial", Kind.STRIPPED),
    Field("imei", Kind.OPTIONAL), Field("model", Kind.STRIPPED),
    Field("purchase_date", Kind.DATE, N_("Purchase date")), Field("org_id", Kind.ID),
))


def labels() -> dict[str, Any]:
    """Label helpers the device templates use."""
    return {"state_label": partial(status_text, DeviceState),
            "event_label": lambda value: _(EVENT_LABELS[DeviceEventKind(value)]),
            "transitions": TRANSITIONS}


async def field_agents(actor: Actor) -> list[Staff]:
    """Active field agents of the actor's subtree (the holder filter)."""
    rows = await staff.list_staff(actor, active=True)
    return [row for row in rows if any(r.role == Role.FIELD_AGENT for r in row.roles)]


def list_filters(query: MultiMapping[str]) -> dict[str, Any]:
    """The list filters of the query string; unknown values mean any."""
    return {"state": choice(query.get("state"), DeviceState),
            "org_id": int_or_none(query.get("org_id")),
            "holder_id": int_or_none(query.get("holder_id"))}


async def device_list(request: web.Request) -> web.Response:
    """Tablets of the actor's subtree filtered by state, org and holder (D1)."""
    return await _list_view(request)


async def _list_view(request: web.Request) -> web.Response:
    """Render the list with the register form (filled again after a refusal) and, for those
    who manage devices, the agents each tablet in stock may be issued to (D1)."""
    actor = actor_of(request)
    filters = list_filters(request.query)
    unconfirmed = request.query.get("unconfirmed") == "1"
    page = await devices.device_page(actor, page_request(request.query), **filters,
                                     unconfirmed=unconfirmed)
    rows, now = page.rows, clock.utcnow()
    context = {
        "rows": rows, "paging": pager(request, page), "filters": filters,
        "unconfirmed": unconfirmed,
        "overdue": {row.id for row in rows if receipt_overdue(row, now)},
        "states": list(DeviceState), "orgs": await orgs.list_orgs(actor),
        "holders": await field_agents(actor), "form": {},
        "eligible": await devices.eligible_holders(
            actor, [row for row in rows if row.state == DeviceState.IN_STOCK],
            zone=request.app[TIMEZONE_KEY]) if can(actor, Permission.DEVICE_MANAGE) else {},
    }
    return await render(request, "devices/list.html", context | labels())


async def _register(request: web.Request, form: MultiDict[str]) -> Device:
    return await devices.register_device(actor_of(request), DEVICE.parse(form),
                                         zone=request.app[TIMEZONE_KEY])


async def register(request: web.Request) -> web.Response:
    """Register a tablet in stock (D1)."""
    form = await form_of(request)
    row = await attempt_or_back(request, _register(request, form), "/devices",
                                DEVICE.as_sent(form))
    message = _("Tablet %(asset_tag)s registered.") % {"asset_tag": row.asset_tag}
    await flash_and_redirect(request, f"/devices/{row.id}", message)


async def device_page(request: web.Request) -> web.Response:
    """One tablet with its full register and the actions of its state (D1)."""
    return await _device_view(request, path_id(request, "device_id"))


async def _device_view(request: web.Request, device_id: int) -> web.Response:
    """Render the tablet page (with the refusal of an action `refuse` kept for it); only the
    agents it may be issued to are offered (D1)."""
    actor = actor_of(request)
    device, events = await devices.device_history(actor, device_id)
    actions = ACTIONS[DeviceState(device.state)]
    issuer = "issue" in actions and can(actor, Permission.DEVICE_MANAGE)
    eligible = await devices.eligible_holders(
        actor, [device], zone=request.app[TIMEZONE_KEY]) if issuer else {}
    context = {
        "device": device, "events": sorted(events, key=lambda e: -e.id), "actions": actions,
        "agents": eligible.get(device.id, []),
        "overdue": receipt_overdue(device, clock.utcnow()),
        "deadline_hours": RECEIPT_DEADLINE_HOURS,
    }
    return await render(request, "devices/detail.html", context | labels())


async def _acted(request: web.Request, call: Awaitable[Device], done: str) -> web.Response:
    """Report an action on a tablet; a refused transition is shown with its reason."""
    device_id = path_id(request, "device_id")
    row = await attempt_or_back(request, call, f"/devices/{device_id}")
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


async def issue_many(request: web.Request) -> web.Response:
    """Issue each tablet in stock to the agent chosen beside it, each on its own (D1)."""
    form, actor = await form_of(request), actor_of(request)
    pairs = {device_id: agent_id for name, value in form.items()
             if name.startswith(ISSUE_TO) and (device_id := int_or_none(name[len(ISSUE_TO):]))
             and (agent_id := int_or_none(value))}
    tablets = await devices.list_devices(actor, state=DeviceState.IN_STOCK)
    zone = request.app[TIMEZONE_KEY]

    async def issue_one(device_id: int) -> Device:
        return await devices.issue_device(actor, device_id, pairs[device_id], zone=zone)

    await bulk.apply_each(request, "/devices", list(pairs), issue_one,
                          {row.id: row.asset_tag for row in tablets},
                          N_("Issued. The field agent is asked to confirm receipt in chat."))


def transition(name: str) -> Handler:
    """The view of one transition of the table: the change with the posted note (D1, D3)."""
    rule = TRANSITIONS[name]

    async def change(request: web.Request) -> web.Response:
        """Make the transition with the posted note, or show the tablet with the refusal."""
        form = await form_of(request)
        call = rule.change(actor_of(request), path_id(request, "device_id"),
                           form.get("note", ""))
        return await _acted(request, call, rule.done)

    return change
