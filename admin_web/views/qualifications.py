"""Qualification ledger in the web: the list, one staff ledger and its forms (Q2–Q5, Q7)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any

from aiohttp import web
from multidict import MultiDict, MultiMapping

from admin_web.forms import Field, Form, Kind
from admin_web.i18n import gettext as _
from admin_web.i18n import status_text
from admin_web.pages import (
    actor_of,
    attempt,
    business_today,
    flash_and_redirect,
    form_of,
    refuse,
    render,
    sent,
)
from admin_web.paging import page_request, pager
from admin_web.params import (
    choice,
    int_or_none,
    optional_date,
    path_id,
    required_date,
)
from domain.cases import business_types
from domain.ledgers import idle_accounts, qualification_basis, qualifications
from domain.ledgers.qualification_basis import ExamForm, TrainingForm
from domain.ledgers.qualifications import PERMANENT_REASONS, WITHDRAWAL_REASON_LABELS
from domain.models import (
    CounterQualification,
    ExamResult,
    Qualification,
    QualificationBasis,
    QualificationEvent,
    QualificationEventKind,
    QualificationStatus,
    Role,
    TrainingRecord,
    WithdrawalReason,
)
from domain.people import orgs, staff
from domain.platform.access import Permission
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError

BASIS_LABELS: dict[QualificationBasis, str] = {
    QualificationBasis.COUNTER: N_("Counter qualification"),
    QualificationBasis.TRAINING_AND_EXAM: N_("Training and passed exam"),
}
EVENT_LABELS: dict[QualificationEventKind, str] = {
    QualificationEventKind.GRANTED: N_("Granted"),
    QualificationEventKind.SUSPENDED: N_("Suspended"),
    QualificationEventKind.REINSTATED: N_("Reinstated"),
    QualificationEventKind.REVOKED: N_("Withdrawn (may qualify again)"),
    QualificationEventKind.REVOKED_PERMANENTLY: N_("Withdrawn for good"),
    QualificationEventKind.EXPIRED: N_("Expired"),
    QualificationEventKind.EXPIRY_WARNED: N_("Holder warned of the expiry"),
}
MAX_EXPIRY_DAYS = 366
BASIS_KEYS = frozenset(basis.value for basis in QualificationBasis)
TRAINING = Form(TrainingForm, (
    Field("course"), Field("completed_on", Kind.REQUIRED_DATE, N_("Completed on")),
    Field("hours", Kind.DECIMAL, N_("Hours")), Field("trainer"),
))
EXAM = Form(ExamForm, (
    Field("exam"), Field("taken_on", Kind.REQUIRED_DATE, N_("Taken on")),
    Field("score", Kind.DECIMAL, N_("Score")), Field("pass_mark", Kind.DECIMAL, N_("Pass mark")),
))


def event_reason(event: QualificationEvent) -> str:
    """The reason of a history entry: the Q3 reason or the grant's basis named in words."""
    if event.withdrawal_reason:
        label = _(WITHDRAWAL_REASON_LABELS[WithdrawalReason(event.withdrawal_reason)])
        return f"{label}: {event.reason}" if event.reason else label
    basis, _sep, rest = event.reason.partition(": ")
    if event.kind == QualificationEventKind.GRANTED and basis in BASIS_KEYS:
        label = _(BASIS_LABELS[QualificationBasis(basis)])
        return f"{label}: {rest}" if rest else label
    return event.reason


def labels() -> dict[str, Any]:
    """Label helpers the qualification templates use."""
    return {
        "status_label": partial(status_text, QualificationStatus),
        "basis_label": lambda value: _(BASIS_LABELS[QualificationBasis(value)]),
        "withdrawal_label": lambda value: _(WITHDRAWAL_REASON_LABELS[WithdrawalReason(value)]),
        "event_label": lambda value: _(EVENT_LABELS[QualificationEventKind(value)]),
        "event_reason": event_reason,
    }


