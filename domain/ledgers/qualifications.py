"""Qualification ledger: training, exams, grants, suspension, withdrawal, sweeps (Q1–Q5, Q7, K2).

active --suspend--> suspended --reinstate--> active
active | suspended --withdraw(reason)--> revoked (may qualify again)
                                       | revoked_permanently (Q3: repeated major incidents,
                                         malicious operation; any later grant refused)
active --expiry sweep--> expired
A grant on a revoked or expired row re-activates that row (one row per staff and business
type); every change appends a QualificationEvent with actor and reason, an audit row, and an
outbox message telling the holder. Managing needs QUALIFICATION_MANAGE (ops_admin),
reading QUALIFICATION_VIEW, both within the actor's org subtree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.ledgers.ledger_csv import (
    BAD_NUMBER,
    MISSING,
    CsvRow,
    ImportReport,
    RowWriter,
    cell,
    date_cell,
    import_csv,
    number_cell,
)
from domain.ledgers.ledger_csv import ImportRow as ImportRow  # part of this module's API
from domain.models import (
    BusinessType,
    CounterQualification,
    ExamResult,
    Incident,
    Qualification,
    QualificationBasis,
    QualificationEvent,
    QualificationEventKind,
    QualificationStatus,
    Role,
    Staff,
    StaffRole,
    TrainingRecord,
    WithdrawalReason,
)
from domain.people.orgs import get_org
from domain.platform import audit, chains, outbox
from domain.platform.access import Permission, require, require_scope, scope_prefix
from domain.platform.actors import Actor, system_actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError, NotFound

PERMANENT_REASONS = frozenset({WithdrawalReason.REPEATED_MAJOR_INCIDENTS,
                               WithdrawalReason.MALICIOUS_OPERATION})
EXPIRY_WARNING_DAYS = 7
DEFAULT_MAJOR_INCIDENT_THRESHOLD = 2
DEFAULT_MASS_LOSS_THRESHOLD = 10
# cases.py imports this module, so the reader's default language is named here too
DEFAULT_LOCALE = "zh_CN"
MAX_AMOUNT = Decimal("99999.9")

WITHDRAWAL_REASON_LABELS: dict[WithdrawalReason, str] = {
    WithdrawalReason.BUSINESS_DEPT_NOTICE: N_("Notice of the business department"),
    WithdrawalReason.REPEATED_MAJOR_INCIDENTS: N_("Repeated major incidents"),
    WithdrawalReason.MALICIOUS_OPERATION: N_("Malicious operation"),
    WithdrawalReason.TRANSFER_OR_RESIGNATION: N_("Transfer or resignation"),
    WithdrawalReason.JOINT_DECISION: N_("Joint decision"),
}

GRANTED_TO_HOLDER = N_("You are now qualified for %(business_type)s.")
GRANTED_UNTIL_TO_HOLDER = N_("You are now qualified for %(business_type)s until "
                             "%(valid_until)s.")
SUSPENDED_TO_HOLDER = N_("Your qualification for %(business_type)s is suspended: %(reason)s. "
                         "You cannot capture these cases until it is reinstated.")
REINSTATED_TO_HOLDER = N_("Your qualification for %(business_type)s is reinstated: "
                          "%(reason)s.")
WITHDRAWN_TO_HOLDER: dict[WithdrawalReason, str] = {
    WithdrawalReason.BUSINESS_DEPT_NOTICE: N_(
        "Your qualification for %(business_type)s was withdrawn on notice of the business "
        "department: %(reason)s"),
    WithdrawalReason.REPEATED_MAJOR_INCIDENTS: N_(
        "Your qualification for %(business_type)s was withdrawn for good after repeated major "
        "incidents: %(reason)s"),
    WithdrawalReason.MALICIOUS_OPERATION: N_(
        "Your qualification for %(business_type)s was withdrawn for good for malicious "
        "operation: %(reason)s"),
    WithdrawalReason.TRANSFER_OR_RESIGNATION: N_(
        "Your qualification for %(business_type)s was withdrawn because of transfer or "
        "resignation: %(reason)s"),
    WithdrawalReason.JOINT_DECISION: N_(
        "Your qualification for %(business_type)s was withdrawn by joint decision: "
        "%(reason)s"),
}
EXPIRY_WARNING_TO_HOLDER = N_("Your qualification for %(business_type)s expires after "
                              "%(valid_until)s. Ask operations management to renew it in time.")
EXPIRED_TO_HOLDER = N_("Your qualification for %(business_type)s was valid until "
                       "%(valid_until)s and has expired. You cannot capture these cases until "
                       "it is granted again.")

NOT_QUALIFIED = N_("You are not qualified for %(business_type)s. Ask operations management "
                   "for the qualification.")
GATE_SUSPENDED = N_("Your qualification for %(business_type)s is suspended: %(reason)s.")
GATE_WITHDRAWN = N_("Your qualification for %(business_type)s has been withdrawn.")
GATE_WITHDRAWN_FOR_GOOD = N_("Your qualification for %(business_type)s has been withdrawn for "
                             "good.")
GATE_EXPIRED = N_("Your qualification for %(business_type)s was valid until %(valid_until)s "
                  "and has expired.")

PERMANENT_REFUSAL: dict[WithdrawalReason, str] = {
    WithdrawalReason.REPEATED_MAJOR_INCIDENTS: N_(
        "%(staff)s lost the qualification for good after repeated major incidents; no "
        "qualification can be granted again."),
    WithdrawalReason.MALICIOUS_OPERATION: N_(
        "%(staff)s lost the qualification for good for malicious operation; no qualification "
        "can be granted again."),
}
NO_COUNTER = N_("No counter qualification is recorded for %(staff)s.")
NO_TRAINING = N_("No training record of %(staff)s is recorded.")
NO_EXAM = N_("No exam result of %(staff)s is recorded.")
EXAM_FAILED = N_("The exam %(exam)s was not passed (score %(score)s, pass mark "
                 "%(pass_mark)s).")
TRAINING_OF_OTHER = N_("This training record belongs to another staff member.")
EXAM_OF_OTHER = N_("This exam result belongs to another staff member.")
NO_SUCH_STAFF = N_("No such staff member.")
NO_SUCH_TYPE = N_("No such business type.")
NO_SUCH_QUALIFICATION = N_("No such qualification.")
NOT_AFTER_TODAY = N_("Choose a date after today.")
REASON_REQUIRED = N_("Give the reason.")

IDLE_FLAGGED_TO_STAFF = N_("Your account has not been used for %(days)s days. Unless you "
                           "operate again or an administrator keeps it, it will be disabled in "
                           "%(grace)s days.")
IDLE_DISABLED_TO_STAFF = N_("Your account was disabled because it was not used for %(days)s "
                            "days. Contact your administrator to enable it again.")
IDLE_KEPT_TO_STAFF = N_("An administrator keeps your account active until %(until)s.")
RETRAINING_TO_STAFF = N_("You have had %(count)s major incidents. You are flagged for "
                         "retraining, and operations management will review your "
                         "qualification.")
PROPOSAL_TO_OPERATIONS = N_("%(staff)s has had %(count)s major incidents and is flagged for "
                            "retraining. Review the withdrawal of the qualification.")


@dataclass(frozen=True)
class TrainingForm:
    """A training record as entered or imported (course, date, hours, trainer)."""

    course: str
    completed_on: date
    hours: Decimal
    trainer: str


@dataclass(frozen=True)
class ExamForm:
    """An exam result as entered or imported (exam, score, pass mark, date)."""

    exam: str
    taken_on: date
    score: Decimal
    pass_mark: Decimal


@dataclass(frozen=True)
class SweepReport:
    """What a daily sweep changed."""

    warned: int
    changed: int


@dataclass(frozen=True)
class _Change:
    """One transition of the state machine: from where, to what, and what the holder reads."""

    sources: tuple[QualificationStatus, ...]
    status: QualificationStatus
    kind: QualificationEventKind
    refusal: str
    template: str


SUSPEND = _Change((QualificationStatus.ACTIVE,), QualificationStatus.SUSPENDED,
                  QualificationEventKind.SUSPENDED,
                  N_("Only an active qualification can be suspended."), SUSPENDED_TO_HOLDER)
REINSTATE = _Change((QualificationStatus.SUSPENDED,), QualificationStatus.ACTIVE,
                    QualificationEventKind.REINSTATED,
                    N_("Only a suspended qualification can be reinstated."),
                    REINSTATED_TO_HOLDER)
EXPIRE = _Change((QualificationStatus.ACTIVE, QualificationStatus.SUSPENDED),
                 QualificationStatus.EXPIRED, QualificationEventKind.EXPIRED, "",
                 EXPIRED_TO_HOLDER)
WITHDRAWABLE = (QualificationStatus.ACTIVE, QualificationStatus.SUSPENDED)
NOT_WITHDRAWABLE = N_("Only an active or suspended qualification can be withdrawn.")


def _withdrawal(reason: WithdrawalReason) -> _Change:
    """The withdrawal transition for a Q3 reason, for good or not (Q3)."""
    permanent = reason in PERMANENT_REASONS
    status = (QualificationStatus.REVOKED_PERMANENTLY if permanent
              else QualificationStatus.REVOKED)
    kind = (QualificationEventKind.REVOKED_PERMANENTLY if permanent
            else QualificationEventKind.REVOKED)
    return _Change(WITHDRAWABLE, status, kind, NOT_WITHDRAWABLE, WITHDRAWN_TO_HOLDER[reason])


# --- small helpers ---------------------------------------------------------------------


def _today(moment: datetime | None = None) -> date:
    """The business day of a moment (now by default): the one calendar of the ledger (Q1)."""
    return business_date(moment or utcnow(), DEFAULT_ZONE)


def _locale_of(staff: Staff) -> str:
    return staff.locale or DEFAULT_LOCALE


def _label(staff: Staff) -> str:
    return f"{staff.employee_no} {staff.name}"


def _reason(text: str) -> str:
    clean = text.strip()
    if not clean:
        raise DomainError(REASON_REQUIRED)
    return clean


async def _staff_in_scope(actor: Actor, staff_id: int) -> Staff:
    """A staff member inside the actor's subtree, with the org loaded."""
    staff = await Staff.get_or_none(id=staff_id).prefetch_related("org")
    if staff is None:
        raise NotFound(NO_SUCH_STAFF)
    require_scope(actor, staff.org)
    return staff


