"""Voids and mis-issues in the web: pending voids with both signatures, serials handed to
customers by mistake and their recovery (V6, Q4, Q5)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from admin_web import bulk
from admin_web.i18n import gettext as _
from admin_web.pages import actor_of, business_today, form_of
from admin_web.params import choice, optional_date, path_id
from admin_web.state import CONFIG_KEY, TIMEZONE_KEY
from admin_web.views.vouchers import (
    VOID_KIND_LABELS,
    act,
    serial_lines,
    voucher_page,
)
from domain.models import MisIssueStatus, VoidKind
from domain.platform import clock
from domain.platform.errors import N_, DomainError
from domain.vouchers import mis_issues, voids, voucher_reports


async def voids_page(request: web.Request) -> web.Response:
    """Void requests waiting for the business and operations heads' signatures (V6)."""
    return await _voids_view(request)


async def _voids_view(request: web.Request) -> web.Response:
    context = {"rows": await voucher_reports.void_queue(actor_of(request)),
               "void_kinds": [VoidKind.LOST, VoidKind.EXPIRED], "form": {}}
    return await voucher_page(request, "vouchers/voids.html", context)


async def _request(request: web.Request) -> Any:
    form = await form_of(request)
    kind = form.get("kind", "")
    if kind not in VOID_KIND_LABELS:
        raise DomainError(N_("Choose why the serials are to be voided."))
    serials = serial_lines(form.get("serials", ""))
    reason = form.get("reason", "").strip()
    if kind == VoidKind.LOST:
        return await voids.report_lost_serials(
            actor_of(request), serials, reason, lax_management=form.get("lax") == "1",
            rules=request.app[CONFIG_KEY].incidents)
    return await voids.request_void(actor_of(request), serials, VoidKind(kind), reason)


async def request_void(request: web.Request) -> web.Response:
    """Report serials lost, or ask to void mis-issued (recovered) or expired ones (V6)."""
    return await act(request, _request(request), "/vouchers/voids",
                     N_("The void request is recorded; it waits for both signatures."),
                     form=await form_of(request))


async def sign_void(request: web.Request) -> web.Response:
    """Sign a void as business dept head or operations head (V6)."""
    call = voids.sign_void(actor_of(request), path_id(request, "void_id"))
    return await act(request, call, "/vouchers/voids", N_("Your signature is recorded."))


async def sign_voids(request: web.Request) -> web.Response:
    """Sign each ticked void on its own, as business dept head or operations head; the page
    lists each one signed or refused with the reason (V6)."""
    actor = actor_of(request)
    rows = await voucher_reports.void_queue(actor)
    labels = {row.id: _("Void #%(id)s: %(serials)s") % {
        "id": row.id, "serials": ", ".join(item.voucher.serial for item in row.items)}
        for row in rows}
    await bulk.apply_each(request, "/vouchers/voids", bulk.chosen_ids(await form_of(request)),
                          partial(voids.sign_void, actor), labels,
                          N_("Your signature is recorded."))


async def _refuse(request: web.Request) -> Any:
    form = await form_of(request)
    return await voids.refuse_void(actor_of(request), path_id(request, "void_id"),
                                   form.get("note", "").strip())


async def refuse_void(request: web.Request) -> web.Response:
    """Refuse a void with a note; the serials go back where they were (V6)."""
    return await act(request, _refuse(request), "/vouchers/voids",
                     N_("The void is refused; the serials are back where they were."))


async def mis_issues_page(request: web.Request) -> web.Response:
    """Serials handed to customers by mistake and their recovery (V6)."""
    return await _mis_issues_view(request)


async def _mis_issues_view(request: web.Request) -> web.Response:
    status = request.query.get("status", "")
    chosen = choice(status, MisIssueStatus)
    rows = await mis_issues.mis_issues(actor_of(request), status=chosen)
    context = {"rows": rows, "status": chosen.value if chosen else "",
               "statuses": list(MisIssueStatus), "now": clock.utcnow(),
               "form": {}, "default_recover_by": business_today(request)
               + timedelta(days=request.app[CONFIG_KEY].calendar.mis_issue_recovery_days)}
    return await voucher_page(request, "vouchers/mis_issues.html", context)


async def _record_mis_issue(request: web.Request, form: MultiMapping[str]) -> Any:
    day = optional_date(form.get("recover_by"), N_("Recover by"))
    zone = request.app[TIMEZONE_KEY]
    deadline = (datetime.combine(day, time(23, 59), zone).astimezone(UTC)
                if day is not None else None)
    return await mis_issues.record_mis_issue(
        actor_of(request), form.get("serial", ""), form.get("reason", ""),
        case_no=form.get("case_no", ""), recover_by=deadline, zone=zone,
        recovery_days=request.app[CONFIG_KEY].calendar.mis_issue_recovery_days)


async def record_mis_issue(request: web.Request) -> web.Response:
    """Record a serial handed to a customer by mistake (V6)."""
    form = await form_of(request)
    return await act(request, _record_mis_issue(request, form), "/vouchers/mis-issues",
                     N_("The mis-issue is recorded; the holder is told to recover the serial."),
                     form=form)


async def _settle_mis_issue(request: web.Request, recovered: bool) -> Any:
    form = await form_of(request)
    actor, mis_issue_id = actor_of(request), path_id(request, "mis_issue_id")
    if recovered:
        return await mis_issues.record_recovery(actor, mis_issue_id, form.get("note", ""))
    return await mis_issues.write_off_mis_issue(actor, mis_issue_id, form.get("note", ""),
                                                rules=request.app[CONFIG_KEY].incidents)


async def mis_issue_recovered(request: web.Request) -> web.Response:
    """The serial is back from the customer: ask to void it, or put a closed case's card
    back in its box (V6)."""
    return await act(request, _settle_mis_issue(request, True), "/vouchers/mis-issues",
                     N_("The recovery is recorded: a card handed by mistake waits for both "
                        "void signatures, the card of a closed case is back in its box."))


async def mis_issue_unrecoverable(request: web.Request) -> web.Response:
    """The serial cannot be recovered: it counts as lost, a major incident (V6, Q4)."""
    return await act(request, _settle_mis_issue(request, False), "/vouchers/mis-issues",
                     N_("The serial counts as lost; the incident is major and the void waits "
                        "for both signatures."))
