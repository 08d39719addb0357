"""Qualification ledger: grants, suspension, withdrawal, expiry and the capture gate (Q1–Q5).

Training, exams and the counter qualification are in `qualification_basis`, idle accounts in
`idle_accounts`, major incidents and retraining in `major_incidents`.

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

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from domain.ledgers._staff_records import (
    NO_SUCH_STAFF,
    NOT_AFTER_TODAY,
    business_today,
    required_reason,
    staff_in_scope,
)
from domain.ledgers._staff_records import (
    REASON_REQUIRED as REASON_REQUIRED,
)
from domain.models import (
    BusinessType,
    CounterQualification,
    ExamResult,
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
from domain.platform import audit, outbox
from domain.platform.access import Permission, require, scope_prefix
from domain.platform.actors import Actor, person_label, system_actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.chat import locale_of
from domain.platform.clock import business_date, utcnow
from domain.platform.errors import N_, DomainError, NotFound
from domain.platform.intents import Intent
from domain.platform.paging import Page, PageRequest, offset_page
from domain.platform.sweeps import SweepReport

PERMANENT_REASONS = frozenset({WithdrawalReason.REPEATED_MAJOR_INCIDENTS,
                               WithdrawalReason.MALICIOUS_OPERATION})
EXPIRY_WARNING_DAYS = 7
LIST_ORDER = ("staff__employee_no", "business_type__code", "id")

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
NO_SUCH_TYPE = N_("No such business type.")
NO_SUCH_QUALIFICATION = N_("No such qualification.")



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
        {"business_type": business_type.name_in(locale_of(staff)), "reason": reason,
         "valid_until": valid_until},
        intent=Intent.of("qualification.changed", qualification.id),
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
    text = required_reason(reason)
    async with in_transaction():
        qualification = await Qualification.filter(
            id=qualification_id).select_for_update().first()
        if qualification is None:
            raise NotFound(NO_SUCH_QUALIFICATION)
        staff = await staff_in_scope(actor, qualification.staff_id)  # type: ignore[attr-defined]
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
    text = required_reason(reason)
    moment = now or utcnow()
    suspended = 0
    async with in_transaction():
        staff = await staff_in_scope(actor, staff_id)
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
    staff = await staff_in_scope(actor, staff_id)
    if not staff.active:
        raise DomainError(N_("%(staff)s is deactivated and cannot be granted a qualification."),
                          staff=person_label(staff))
    if not await StaffRole.exists(staff_id=staff.id, role=Role.FIELD_AGENT):
        raise DomainError(N_("Only field agents can be granted a qualification."))
    withdrawn = await QualificationEvent.filter(
        qualification__staff_id=staff.id, kind=QualificationEventKind.REVOKED_PERMANENTLY
    ).order_by("-id").first()
    if withdrawn is not None:
        reason = withdrawn.withdrawal_reason or WithdrawalReason.MALICIOUS_OPERATION
        raise DomainError(PERMANENT_REFUSAL[reason], staff=person_label(staff))
    return staff


async def _training_basis(staff: Staff, training_id: int | None) -> TrainingRecord:
    """The given training record of the staff member, or his latest one (Q2)."""
    if training_id is None:
        latest = await TrainingRecord.filter(staff_id=staff.id).first()
        if latest is None:
            raise DomainError(NO_TRAINING, staff=person_label(staff))
        return latest
    training = await TrainingRecord.get_or_none(id=training_id)
    if training is None:
        raise DomainError(NO_TRAINING, staff=person_label(staff))
    if training.staff_id != staff.id:  # type: ignore[attr-defined]
        raise DomainError(TRAINING_OF_OTHER)
    return training


async def _exam_basis(staff: Staff, exam_id: int | None) -> ExamResult:
    """The given passed exam of the staff member, or his latest passed one (Q2)."""
    if exam_id is None:
        exams = await ExamResult.filter(staff_id=staff.id)
        if not exams:
            raise DomainError(NO_EXAM, staff=person_label(staff))
        exam = next((row for row in exams if row.passed), exams[0])
    else:
        found = await ExamResult.get_or_none(id=exam_id)
        if found is None:
            raise DomainError(NO_EXAM, staff=person_label(staff))
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
            raise DomainError(NO_COUNTER, staff=person_label(staff))
        return None, None
    return await _training_basis(staff, training_id), await _exam_basis(staff, exam_id)


async def _grant_one(actor: Actor, staff: Staff, business_type: BusinessType,
                     basis: QualificationBasis, training: TrainingRecord | None,
                     exam: ExamResult | None, valid_until: date | None,
                     moment: datetime) -> Qualification:
    """Create the qualification, or re-activate a revoked or expired one (Q2)."""
    row = await Qualification.filter(staff_id=staff.id,
                                     business_type_id=business_type.id).select_for_update().first()
    held = {"staff": person_label(staff), "business_type": business_type.name_zh}
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
                now: datetime | None = None, zone: ZoneInfo = DEFAULT_ZONE
                ) -> list[Qualification]:
    """Grant for one or more business types on a counter qualification or training plus a
    passed exam; refuse without the basis, naming what is missing, and after a permanent
    withdrawal (Q2, Q3)."""
    require(actor, Permission.QUALIFICATION_MANAGE)
    moment = now or utcnow()
    wanted = list(dict.fromkeys(business_type_ids))
    if not wanted:
        raise DomainError(N_("Choose at least one business type."))
    if valid_until is not None and valid_until <= business_today(zone, moment):
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


async def qualified_within(org_prefix: str, moment: datetime, zone: ZoneInfo) -> set[int]:
    """The ids of the staff of an org subtree who hold a qualification under the Q1 rule, in
    one query (is_qualified for many)."""
    rows = await Qualification.filter(staff__org__path__startswith=org_prefix,
                                      status=QualificationStatus.ACTIVE)
    return {row.staff_id for row in rows if holds(row, moment, zone)}  # type: ignore[attr-defined]


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
    name = business_type.name_in(locale_of(staff))
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
    staff = await staff_in_scope(actor, staff_id)
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
    query = await _matching_qualifications(actor, status, business_type_id, org_id,
                                           expiring_by)
    return await _listed(query).order_by(*LIST_ORDER)


async def qualification_page(actor: Actor, paging: PageRequest, *, status: str | None = None,
                             business_type_id: int | None = None, org_id: int | None = None,
                             expiring_by: date | None = None) -> Page[Qualification]:
    """One page of the qualification list, by employee number and business type."""
    query = await _matching_qualifications(actor, status, business_type_id, org_id,
                                           expiring_by)
    return await offset_page(query, LIST_ORDER, paging, _listed)


def _listed(query: QuerySet[Qualification]) -> QuerySet[Qualification]:
    """What the qualification list shows of each row."""
    return query.prefetch_related("staff__org", "business_type")


async def _matching_qualifications(actor: Actor, status: str | None,
                                   business_type_id: int | None, org_id: int | None,
                                   expiring_by: date | None) -> QuerySet[Qualification]:
    """The qualifications of the list's filters, within the actor's org subtree."""
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
    return query



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