def _check_text(value: str, name: str, max_length: int) -> str:
    clean = value.strip()
    if not clean:
        raise DomainError(MISSING, column=name)
    if len(clean) > max_length:
        raise DomainError(N_("%(column)s is longer than %(max)s characters."), column=name,
                          max=max_length)
    return clean


def _check_past(value: date, name: str, today: date) -> date:
    if value > today:
        raise DomainError(N_("%(column)s: %(value)s lies in the future."), column=name,
                          value=value.isoformat())
    return value


def _check_amount(value: Decimal, name: str, *, positive: bool) -> Decimal:
    """A non-negative (or positive) figure with at most one decimal place, as stored."""
    exponent = value.as_tuple().exponent
    fits = (value.is_finite() and isinstance(exponent, int) and exponent >= -1
            and value <= MAX_AMOUNT and (value > 0 if positive else value >= 0))
    if not fits:
        raise DomainError(BAD_NUMBER, column=name, value=str(value))
    return value


def _clean_training(form: TrainingForm, today: date) -> TrainingForm:
    return TrainingForm(course=_check_text(form.course, "course", 200),
                        completed_on=_check_past(form.completed_on, "completed_on", today),
                        hours=_check_amount(form.hours, "hours", positive=True),
                        trainer=_check_text(form.trainer, "trainer", 100))


