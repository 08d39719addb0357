"""Voucher ledger in the web: types and caps, receipts, balances, tail boxes, the movement
journal, pending voids and the monthly reconciliation with its export (V1–V6, S4)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDict, MultiMapping

from admin_web.forms import Field, Form, Kind
from admin_web.i18n import current_locale, error_text, status_text
from admin_web.i18n import gettext as _
from admin_web.pages import (
    actor_of,
    attempt,
    attempt_or_back,
    business_today,
    download,
    flash_and_redirect,
    form_of,
    refuse,
    render,
    sent,
    uploaded_text,
)
from admin_web.paging import page_request, pager
from admin_web.params import (
    choice,
    int_or_none,
    max_length,
    month_or,
    optional_date,
    path_id,
    text,
    whole_number,
)
from admin_web.state import CONFIG_KEY, TIMEZONE_KEY
from domain.ledgers import devices
from domain.models import (
    CountStatus,
    DeviceState,
    MisIssueStatus,
    MovementKind,
    VoidKind,
    Voucher,
    VoucherState,
)
from domain.people import orgs
from domain.platform.access import Permission, can, require
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError
from domain.vouchers import (
    day_end_counts,
    tail_boxes,
    voucher_reports,
    voucher_stock,
)
from domain.vouchers.day_end_counts import DayEndRow
from domain.vouchers.voucher_names import box_labels, type_names
from domain.vouchers.voucher_stock import VoucherTypeForm

KIND_LABELS: dict[MovementKind, str] = {
    MovementKind.RECEIVED: N_("Received into the vault"),
    MovementKind.ALLOCATED: N_("Allocated to a tail box"),
    MovementKind.RETURNED_TO_VAULT: N_("Returned to the vault"),
    MovementKind.RESERVED: N_("Reserved by a case"),
    MovementKind.ISSUED: N_("Issued to the customer"),
    MovementKind.RELEASED: N_("Released back to the box"),
    MovementKind.REPORTED_LOST: N_("Reported lost"),
    MovementKind.VOID_REQUESTED: N_("Void requested"),
    MovementKind.VOID_REFUSED: N_("Void refused"),
    MovementKind.VOIDED: N_("Voided"),
    MovementKind.HANDED_OVER: N_("Box handed over"),
    MovementKind.MIS_ISSUED: N_("Handed to a customer by mistake"),
    MovementKind.COUNT_ADJUSTMENT: N_("Count adjustment"),
    MovementKind.TO_RECOVER: N_("Left with the customer, to be taken back"),
    MovementKind.TAKEN_BACK: N_("Taken back from the customer into the box"),
}
VOID_KIND_LABELS: dict[VoidKind, str] = {
    VoidKind.LOST: N_("Lost"),
    VoidKind.MIS_ISSUED: N_("Mis-issued and recovered"),
    VoidKind.EXPIRED: N_("Expired"),
}
SERIAL_PAGE = 100  # serials per page of a box
MOVEMENT_PAGE = 50  # movements per page of a box
VOUCHER_TYPE = Form(VoucherTypeForm, (
    Field("code", Kind.STRIPPED, to=None), Field("name_zh", Kind.STRIPPED),
    Field("name_en", Kind.STRIPPED), Field("serial_pattern", Kind.STRIPPED),
    Field("serial_check", Kind.STRIPPED),
))


def labels() -> dict[str, Any]:
    """Label helpers the voucher templates use."""
    return {"voucher_state_label": partial(status_text, VoucherState),
            "movement_label": lambda value: _(KIND_LABELS[MovementKind(value)]),
            "void_kind_label": lambda value: _(VOID_KIND_LABELS[VoidKind(value)]),
            "mis_issue_label": partial(status_text, MisIssueStatus),
            "count_status_label": partial(status_text, CountStatus)}


def serial_lines(typed: str) -> list[str]:
    """The serials of a text area or a file: one per line, blank lines skipped; each no
    longer than a serial can be."""
    longest = max_length(Voucher, "serial")
    return [text(line, N_("Serial"), longest) for line in typed.splitlines() if line.strip()]


async def voucher_page(request: web.Request, template: str, context: dict[str, Any],
                error: str | None = None, refused: int = 409) -> web.Response:
    """Render a voucher page, with the refusal of an action when there is one."""
    names = {"type_names": await type_names(current_locale())}
    return await render(request, template, names | context | labels() | {"error": error},
                        status=refused if error else 200)


async def act(request: web.Request, call: Awaitable[Any], location: str, message: str, *,
              back: str | None = None, form: MultiMapping[str] | None = None) -> web.Response:
    """Run one change: go on to `location` with its message, or back (to `back`, else
    `location`) with the refusal and the typed form (post/redirect/get)."""
    result = await attempt_or_back(request, call, back or location,
                                   None if form is None else sent(form))
    await flash_and_redirect(request, location, _(message) % _params(result))


def _params(result: Any) -> dict[str, Any]:
    """Message parameters of a service result: a count or the length of a list."""
    if isinstance(result, int):
        return {"n": result}
    if isinstance(result, list):
        return {"n": len(result)}
    return {}


# Balances and tail boxes


async def balance_page(request: web.Request) -> web.Response:
    """Vault and box balances per type and org of the actor's subtree (V1, V2)."""
    return await _balance_view(request)


