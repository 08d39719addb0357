"""Customer callbacks in the web: the queue, a callback with its script and calls, the
audited reveal of the mobile, and the report with its audited export (K1, Q4, S1, S4)."""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from admin_web.i18n import current_locale, status_text
from admin_web.i18n import gettext as _
from admin_web.pages import (
    actor_of,
    attempt,
    attempt_or_back,
    business_today,
    download,
    flash_and_redirect,
    form_of,
    render,
    sent,
)
from admin_web.paging import page_request, pager
from admin_web.params import choice, date_or, path_id, whole_number
from admin_web.state import CONFIG_KEY, TIMEZONE_KEY
from admin_web.views.cases import capture_of
from domain.models import CallbackOutcome, CallbackStatus
from domain.oversight import callback_reports, callbacks
from domain.oversight.callbacks import CallRecord, Due
from domain.platform import clock
from domain.platform.errors import N_

OUTCOME_LABELS: dict[str, str] = {
    CallbackOutcome.CONFIRMED: N_("Customer confirmed the business"),
    CallbackOutcome.DENIED: N_("Customer denies the business"),
    CallbackOutcome.COMPLAINT: N_("Customer complaint"),
    callbacks.UNREACHED: N_("Customer not reached"),
}
DONE_MESSAGES: dict[str, str] = {
    CallbackOutcome.CONFIRMED: N_("Callback of case %(case_no)s completed."),
    CallbackOutcome.DENIED: N_("Callback of case %(case_no)s recorded as a denial: a major "
                               "incident is open and operations management and the "
                               "supervisors are alerted."),
    CallbackOutcome.COMPLAINT: N_("Callback of case %(case_no)s recorded as a complaint: an "
                                  "incident is open and the supervisors are alerted."),
    callbacks.UNREACHED: N_("Call of case %(case_no)s recorded as not reached."),
}


def labels() -> dict[str, Any]:
    """Label helpers the callback templates use."""
    return {"callback_status_label": partial(status_text, CallbackStatus),
            "outcome_label": lambda value: _(OUTCOME_LABELS[value]),
            "results": list(OUTCOME_LABELS),
            "groupings": callback_reports.GROUPINGS}


async def queue(request: web.Request) -> web.Response:
    """Due and overdue callbacks: a callback agent's own and the unassigned ones; all of the
    subtree for overseers; upcoming ones, or those due today or overdue, on request (K1,
    S1)."""
    upcoming = request.query.get("show") == "upcoming"
    chosen = choice(request.query.get("due"), Due)
    page = await callbacks.callback_queue(actor_of(request), clock.utcnow(),
                                          capture_of(request).cipher,
                                          page_request(request.query), upcoming=upcoming,
                                          due=chosen, zone=request.app[TIMEZONE_KEY])
    return await render(request, "callbacks/queue.html", {
        "rows": page.rows, "paging": pager(request, page), "upcoming": upcoming,
        "due": chosen} | labels())


async def _detail_view(request: web.Request, *, mobile: str | None = None) -> web.Response:
    """Render a callback, with the clear mobile only right after a reveal (C10)."""
    view = await callbacks.callback_detail(actor_of(request), path_id(request, "callback_id"),
                                           capture_of(request).cipher, clock.utcnow())
    context = {"view": view, "callback": view.callback, "mobile": mobile, "form": {}}
    response = await render(request, "callbacks/detail.html", context | labels())
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def callback_page(request: web.Request) -> web.Response:
    """One callback: customer, masked mobile, case facts, the script and every call (K1)."""
    return await _detail_view(request)


async def reveal(request: web.Request) -> web.Response:
    """Show the customer's mobile in clear once, audited and rate-limited by the service
    (C10)."""
    capture = capture_of(request)
    callback_id = path_id(request, "callback_id")
    mobile = await attempt_or_back(request, callbacks.reveal_mobile(
        actor_of(request), callback_id, capture.cipher, capture.reveal_limits),
        f"/callbacks/{callback_id}")
    return await _detail_view(request, mobile=mobile)


def _call_record(form: MultiMapping[str]) -> CallRecord:
    """The script form as a call record; a malformed number counts as no answer."""
    seen = whole_number(form.get("attempts"))
    return CallRecord(
        result=form.get("result", ""), in_person=form.get("in_person", ""),
        risk_hints=form.get("risk_hints", ""), voucher_received=form.get("voucher_received", ""),
        satisfaction=whole_number(form.get("satisfaction")),
        comment=form.get("comment", ""), attempts_seen=-1 if seen is None else seen)


async def record(request: web.Request) -> web.Response:
    """Record one call against the script (K1, Q4)."""
    form = await form_of(request)
    call = _call_record(form)
    callback_id = path_id(request, "callback_id")
    done = await attempt_or_back(request, callbacks.record_call(
        actor_of(request), callback_id, call, request.app[CONFIG_KEY].calendar,
        rules=request.app[CONFIG_KEY].incidents), f"/callbacks/{callback_id}", sent(form))
    await done.fetch_related("case")
    await flash_and_redirect(request, "/callbacks",
                             _(DONE_MESSAGES[call.result]) % {"case_no": done.case.case_no})


# Report


def _range(values: MultiMapping[str], today: date) -> dict[str, Any]:
    """The report's range and grouping from a query or form; this month by organisation."""
    by = values.get("by", "org")
    return {"start": date_or(values.get("start"), today.replace(day=1)),
            "end": date_or(values.get("end"), today),
            "by": by if by in callback_reports.GROUPINGS else "org"}


async def report_page(request: web.Request) -> web.Response:
    """Callbacks due, done and overdue, reach rate, satisfaction, denials and complaints per
    organisation, agent or business type over a date range (K1)."""
    return await _report_view(request, _range(request.query, business_today(request)))


async def _report_view(request: web.Request, chosen: dict[str, Any], error: str | None = None,
                       purpose: str = "") -> web.Response:
    rows, refused = await attempt(callback_reports.callback_report(
        actor_of(request), **chosen, zone=request.app[CONFIG_KEY].calendar.zone,
        locale=current_locale()))
    context = chosen | {"rows": rows or [], "purpose": purpose, "error": error or refused,
                        "columns": callback_reports.COLUMNS}
    return await render(request, "callbacks/report.html", context | labels(),
                        status=400 if error or refused else 200)


async def export_report(request: web.Request) -> web.StreamResponse:
    """Download the report as CSV or XLSX with a stated purpose, audited (S4)."""
    form = await form_of(request)
    chosen = _range(form, business_today(request))
    purpose = form.get("purpose", "")
    exported, error = await attempt(callback_reports.export_callback_report(
        actor_of(request), **chosen, purpose=purpose, fmt=form.get("fmt", ""),
        zone=request.app[CONFIG_KEY].calendar.zone, locale=current_locale()))
    if exported is None:
        return await _report_view(request, chosen, error, purpose)
    return download(exported)