def _clean_exam(form: ExamForm, today: date) -> ExamForm:
    return ExamForm(exam=_check_text(form.exam, "exam", 200),
                    taken_on=_check_past(form.taken_on, "taken_on", today),
                    score=_check_amount(form.score, "score", positive=False),
                    pass_mark=_check_amount(form.pass_mark, "pass_mark", positive=True))


# --- training, exams, counter qualification -----------------------------------------------


async def _write_training(actor: Actor, staff: Staff, form: TrainingForm) -> TrainingRecord:
    row = await TrainingRecord.create(staff=staff, course=form.course,
                                      completed_on=form.completed_on, hours=form.hours,
                                      trainer=form.trainer, recorded_at=utcnow())
    await audit.record(actor, "training.recorded", "training_record", row.id,
                       org_id=staff.org_id,  # type: ignore[attr-defined]
                       detail={"staff_id": staff.id, "course": form.course,
                               "completed_on": form.completed_on.isoformat(),
                               "hours": str(form.hours)})
    return row


async def _write_exam(actor: Actor, staff: Staff, form: ExamForm) -> ExamResult:
    row = await ExamResult.create(staff=staff, exam=form.exam, taken_on=form.taken_on,
                                  score=form.score, pass_mark=form.pass_mark,
                                  recorded_at=utcnow())
    await audit.record(actor, "exam.recorded", "exam_result", row.id,
                       org_id=staff.org_id,  # type: ignore[attr-defined]
                       detail={"staff_id": staff.id, "exam": form.exam,
                               "taken_on": form.taken_on.isoformat(),
                               "score": str(form.score), "pass_mark": str(form.pass_mark)})
    return row


async def record_training(actor: Actor, staff_id: int, form: TrainingForm) -> TrainingRecord:
    """Record a completed training course of a staff member in scope (Q2)."""
    require(actor, Permission.QUALIFICATION_MANAGE)
    clean = _clean_training(form, _today())
    async with in_transaction():
        staff = await _staff_in_scope(actor, staff_id)
        return await _write_training(actor, staff, clean)


async def record_exam(actor: Actor, staff_id: int, form: ExamForm) -> ExamResult:
    """Record an exam result of a staff member in scope (Q2)."""
    require(actor, Permission.QUALIFICATION_MANAGE)
    clean = _clean_exam(form, _today())
    async with in_transaction():
        staff = await _staff_in_scope(actor, staff_id)
        return await _write_exam(actor, staff, clean)


async def record_counter_qualification(actor: Actor, staff_id: int, certificate_no: str,
                                       obtained_on: date) -> CounterQualification:
    """Record that a staff member holds the counter qualification (Q2)."""
    require(actor, Permission.QUALIFICATION_MANAGE)
    number = _check_text(certificate_no, "certificate_no", 64)
    _check_past(obtained_on, "obtained_on", _today())
    async with in_transaction():
        staff = await _staff_in_scope(actor, staff_id)
        if await CounterQualification.exists(staff_id=staff.id):
            raise DomainError(N_("A counter qualification of %(staff)s is already recorded."),
                              staff=_label(staff))
        row = await CounterQualification.create(staff=staff, certificate_no=number,
                                                obtained_on=obtained_on, recorded_at=utcnow())
        await audit.record(actor, "counter_qualification.recorded", "counter_qualification",
                           row.id, org_id=staff.org_id,  # type: ignore[attr-defined]
                           detail={"staff_id": staff.id, "certificate_no": number,
                                   "obtained_on": obtained_on.isoformat()})
    return row


# --- the state machine ------------------------------------------------------------------


async def _record_change(actor: Actor, qualification: Qualification, staff: Staff,
                         kind: QualificationEventKind, reason: str, moment: datetime,
                         template: str, *, withdrawal: WithdrawalReason | None = None) -> None:
    """Append the event and the audit row of one change and tell the holder (Q1–Q5)."""
    business_type = await BusinessType.get(
        id=qualification.business_type_id)  # type: ignore[attr-defined]
    event = await QualificationEvent.create(
        qualification=qualification, kind=kind, actor_id=actor.staff_id,
        actor_label=actor.label, reason=reason, withdrawal_reason=withdrawal, at=moment)
    valid_until = qualification.valid_until.isoformat() if qualification.valid_until else ""
    await audit.record(actor, f"qualification.{kind.value}", "qualification", qualification.id,
                       org_id=staff.org_id,  # type: ignore[attr-defined]
                       detail={"staff_id": staff.id, "business_type": business_type.code,
                               "status": qualification.status.value, "reason": reason,
                               "withdrawal_reason": withdrawal.value if withdrawal else None,
                               "valid_until": valid_until or None})
    await outbox.enqueue(
        staff.id, template,
        {"business_type": business_type.name_in(_locale_of(staff)), "reason": reason,
         "valid_until": valid_until},
        idempotency_key=f"qualification:{qualification.id}:event:{event.id}",
    )