def list_filters(query: MultiMapping[str]) -> dict[str, Any]:
    """The list filters of the query string; unknown values mean any."""
    return {"status": choice(query.get("status"), QualificationStatus),
            "business_type_id": int_or_none(query.get("business_type_id")),
            "org_id": int_or_none(query.get("org_id"))}


async def qualification_list(request: web.Request) -> web.Response:
    """Qualifications of the actor's org subtree, filtered by state, business type, org and
    expiry within a number of days."""
    actor = actor_of(request)
    filters = list_filters(request.query)
    days = int_or_none(request.query.get("expiring"))
    expiring = days if days is not None and 0 < days <= MAX_EXPIRY_DAYS else None
    by = None if expiring is None else business_today(request) + timedelta(days=expiring)
    page = await qualifications.qualification_page(actor, page_request(request.query),
                                                   **filters, expiring_by=by)
    context = {
        "rows": page.rows, "paging": pager(request, page), "filters": filters,
        "statuses": list(QualificationStatus), "expiring": expiring,
        "business_types": await business_types.list_business_types(actor),
        "orgs": await orgs.list_orgs(actor),
    }
    return await render(request, "qualifications/list.html", context | labels())


async def ledger_page(request: web.Request) -> web.Response:
    """One staff member's ledger: training, exams, counter qualification, grants, history."""
    return await _ledger_view(request, path_id(request, "staff_id"))


async def _ledger_view(request: web.Request, staff_id: int) -> web.Response:
    """Render the ledger (with the refusal of a form `refuse` kept for it)."""
    actor = actor_of(request)
    ledger = await qualifications.staff_ledger(actor, staff_id)
    member = await staff.get_staff(actor, staff_id, Permission.QUALIFICATION_VIEW)
    today = business_today(request)
    context = {
        "member": member, "today": today, "form": {}, "tomorrow": today + timedelta(days=1),
        "field_agent": any(r.role == Role.FIELD_AGENT for r in member.roles),
        "training": ledger["training"], "exams": ledger["exams"],
        "counter": ledger["counter"][0] if ledger["counter"] else None,
        "qualifications": ledger["qualifications"], "events": ledger["events"],
        "grantable_types": await business_types.list_business_types(actor, active=True),
        "withdrawal_reasons": list(WithdrawalReason), "permanent_reasons": PERMANENT_REASONS,
    }
    return await render(request, "qualifications/ledger.html", context | labels())


async def _done(request: web.Request, staff_id: int, error: str | None, message: str,
                form: MultiDict[str] | None = None) -> web.Response:
    """Back to the ledger with the message, or with the refusal and the typed values (PRG)."""
    location = f"/staff/{staff_id}/qualifications"
    if error is not None:
        await refuse(request, location, error, sent(form) if form is not None else None)
    await flash_and_redirect(request, location, message)


async def _add_training(actor: Actor, staff_id: int, form: MultiDict[str]) -> TrainingRecord:
    return await qualification_basis.record_training(actor, staff_id, TRAINING.parse(form))


async def _add_exam(actor: Actor, staff_id: int, form: MultiDict[str]) -> ExamResult:
    return await qualification_basis.record_exam(actor, staff_id, EXAM.parse(form))


async def _add_counter(actor: Actor, staff_id: int, form: MultiDict[str]
                       ) -> CounterQualification:
    obtained_on = required_date(form.get("obtained_on"), N_("Obtained on"))
    return await qualification_basis.record_counter_qualification(
        actor, staff_id, form.get("certificate_no", ""), obtained_on)


async def add_training(request: web.Request) -> web.Response:
    """Record a completed training course (Q2)."""
    form, staff_id = await form_of(request), path_id(request, "staff_id")
    _row, error = await attempt(_add_training(actor_of(request), staff_id, form))
    return await _done(request, staff_id, error, _("Training record added."), form)


async def add_exam(request: web.Request) -> web.Response:
    """Record an exam result (Q2)."""
    form, staff_id = await form_of(request), path_id(request, "staff_id")
    _row, error = await attempt(_add_exam(actor_of(request), staff_id, form))
    return await _done(request, staff_id, error, _("Exam result added."), form)


