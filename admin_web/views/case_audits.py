"""Off-site case audit in the web: the auditors' queue, the read-only case with the finding
form, a draw and its verification, the error-rate report and its export (K2, K3, S4)."""

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
from admin_web.params import choice, date_or, int_or_none, path_id
from admin_web.state import CONFIG_KEY, TIMEZONE_KEY
from admin_web.views import cases
from domain.cases import case_file
from domain.models import AuditErrorCode, CaseAuditStatus
from domain.oversight import case_audits
from domain.oversight.case_audits import ERROR_LABELS, AuditFilters, Finding
from domain.people import orgs


def labels() -> dict[str, Any]:
    """Label helpers of the audit templates, with those of the case pages."""
    return cases.labels() | {
        "audit_status_label": partial(status_text, CaseAuditStatus),
        "audit_error_label": lambda value: _(ERROR_LABELS[AuditErrorCode(value)]),
    }


def queue_filters(query: MultiMapping[str]) -> AuditFilters:
    """The queue filters of the query string; waiting audits unless a state is chosen."""
    status = choice(query.get("status", CaseAuditStatus.PENDING.value), CaseAuditStatus)
    return AuditFilters(
        week=case_audits.clean_week(query.get("week")), org_id=int_or_none(query.get("org_id")),
        status=status)


async def queue(request: web.Request) -> web.Response:
    """The drawn cases of the actor's subtree, filtered by week, org and state (K3)."""
    actor = actor_of(request)
    filters = queue_filters(request.query)
    page = await case_audits.list_case_audits(actor, filters, page_request(request.query))
    context = {
        "rows": page.rows, "paging": pager(request, page), "filters": filters,
        "statuses": list(CaseAuditStatus), "weeks": await case_audits.audit_weeks(actor),
        "orgs": await orgs.list_orgs(actor),
    }
    return await render(request, "case_audits/queue.html", context | labels())


async def _audit_view(request: web.Request, audit_id: int) -> web.Response:
    """The drawn case read-only (facts, photos, decision trail) and the finding form (K3)."""
    actor = actor_of(request)
    row = await case_audits.get_case_audit(actor, audit_id)
    detail = await case_file.case_detail(actor, row.case.id, cases.capture_of(request))
    current, _earlier = cases.arrange_photos(detail.photos)
    context = {"audit": row, "case": detail, "summary": detail.summary, "photos": current,
               "error_codes": list(AuditErrorCode), "form": {}}
    response = await render(request, "case_audits/detail.html", context | labels())
    response.headers.update(cases.NO_STORE)
    return response


async def audit_page(request: web.Request) -> web.Response:
    """One drawn case and its finding (K3)."""
    return await _audit_view(request, path_id(request, "audit_id"))


async def record(request: web.Request) -> web.Response:
    """Record OK or an error against the agent and/or the reviewer, once (K2, K3)."""
    form, audit_id = await form_of(request), path_id(request, "audit_id")
    finding = Finding(form.get("outcome", ""), form.get("error_code", ""),
                      against_agent=form.get("against_agent") == "1",
                      against_reviewer=form.get("against_reviewer") == "1",
                      note=form.get("note", ""))
    row = await attempt_or_back(request, case_audits.record_finding(
        actor_of(request), audit_id, finding, request.app[CONFIG_KEY].calendar),
        f"/case-audits/{audit_id}", sent(form))
    case = await row.case
    await flash_and_redirect(request, "/case-audits", _(
        "The audit of case %(case_no)s is recorded.") % {"case_no": case.case_no})


async def draw_page(request: web.Request) -> web.Response:
    """A draw: seed, share, population, the cases chosen and the redraw from the seed (K3)."""
    check = await case_audits.verify_draw(actor_of(request), path_id(request, "draw_id"))
    return await render(request, "case_audits/draw.html", {"check": check} | labels())


def report_period(request: web.Request, values: MultiMapping[str]) -> tuple[date, date]:
    """The report's first and last business day; this month so far by default."""
    today = business_today(request)
    return date_or(values.get("from"), today.replace(day=1)), date_or(values.get("to"), today)


async def _report_view(request: web.Request, start: date, end: date, *,
                       error: str | None = None, purpose: str = "") -> web.Response:
    rates, refusal = await attempt(case_audits.error_rates(actor_of(request), start, end,
                                                           request.app[TIMEZONE_KEY]))
    error = error or refusal
    context = {"rates": rates, "start": start.isoformat(), "end": end.isoformat(),
               "purpose": purpose, "error": error}
    return await render(request, "case_audits/report.html", context,
                        status=400 if error else 200)


async def report_page(request: web.Request) -> web.Response:
    """Audited cases, errors and error rate per org, agent and reviewer for a period (K2)."""
    return await _report_view(request, *report_period(request, request.query))


async def export_report(request: web.Request) -> web.StreamResponse:
    """Download the error-rate report as CSV or XLSX with a stated purpose, audited (S4)."""
    form = await form_of(request)
    start, end = report_period(request, form)
    purpose = form.get("purpose", "")
    exported, error = await attempt(case_audits.export_error_rates(
        actor_of(request), start, end, purpose, form.get("fmt", ""),
        zone=request.app[TIMEZONE_KEY], locale=current_locale()))
    if exported is None:
        return await _report_view(request, start, end, error=error, purpose=purpose)
    return download(exported)