async def _move(qualification: Qualification, change: _Change, reason: str) -> bool:
    """Change the status only if it is still one the transition starts from."""
    moved = await Qualification.filter(
        id=qualification.id, status__in=list(change.sources)
    ).update(status=change.status, status_reason=reason)
    if moved:
        qualification.status, qualification.status_reason = change.status, reason
    return bool(moved)


async def _transition(actor: Actor, qualification_id: int, change: _Change, reason: str,
                      now: datetime | None, withdrawal: WithdrawalReason | None = None
                      ) -> Qualification:
    """Apply one admin transition to a qualification in scope, or say why not."""
    require(actor, Permission.QUALIFICATION_MANAGE)
    text = _reason(reason)
    async with in_transaction():
        qualification = await Qualification.filter(
            id=qualification_id).select_for_update().first()
        if qualification is None:
            raise NotFound(NO_SUCH_QUALIFICATION)
        staff = await _staff_in_scope(actor, qualification.staff_id)  # type: ignore[attr-defined]
        if not await _move(qualification, change, text):
            raise DomainError(change.refusal)
        await _record_change(actor, qualification, staff, change.kind, text, now or utcnow(),
                             change.template, withdrawal=withdrawal)
    return qualification


async def suspend(actor: Actor, qualification_id: int, reason: str,
                  now: datetime | None = None) -> Qualification:
    """Suspend an active qualification with a reason (Q5)."""
    return await _transition(actor, qualification_id, SUSPEND, reason, now)


async def reinstate(actor: Actor, qualification_id: int, reason: str,
                    now: datetime | None = None) -> Qualification:
    """Reinstate a suspended qualification once the matter is rectified (Q5)."""
    return await _transition(actor, qualification_id, REINSTATE, reason, now)


async def withdraw(actor: Actor, qualification_id: int, reason: WithdrawalReason, note: str,
                   now: datetime | None = None) -> Qualification:
    """Withdraw with a Q3 reason; repeated major incidents and malicious operation are for
    good (Q3)."""
    why = WithdrawalReason(reason)
    return await _transition(actor, qualification_id, _withdrawal(why), note, now, why)


async def suspend_all_for_staff(actor: Actor, staff_id: int, reason: str,
                                now: datetime | None = None) -> int:
    """Suspend every active qualification of a staff member, e.g. after a voucher loss
    through lax management (Q5); returns how many were suspended."""
    require(actor, Permission.QUALIFICATION_MANAGE)
    text = _reason(reason)
    moment = now or utcnow()
    suspended = 0
    async with in_transaction():
        staff = await _staff_in_scope(actor, staff_id)
        for qualification in await Qualification.filter(
                staff_id=staff.id, status=QualificationStatus.ACTIVE).select_for_update():
            if await _move(qualification, SUSPEND, text):
                await _record_change(actor, qualification, staff, SUSPEND.kind, text, moment,
                                     SUSPEND.template)
                suspended += 1
    return suspended


# --- grants -----------------------------------------------------------------------------


async def _grantee(actor: Actor, staff_id: int) -> Staff:
    """An active field agent in scope who has not lost his qualification for good (Q3)."""
    staff = await _staff_in_scope(actor, staff_id)
    if not staff.active:
        raise DomainError(N_("%(staff)s is deactivated and cannot be granted a qualification."),
                          staff=_label(staff))
    if not await StaffRole.exists(staff_id=staff.id, role=Role.FIELD_AGENT):
        raise DomainError(N_("Only field agents can be granted a qualification."))
    withdrawn = await QualificationEvent.filter(
        qualification__staff_id=staff.id, kind=QualificationEventKind.REVOKED_PERMANENTLY
    ).order_by("-id").first()
    if withdrawn is not None:
        reason = withdrawn.withdrawal_reason or WithdrawalReason.MALICIOUS_OPERATION
        raise DomainError(PERMANENT_REFUSAL[reason], staff=_label(staff))
    return staff


async def _training_basis(staff: Staff, training_id: int | None) -> TrainingRecord:
    """The given training record of the staff member, or his latest one (Q2)."""
    if training_id is None:
        latest = await TrainingRecord.filter(staff_id=staff.id).first()
        if latest is None:
            raise DomainError(NO_TRAINING, staff=_label(staff))
        return latest
    training = await TrainingRecord.get_or_none(id=training_id)
    if training is None:
        raise DomainError(NO_TRAINING, staff=_label(staff))
    if training.staff_id != staff.id:  # type: ignore[attr-defined]
        raise DomainError(TRAINING_OF_OTHER)
    return training


async def _exam_basis(staff: Staff, exam_id: int | None) -> ExamResult:
    """The given passed exam of the staff member, or his latest passed one (Q2)."""
    if exam_id is None:
        exams = await ExamResult.filter(staff_id=staff.id)
        if not exams:
            raise DomainError(NO_EXAM, staff=_label(staff))
        exam = next((row for row in exams if row.passed), exams[0])
    else:
        found = await ExamResult.get_or_none(id=exam_id)
        if found is None:
            raise DomainError(NO_EXAM, staff=_label(staff))
        if found.staff_id != staff.id:  # type: ignore[attr-defined]
            raise DomainError(EXAM_OF_OTHER)
        exam = found
    if not exam.passed:
        raise DomainError(EXAM_FAILED, exam=exam.exam, score=str(exam.score),
                          pass_mark=str(exam.pass_mark))
    return exam