async def _balance_view(request: web.Request) -> web.Response:
    actor = actor_of(request)
    org_id = int_or_none(request.query.get("org_id"))
    tablets = []
    if can(actor, Permission.VOUCHER_MANAGE) and can(actor, Permission.DEVICE_VIEW):
        tablets = await devices.list_devices(actor, state=DeviceState.ISSUED)
    rows = await voucher_reports.balances(actor, org_id=org_id)
    context = {"rows": rows, "org_id": org_id,
               "box_labels": await box_labels(row.box_id for row in rows if row.box_id),
               "orgs": await orgs.list_orgs(actor), "tablets": tablets}
    return await voucher_page(request, "vouchers/balances.html", context)


async def open_box(request: web.Request) -> web.Response:
    """Open the tail box of an issued tablet to allocate into it (V1)."""
    form = await form_of(request)
    device_id = int_or_none(form.get("device_id"))
    if device_id is None:
        await refuse(request, "/vouchers", _("Choose a tablet."))
    box = await attempt_or_back(request, voucher_reports.tail_box_of_device(
        actor_of(request), device_id), "/vouchers")
    raise web.HTTPSeeOther(f"/vouchers/boxes/{box.id}")


async def box_page(request: web.Request) -> web.Response:
    """One tail box: every serial in it, its history and the actions on it (V1, V4)."""
    return await _box_view(request, path_id(request, "box_id"))


async def _box_view(request: web.Request, box_id: int) -> web.Response:
    actor = actor_of(request)
    after = text(request.query.get("after"), N_("Serial"), max_length(Voucher, "serial")) or None
    before = int_or_none(request.query.get("before"))
    box, serials, movements = await tail_boxes.box_detail(
        actor, box_id, limit=SERIAL_PAGE, after=after, before=before,
        movement_limit=MOVEMENT_PAGE)
    await box.fetch_related("device", "holder", "org")
    types = await voucher_reports.voucher_types(actor)
    context = {"box": box, "serials": serials, "types": types,
               "history": await tail_boxes.histories([row.id for row in serials]),
               "type_of": {row.id: row.name_in(current_locale()) for row in types},
               "totals": await tail_boxes.expected_in_box(box.id),
               "serial_of": await voucher_reports.serials_of({m.voucher_id for m in movements}),
               "movements": movements, "form": {},
               "allocation_refusal": await _allocation_refusal(request, box.id),
               "more_serials": _box_link(box.id, after=serials[-1].serial, before=before)
               if len(serials) == SERIAL_PAGE else None,
               "older_movements": _box_link(box.id, after=after, before=movements[-1].id)
               if len(movements) == MOVEMENT_PAGE else None}
    return await voucher_page(request, "vouchers/box.html", context)


async def _allocation_refusal(request: web.Request, box_id: int) -> str | None:
    """Why the box may not receive an allocation now, for those who allocate; the page then
    offers the reason instead of the form (V1, V4, V5, Q1)."""
    actor = actor_of(request)
    if not can(actor, Permission.VOUCHER_MANAGE):
        return None
    refusal = await voucher_stock.allocation_refusal(
        actor, box_id, count_max_age=timedelta(
            hours=request.app[CONFIG_KEY].box_count_max_age_hours),
        zone=request.app[TIMEZONE_KEY])
    return error_text(refusal) if refusal is not None else None


def _box_link(box_id: int, **cursors: Any) -> str:
    """The box page with the paging cursors that are set."""
    kept = {key: value for key, value in cursors.items() if value is not None}
    return f"/vouchers/boxes/{box_id}" + (f"?{urlencode(kept)}" if kept else "")