async def add_counter(request: web.Request) -> web.Response:
    """Record the counter qualification (Q2)."""
    form, staff_id = await form_of(request), path_id(request, "staff_id")
    _row, error = await attempt(_add_counter(actor_of(request), staff_id, form))
    return await _done(request, staff_id, error, _("Counter qualification recorded."), form)


async def _grant(actor: Actor, staff_id: int, form: MultiDict[str]) -> list[Qualification]:
    """Grant on the chosen basis; the service names what is missing (Q2, Q3)."""
    basis = form.get("basis", "")
    if basis not in {b.value for b in QualificationBasis}:
        raise DomainError(N_("Choose the basis of the grant."))
    on_training = basis == QualificationBasis.TRAINING_AND_EXAM
    type_ids = [n for n in map(int_or_none, form.getall("business_type_ids", [])) if n]
    return await qualifications.grant(
        actor, staff_id, type_ids, QualificationBasis(basis),
        training_id=int_or_none(form.get("training_id")) if on_training else None,
        exam_id=int_or_none(form.get("exam_id")) if on_training else None,
        valid_until=optional_date(form.get("valid_until"), N_("Valid until")))


async def grant(request: web.Request) -> web.Response:
    """Grant qualifications for the ticked business types (Q2, Q3)."""
    form, staff_id = await form_of(request), path_id(request, "staff_id")
    granted, error = await attempt(_grant(actor_of(request), staff_id, form))
    count = len(granted or [])
    return await _done(request, staff_id, error,
                       _("Qualifications granted: %(count)s.") % {"count": count}, form)


async def _status_change(request: web.Request,
                         change: Callable[[Actor, int, str], Awaitable[Qualification]],
                         done: str) -> web.Response:
    """Change a qualification's status with the posted reason, back to the ledger."""
    form, staff_id = await form_of(request), path_id(request, "staff_id")
    call = change(actor_of(request), path_id(request, "qualification_id"),
                  form.get("reason", ""))
    _row, error = await attempt(call)
    return await _done(request, staff_id, error, _(done))


async def suspend(request: web.Request) -> web.Response:
    """Suspend an active qualification with a reason (Q5)."""
    return await _status_change(request, qualifications.suspend, N_("Qualification suspended."))


async def reinstate(request: web.Request) -> web.Response:
    """Reinstate a suspended qualification once the matter is rectified (Q5)."""
    return await _status_change(request, qualifications.reinstate,
                                N_("Qualification reinstated."))


async def _withdraw(actor: Actor, qualification_id: int, form: MultiDict[str]) -> Qualification:
    reason = form.get("reason", "")
    if reason not in {r.value for r in WithdrawalReason}:
        raise DomainError(N_("Choose a withdrawal reason."))
    return await qualifications.withdraw(actor, qualification_id, WithdrawalReason(reason),
                                         form.get("note", ""))


async def withdraw(request: web.Request) -> web.Response:
    """Withdraw with a Q3 reason; two reasons withdraw for good (Q3)."""
    form, staff_id = await form_of(request), path_id(request, "staff_id")
    row, error = await attempt(_withdraw(actor_of(request),
                                         path_id(request, "qualification_id"), form))
    done = _("Qualification withdrawn for good.") if row is not None and (
        row.status == QualificationStatus.REVOKED_PERMANENTLY) else _("Qualification withdrawn.")
    return await _done(request, staff_id, error, done)


async def _keep(actor: Actor, staff_id: int, form: MultiDict[str]) -> None:
    until = required_date(form.get("until"), N_("Keep until"))
    await idle_accounts.keep_idle_account(actor, staff_id, until, form.get("reason", ""))


async def keep_account(request: web.Request) -> web.Response:
    """Keep a flagged idle account active until a date (Q7)."""
    form, staff_id = await form_of(request), path_id(request, "staff_id")
    _none, error = await attempt(_keep(actor_of(request), staff_id, form))
    return await _done(request, staff_id, error, _("The account is kept active."), form)