async def _basis(staff: Staff, basis: QualificationBasis, training_id: int | None,
                 exam_id: int | None) -> tuple[TrainingRecord | None, ExamResult | None]:
    """What the grant rests on, or the refusal naming what is missing (Q2)."""
    if basis == QualificationBasis.COUNTER:
        if not await CounterQualification.exists(staff_id=staff.id):
            raise DomainError(NO_COUNTER, staff=_label(staff))
        return None, None
    return await _training_basis(staff, training_id), await _exam_basis(staff, exam_id)


async def _grant_one(actor: Actor, staff: Staff, business_type: BusinessType,
                     basis: QualificationBasis, training: TrainingRecord | None,
                     exam: ExamResult | None, valid_until: date | None,
                     moment: datetime) -> Qualification:
    """Create the qualification, or re-activate a revoked or expired one (Q2)."""
    row = await Qualification.filter(staff_id=staff.id,
                                     business_type_id=business_type.id).select_for_update().first()
    held = {"staff": _label(staff), "business_type": business_type.name_zh}
    if row is not None and row.status == QualificationStatus.ACTIVE:
        raise DomainError(N_("%(staff)s already holds an active qualification for "
                             "%(business_type)s."), **held)
    if row is not None and row.status == QualificationStatus.SUSPENDED:
        raise DomainError(N_("The qualification of %(staff)s for %(business_type)s is "
                             "suspended; reinstate it instead of granting it again."), **held)
    row = row or Qualification(staff=staff, business_type=business_type)
    row.status, row.basis, row.training, row.exam = (QualificationStatus.ACTIVE, basis,
                                                     training, exam)
    row.granted_at, row.valid_until, row.status_reason = moment, valid_until, ""
    row.expiry_warned_at = None
    await row.save()
    reason = (basis.value if training is None or exam is None
              else f"{basis.value}: {training.course} / {exam.exam}")
    template = GRANTED_UNTIL_TO_HOLDER if valid_until else GRANTED_TO_HOLDER
    await _record_change(actor, row, staff, QualificationEventKind.GRANTED, reason, moment,
                         template)
    return row


async def grant(actor: Actor, staff_id: int, business_type_ids: list[int],
                basis: QualificationBasis, *, training_id: int | None = None,
                exam_id: int | None = None, valid_until: date | None = None,
                now: datetime | None = None) -> list[Qualification]:
    """Grant for one or more business types on a counter qualification or training plus a
    passed exam; refuse without the basis, naming what is missing, and after a permanent
    withdrawal (Q2, Q3)."""
    require(actor, Permission.QUALIFICATION_MANAGE)
    moment = now or utcnow()
    wanted = list(dict.fromkeys(business_type_ids))
    if not wanted:
        raise DomainError(N_("Choose at least one business type."))
    if valid_until is not None and valid_until <= _today(moment):
        raise DomainError(NOT_AFTER_TODAY)
    async with in_transaction():
        staff = await _grantee(actor, staff_id)
        training, exam = await _basis(staff, QualificationBasis(basis), training_id, exam_id)
        types = await BusinessType.filter(id__in=wanted).order_by("code")
        if len(types) != len(wanted):
            raise NotFound(NO_SUCH_TYPE)
        return [await _grant_one(actor, staff, business_type, QualificationBasis(basis),
                                 training, exam, valid_until, moment)
                for business_type in types]


# --- the capture gate and reads ---------------------------------------------------------


def business_date(moment: datetime, zone: ZoneInfo) -> date:
    """The business day a moment falls on in the business time zone (Q1)."""
    return moment.astimezone(zone).date()


def holds(row: Qualification, moment: datetime, zone: ZoneInfo) -> bool:
    """The one Q1 rule: active, and valid through the business date of the moment (Q1)."""
    return row.status == QualificationStatus.ACTIVE and (
        row.valid_until is None or row.valid_until >= business_date(moment, zone))


async def is_qualified(staff_id: int, moment: datetime, zone: ZoneInfo, *,
                       business_type_id: int | None = None) -> bool:
    """True when the staff member holds a qualification under the Q1 rule, for the business
    type when one is given, else for any: used by device issue, allocation, hand-over (Q1)."""
    query = Qualification.filter(staff_id=staff_id, status=QualificationStatus.ACTIVE)
    if business_type_id is not None:
        query = query.filter(business_type_id=business_type_id)
    return any(holds(row, moment, zone) for row in await query)


async def require_active(staff_id: int, business_type_id: int, now: datetime,
                         zone: ZoneInfo) -> None:
    """Refuse capture without a qualification for the type under the Q1 rule, with the
    reason (not qualified, suspended, withdrawn, expired) (Q1)."""
    staff = await Staff.get_or_none(id=staff_id)
    if staff is None:
        raise NotFound(NO_SUCH_STAFF)
    business_type = await BusinessType.get_or_none(id=business_type_id)
    if business_type is None:
        raise NotFound(NO_SUCH_TYPE)
    name = business_type.name_in(_locale_of(staff))
    row = await Qualification.get_or_none(staff_id=staff_id, business_type_id=business_type_id)
    if row is None:
        raise DomainError(NOT_QUALIFIED, business_type=name)
    if holds(row, now, zone):
        return
    if row.status == QualificationStatus.SUSPENDED:
        raise DomainError(GATE_SUSPENDED, business_type=name, reason=row.status_reason)
    if row.status == QualificationStatus.REVOKED:
        raise DomainError(GATE_WITHDRAWN, business_type=name)
    if row.status == QualificationStatus.REVOKED_PERMANENTLY:
        raise DomainError(GATE_WITHDRAWN_FOR_GOOD, business_type=name)
    raise DomainError(GATE_EXPIRED, business_type=name,
                      valid_until=row.valid_until.isoformat() if row.valid_until else "")