async def _box_action(request: web.Request, action: Callable[[web.Request], Awaitable[Any]],
                      message: str) -> web.Response:
    """Run an action on a box; a refusal is shown on the box page with its reason."""
    box_id = path_id(request, "box_id")
    form = await form_of(request)
    return await act(request, action(request), f"/vouchers/boxes/{box_id}", message, form=form)


async def _allocate(request: web.Request) -> list[Any]:
    form = await form_of(request)
    type_id = int_or_none(form.get("voucher_type_id"))
    if type_id is None:
        raise DomainError(N_("Choose a voucher type."))
    serials = serial_lines(form.get("serials", ""))
    count = whole_number(form.get("count"))
    if not serials and not count:
        raise DomainError(N_("Enter the serials or how many to allocate."))
    max_age = timedelta(hours=request.app[CONFIG_KEY].box_count_max_age_hours)
    return await voucher_stock.allocate(actor_of(request), path_id(request, "box_id"), type_id,
                                        serials=serials or None, count=None if serials else count,
                                        count_max_age=max_age, zone=request.app[TIMEZONE_KEY])


async def allocate(request: web.Request) -> web.Response:
    """Allocate serials or a count from the vault to the box (V1, V2, V4, Q1)."""
    return await _box_action(request, _allocate,
                             N_("Allocated to the tail box: %(n)s vouchers."))


async def _return(request: web.Request) -> int:
    form = await form_of(request)
    serials = serial_lines(form.get("serials", ""))
    if not serials:
        raise DomainError(N_("Enter the serials to take back."))
    return await voucher_stock.return_to_vault(actor_of(request), path_id(request, "box_id"),
                                               serials)


async def return_to_vault(request: web.Request) -> web.Response:
    """Take serials from the box back into the vault (V1)."""
    return await _box_action(request, _return,
                             N_("Returned to the vault: %(n)s vouchers."))


async def _unfreeze(request: web.Request) -> Any:
    form = await form_of(request)
    return await tail_boxes.unfreeze_box(actor_of(request), path_id(request, "box_id"),
                                         form.get("reason", "").strip())


async def unfreeze(request: web.Request) -> web.Response:
    """Unfreeze a box once the matter is settled (D3, V5)."""
    return await _box_action(request, _unfreeze, N_("The tail box is unfrozen."))


# Voucher types, caps and receipts


async def types_page(request: web.Request) -> web.Response:
    """Voucher types and the caps per org and type (V1, V2)."""
    return await _types_view(request)


async def _types_view(request: web.Request) -> web.Response:
    actor = actor_of(request)
    context = {"types": await voucher_reports.voucher_types(actor),
               "caps": await voucher_reports.caps(actor), "orgs": await orgs.list_orgs(actor),
               "form": {}}
    return await voucher_page(request, "vouchers/types.html", context)


async def _define(request: web.Request, form: MultiDict[str]) -> Any:
    return await voucher_stock.define_voucher_type(actor_of(request), form.get("code", "").strip(),
                                                   VOUCHER_TYPE.parse(form))


async def define_type(request: web.Request) -> web.Response:
    """Define a voucher type with its serial pattern and check rule (V1)."""
    form = await form_of(request)
    return await act(request, _define(request, form), "/vouchers/types",
                     N_("Voucher type defined."), form=form)


async def _cap(request: web.Request, form: MultiDict[str]) -> Any:
    org_id, type_id = int_or_none(form.get("org_id")), int_or_none(form.get("voucher_type_id"))
    most = whole_number(form.get("max_in_boxes"))
    if org_id is None or type_id is None or most is None:
        raise DomainError(N_("Choose the organisation and the voucher type, and enter the cap."))
    return await voucher_stock.set_cap(actor_of(request), org_id, type_id, most)


async def set_cap(request: web.Request) -> web.Response:
    """Set the most vouchers of a type the boxes of an org may hold (V2)."""
    form = await form_of(request)
    return await act(request, _cap(request, form), "/vouchers/types", N_("Cap saved."),
                     form=form)


async def receive_page(request: web.Request) -> web.Response:
    """The receipt form: a serial range or a file of serials into an org's vault, for those
    who may receive (V1)."""
    require(actor_of(request), Permission.VOUCHER_MANAGE)
    return await _receive_view(request)


async def _receive_view(request: web.Request) -> web.Response:
    actor = actor_of(request)
    context = {"types": await voucher_reports.voucher_types(actor),
               "orgs": await orgs.list_orgs(actor), "form": {}}
    return await voucher_page(request, "vouchers/receive.html", context)