async def staff_ledger(actor: Actor, staff_id: int) -> dict[str, list]:
    """Training, exams, counter qualification, qualifications and their events of one staff
    member in scope, for the admin page (keys: training, exams, counter, qualifications,
    events)."""
    require(actor, Permission.QUALIFICATION_VIEW)
    staff = await _staff_in_scope(actor, staff_id)
    return {
        "training": await TrainingRecord.filter(staff_id=staff.id),
        "exams": await ExamResult.filter(staff_id=staff.id),
        "counter": await CounterQualification.filter(staff_id=staff.id),
        "qualifications": await Qualification.filter(staff_id=staff.id).prefetch_related(
            "business_type"),
        "events": await QualificationEvent.filter(
            qualification__staff_id=staff.id).prefetch_related(
            "qualification__business_type").order_by("-id"),
    }


async def list_qualifications(actor: Actor, *, status: str | None = None,
                              business_type_id: int | None = None,
                              org_id: int | None = None, expiring_by: date | None = None
                              ) -> list[Qualification]:
    """Qualifications of the actor's org subtree with staff and business type prefetched,
    only those valid until `expiring_by` at the latest when it is given."""
    require(actor, Permission.QUALIFICATION_VIEW)
    prefix = scope_prefix(actor)
    query = Qualification.filter(staff__org__path__startswith=prefix)
    if org_id is not None:
        query = query.filter(staff__org__path__startswith=(await get_org(actor, org_id)).path)
    if status:
        query = query.filter(status=QualificationStatus(status))
    if business_type_id is not None:
        query = query.filter(business_type_id=business_type_id)
    if expiring_by is not None:
        query = query.filter(valid_until__lte=expiring_by)
    return await query.prefetch_related("staff__org", "business_type").order_by(
        "staff__employee_no", "business_type__code")


async def withdrawal_proposals(actor: Actor) -> list[Staff]:
    """Staff in scope flagged after repeated major incidents who still hold an active or
    suspended qualification: withdrawal proposals for the dashboard (Q3, K2)."""
    require(actor, Permission.QUALIFICATION_VIEW)
    return await Staff.filter(
        retraining_flagged_at__isnull=False, org__path__startswith=scope_prefix(actor),
        qualifications__status__in=list(WITHDRAWABLE),
    ).distinct().prefetch_related("org").order_by("retraining_flagged_at", "id")


async def retraining_flagged(actor: Actor) -> list[Staff]:
    """Everyone in scope flagged for retraining and closer monitoring, by major incidents or
    by off-site audit errors, whatever his roles (K2)."""
    require(actor, Permission.QUALIFICATION_VIEW)
    return await Staff.filter(
        retraining_flagged_at__isnull=False, org__path__startswith=scope_prefix(actor),
    ).prefetch_related("org").order_by("retraining_flagged_at", "id")


# --- CSV imports ------------------------------------------------------------------------

TRAINING_COLUMNS = ("employee_no", "course", "completed_on", "hours", "trainer")
EXAM_COLUMNS = ("employee_no", "exam", "taken_on", "score", "pass_mark")
ALREADY_RECORDED = N_("This record is already in the ledger.")
StaffRowWriter = Callable[[Staff, CsvRow], Awaitable[None]]


def _staff_writer(actor: Actor, write: StaffRowWriter
                  ) -> Callable[[list[CsvRow]], Awaitable[RowWriter]]:
    """Load the staff the rows name once; each row then goes to a known member in scope."""

    async def prepare(rows: list[CsvRow]) -> RowWriter:
        numbers = {row.values.get("employee_no", "") for row in rows}
        staff_by_no = {staff.employee_no: staff for staff in
                       await Staff.filter(employee_no__in=numbers).prefetch_related("org")}

        async def write_row(row: CsvRow) -> None:
            number = cell(row, "employee_no")
            staff = staff_by_no.get(number)
            if staff is None:
                raise DomainError(N_("Unknown employee number %(employee_no)s."),
                                  employee_no=number)
            if not staff.org.path.startswith(scope_prefix(actor)):
                raise DomainError(N_("Employee %(employee_no)s belongs to an organisation "
                                     "outside your scope."), employee_no=number)
            await write(staff, row)

        return write_row

    return prepare


async def import_training_csv(actor: Actor, text: str, *, all_or_nothing: bool,
                              progress: object | None = None,
                              today: date | None = None) -> ImportReport:
    """Import training records from CSV (employee_no,course,completed_on,hours,trainer) with
    a row-by-row error report; `progress(done, total, label)` is called per row (Q2)."""
    require(actor, Permission.QUALIFICATION_MANAGE)
    day = today or _today()

    async def write(staff: Staff, row: CsvRow) -> None:
        form = _clean_training(TrainingForm(
            cell(row, "course"), date_cell(row, "completed_on"), number_cell(row, "hours"),
            cell(row, "trainer")), day)
        if await TrainingRecord.exists(staff_id=staff.id, course=form.course,
                                       completed_on=form.completed_on):
            raise DomainError(ALREADY_RECORDED)
        await _write_training(actor, staff, form)

    return await import_csv(text, TRAINING_COLUMNS, TRAINING_COLUMNS[:3],
                            _staff_writer(actor, write), all_or_nothing=all_or_nothing,
                            progress=progress)


async def import_exams_csv(actor: Actor, text: str, *, all_or_nothing: bool,
                           progress: object | None = None,
                           today: date | None = None) -> ImportReport:
    """Import exam results from CSV (employee_no,exam,taken_on,score,pass_mark) with a
    row-by-row error report (Q2)."""
    require(actor, Permission.QUALIFICATION_MANAGE)
    day = today or _today()

    async def write(staff: Staff, row: CsvRow) -> None:
        form = _clean_exam(ExamForm(
            cell(row, "exam"), date_cell(row, "taken_on"), number_cell(row, "score"),
            number_cell(row, "pass_mark")), day)
        if await ExamResult.exists(staff_id=staff.id, exam=form.exam, taken_on=form.taken_on):
            raise DomainError(ALREADY_RECORDED)
        await _write_exam(actor, staff, form)

    return await import_csv(text, EXAM_COLUMNS, EXAM_COLUMNS[:3], _staff_writer(actor, write),
                            all_or_nothing=all_or_nothing, progress=progress)


# --- sweeps -----------------------------------------------------------------------------


async def _warn_expiry(actor: Actor, qualification: Qualification, moment: datetime) -> bool:
    """Tell the holder once that the qualification expires within the warning days (Q1)."""
    async with in_transaction():
        warned = await Qualification.filter(
            id=qualification.id, status=QualificationStatus.ACTIVE, expiry_warned_at=None
        ).update(expiry_warned_at=moment)
        if warned:
            staff = await Staff.get(id=qualification.staff_id)  # type: ignore[attr-defined]
            await _record_change(actor, qualification, staff,
                                 QualificationEventKind.EXPIRY_WARNED, "", moment,
                                 EXPIRY_WARNING_TO_HOLDER)
    return bool(warned)


async def _expire(actor: Actor, qualification: Qualification, moment: datetime) -> bool:
    """Expire a lapsed qualification once and tell the holder (Q1)."""
    async with in_transaction():
        moved = await _move(qualification, EXPIRE, "")
        if moved:
            staff = await Staff.get(id=qualification.staff_id)  # type: ignore[attr-defined]
            await _record_change(actor, qualification, staff, EXPIRE.kind, "", moment,
                                 EXPIRE.template)
    return moved


async def sweep_expiry(today: date, *, now: datetime | None = None) -> SweepReport:
    """Warn holders 7 days before expiry and expire lapsed qualifications, once each (Q1)."""
    actor = system_actor("qualification_expiry")
    moment = now or utcnow()
    due = await Qualification.filter(
        status=QualificationStatus.ACTIVE, expiry_warned_at=None, valid_until__gte=today,
        valid_until__lte=today + timedelta(days=EXPIRY_WARNING_DAYS))
    warned = [await _warn_expiry(actor, row, moment) for row in due]
    lapsed = await Qualification.filter(status__in=list(EXPIRE.sources),
                                        valid_until__lt=today)
    expired = [await _expire(actor, row, moment) for row in lapsed]
    return SweepReport(warned=sum(warned), changed=sum(expired))


# --- major incidents and retraining -----------------------------------------------------


@dataclass(frozen=True)
class IncidentRules:
    """The configured counts of Q4 and K2, built from the settings in `fieldops.wiring`:
    major incidents of one person that flag retraining and propose withdrawal
    (FIELDOPS_MAJOR_INCIDENT_THRESHOLD), and vouchers lost in one report beyond which the
    loss is a mass loss, a major incident (FIELDOPS_MASS_LOSS_THRESHOLD)."""

    major_incident_threshold: int = DEFAULT_MAJOR_INCIDENT_THRESHOLD
    mass_loss_threshold: int = DEFAULT_MASS_LOSS_THRESHOLD


DEFAULT_INCIDENT_RULES = IncidentRules()


@dataclass(frozen=True)
class RetrainingCause:
    """What counts toward retraining (K2): the source (major incidents, off-site audits), the
    count and threshold, and what the person and operations management read."""

    source: str
    count: int
    threshold: int
    to_staff: str
    to_operations: str


async def flag_retraining(staff_id: int, now: datetime, cause: RetrainingCause) -> bool:
    """Flag retraining and closer monitoring once the cause reaches its threshold, audited,
    and tell the person and operations management of his org chain (K2)."""
    if cause.count < cause.threshold:
        return False
    async with in_transaction():
        if not await Staff.filter(id=staff_id, retraining_flagged_at=None).update(
                retraining_flagged_at=now):
            return False
        staff = await Staff.get(id=staff_id)
        await audit.record(system_actor(cause.source), "staff.retraining_flagged", "staff",
                           staff.id, org_id=staff.org_id,  # type: ignore[attr-defined]
                           detail={cause.source: cause.count, "threshold": cause.threshold})
        key = f"staff:{staff.id}:retraining:{now.isoformat()}"
        await outbox.enqueue(staff.id, cause.to_staff, {"count": cause.count},
                             idempotency_key=key)
        for admin in await chains.staff_in_chain(await staff.org, Role.OPS_ADMIN):
            await outbox.enqueue(admin.id, cause.to_operations,
                                 {"staff": _label(staff), "count": cause.count},
                                 idempotency_key=f"{key}:proposal:{admin.id}")
    return True


async def _flag_retraining(staff_id: int, now: datetime, threshold: int) -> bool:
    """Flag retraining once at the threshold of major incidents and tell those concerned."""
    count = await Incident.filter(staff_id=staff_id, major=True).count()
    return await flag_retraining(staff_id, now, RetrainingCause(
        "major_incidents", count, threshold, RETRAINING_TO_STAFF, PROPOSAL_TO_OPERATIONS))


async def major_incident_recorded(staff_id: int, now: datetime, rules: IncidentRules) -> None:
    """Count a major incident (Q4); at the configured count propose withdrawal to ops_admin
    on the dashboard and flag retraining (K2). Called inside the incident's transaction."""
    await _flag_retraining(staff_id, now, rules.major_incident_threshold)