async def _receive(request: web.Request, form: MultiDict[str]) -> int:
    actor = actor_of(request)
    require(actor, Permission.VOUCHER_MANAGE)  # before the form is read, like its page
    org_id, type_id = int_or_none(form.get("org_id")), int_or_none(form.get("voucher_type_id"))
    if org_id is None or type_id is None:
        raise DomainError(N_("Choose the organisation and the voucher type."))
    serials = serial_lines(await uploaded_text(request))  # the chosen file's, if any
    if serials:
        return await voucher_stock.receive_serials(actor, org_id, type_id, serials)
    first, last = form.get("first", "").strip(), form.get("last", "").strip()
    if not first or not last:
        raise DomainError(N_("Enter the first and last serial of the range, or choose a file."))
    return await voucher_stock.receive_range(actor, org_id, type_id, first, last)


async def receive(request: web.Request) -> web.Response:
    """Receive a range or a file of serials into an org's vault, all or nothing (V1)."""
    form = await form_of(request)
    return await act(request, _receive(request, form), "/vouchers",
                     N_("Received into the vault: %(n)s vouchers."), back="/vouchers/receive",
                     form=form)


# Journal and day-end counts


def journal_filters(query: MultiMapping[str]) -> dict[str, Any]:
    """The journal filters of the query string; unknown values mean any."""
    return {"kind": choice(query.get("kind"), MovementKind),
            "org_id": int_or_none(query.get("org_id")),
            "serial": text(query.get("serial"), N_("Serial"),
                           max_length(Voucher, "serial")) or None}


async def journal_page(request: web.Request) -> web.Response:
    """The movement journal, newest first, filtered, page by page (V1)."""
    actor = actor_of(request)
    filters = journal_filters(request.query)
    page = await voucher_reports.journal(actor, page_request(request.query), **filters)
    rows = page.rows
    context = {"rows": rows, "filters": filters, "paging": pager(request, page),
               "kinds": list(MovementKind),
               "orgs": await orgs.list_orgs(actor),
               "serial_of": await voucher_reports.serials_of({row.voucher_id for row in rows}),
               "box_labels": await box_labels(
                   box for row in rows for box in (row.to_box_id, row.from_box_id) if box)}
    return await voucher_page(request, "vouchers/journal.html", context)


async def _day_end_rows(actor: Actor, day_text: str | None, today: date, unanswered: bool
                        ) -> tuple[date, list[DayEndRow]]:
    """The business day asked for (today when blank) and its day-end counts (V3)."""
    day = optional_date(day_text, N_("Business day")) or today
    return day, await day_end_counts.day_end_counts(actor, day, unanswered=unanswered)


async def counts_page(request: web.Request) -> web.Response:
    """The day-end counts of a business day, only the unanswered ones on request (V3, S1)."""
    unanswered = request.query.get("open") == "1"
    found, error = await attempt(_day_end_rows(actor_of(request), request.query.get("day"),
                                               business_today(request), unanswered))
    day, rows = found or (None, [])
    context = {"rows": rows, "day": day or request.query.get("day", ""),
               "unanswered": unanswered}
    return await voucher_page(request, "vouchers/counts.html", context, error, refused=400)


# Monthly reconciliation


async def report_page(request: web.Request) -> web.Response:
    """The monthly reconciliation per org and type (V1 to V6)."""
    return await _report_view(request, month_or(request.query.get("month"),
                                                business_today(request)))


async def _report_view(request: web.Request, month: date, error: str | None = None,
                       purpose: str = "") -> web.Response:
    rows = await voucher_reports.reconciliation(actor_of(request), month,
                                                zone=request.app[TIMEZONE_KEY])
    context = {"rows": rows, "month": f"{month.year:04d}-{month.month:02d}",
               "purpose": purpose}
    return await voucher_page(request, "vouchers/reconciliation.html", context, error, refused=400)


async def export_report(request: web.Request) -> web.StreamResponse:
    """Download the reconciliation as CSV or XLSX with a stated purpose, audited (S4)."""
    form = await form_of(request)
    month = month_or(form.get("month"), business_today(request))
    purpose = form.get("purpose", "")
    call = voucher_reports.export_reconciliation(
        actor_of(request), month, purpose, form.get("fmt", ""),
        zone=request.app[TIMEZONE_KEY], locale=current_locale())
    exported, error = await attempt(call)
    if exported is None:
        return await _report_view(request, month, error, purpose)
    return download(exported)