async def sweep_major_incidents(now: datetime, threshold: int) -> SweepReport:
    """Flag retraining for every staff member at the configured count of major incidents
    not flagged yet, e.g. after the threshold setting was lowered (Q4, K2)."""
    staff_ids = await Incident.filter(
        major=True, staff_id__isnull=False, staff__retraining_flagged_at__isnull=True,
    ).values_list("staff_id", flat=True)
    flagged = [await _flag_retraining(staff_id, now, threshold)
               for staff_id in sorted(set(staff_ids))]
    return SweepReport(warned=0, changed=sum(flagged))


# --- idle accounts ----------------------------------------------------------------------


async def touch_activity(staff_id: int, now: datetime) -> None:
    """Note that a staff member operated now, which ends any idle flag (Q7)."""
    await Staff.filter(id=staff_id).update(last_active_at=now, idle_flagged_at=None)


def _idle_agents(now: datetime, idle_days: int) -> Any:
    """Active field agents with no operation for `idle_days` and not kept (Q7)."""
    cutoff = now - timedelta(days=idle_days)
    return Staff.filter(
        Q(last_active_at__lte=cutoff) | Q(last_active_at__isnull=True, created_at__lte=cutoff),
        Q(idle_kept_until__isnull=True) | Q(idle_kept_until__lt=_today(now)),
        active=True, roles__role=Role.FIELD_AGENT,
    ).distinct()


async def _flag_idle(staff: Staff, now: datetime, idle_days: int, grace_days: int) -> bool:
    """Flag an idle account once, audited, and tell its holder (Q7)."""
    async with in_transaction():
        if not await Staff.filter(id=staff.id, idle_flagged_at=None, active=True).update(
                idle_flagged_at=now):
            return False
        last = staff.last_active_at or staff.created_at
        await audit.record(system_actor("idle_accounts"), "staff.idle_flagged", "staff",
                           staff.id, org_id=staff.org_id,  # type: ignore[attr-defined]
                           detail={"last_active_at": last.isoformat(), "idle_days": idle_days})
        await outbox.enqueue(staff.id, IDLE_FLAGGED_TO_STAFF,
                             {"days": idle_days, "grace": grace_days},
                             idempotency_key=f"staff:{staff.id}:idle_flagged:{now.isoformat()}")
    return True


async def _disable_idle(staff: Staff, now: datetime, idle_days: int) -> bool:
    """Disable a flagged idle account once, audited, and tell its holder (Q7)."""
    flagged_at = staff.idle_flagged_at
    assert flagged_at is not None
    async with in_transaction():
        if not await Staff.filter(id=staff.id, idle_flagged_at=flagged_at, active=True).update(
                active=False, idle_flagged_at=None):
            return False
        await audit.record(system_actor("idle_accounts"), "staff.idle_disabled", "staff",
                           staff.id, org_id=staff.org_id,  # type: ignore[attr-defined]
                           detail={"flagged_at": flagged_at.isoformat(),
                                   "idle_days": idle_days})
        await outbox.enqueue(
            staff.id, IDLE_DISABLED_TO_STAFF, {"days": idle_days},
            idempotency_key=f"staff:{staff.id}:idle_disabled:{flagged_at.isoformat()}")
    return True


async def sweep_idle_accounts(now: datetime, idle_days: int, grace_days: int) -> SweepReport:
    """Flag staff with no operation for `idle_days`, disable them `grace_days` later unless
    an admin keeps them; audited and told in chat (Q7)."""
    flagged = disabled = 0
    grace_end = now - timedelta(days=grace_days)
    for staff in await _idle_agents(now, idle_days):
        if staff.idle_flagged_at is None:
            flagged += await _flag_idle(staff, now, idle_days, grace_days)
        elif staff.idle_flagged_at <= grace_end:
            disabled += await _disable_idle(staff, now, idle_days)
    return SweepReport(warned=flagged, changed=disabled)


async def idle_accounts_to_keep(actor: Actor, today: date) -> list[Staff]:
    """Active staff in scope flagged idle and not kept active by an admin: the accounts
    waiting for a decision (Q7)."""
    require(actor, Permission.IDLE_ACCOUNT_KEEP)
    return await Staff.filter(
        Q(idle_kept_until__isnull=True) | Q(idle_kept_until__lt=today),
        active=True, idle_flagged_at__isnull=False, org__path__startswith=scope_prefix(actor),
    ).prefetch_related("org").order_by("idle_flagged_at", "id")


async def keep_idle_account(actor: Actor, staff_id: int, until: date, reason: str) -> None:
    """An admin keeps a flagged idle account active until a date (Q7)."""
    require(actor, Permission.IDLE_ACCOUNT_KEEP)
    text = _reason(reason)
    if until <= _today():
        raise DomainError(NOT_AFTER_TODAY)
    async with in_transaction():
        staff = await _staff_in_scope(actor, staff_id)
        if not staff.active:
            raise DomainError(N_("This account is deactivated."))
        await Staff.filter(id=staff.id).update(idle_kept_until=until, idle_flagged_at=None)
        row = await audit.record(actor, "staff.idle_kept", "staff", staff.id,
                                 org_id=staff.org_id,  # type: ignore[attr-defined]
                                 detail={"until": until.isoformat(), "reason": text})
        await outbox.enqueue(staff.id, IDLE_KEPT_TO_STAFF, {"until": until.isoformat()},
                             idempotency_key=f"staff:{staff.id}:idle_kept:{row.id}")
