"""Qualification ledger: training, exams, grants, suspension, withdrawal, sweeps (Q1–Q5, Q7, K2).

CONTRACT FILE: signatures and docstrings are fixed; bodies are being implemented.

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
from datetime import date, datetime
from decimal import Decimal

from domain.models import (
    CounterQualification,
    ExamResult,
    Qualification,
    QualificationBasis,
    TrainingRecord,
    WithdrawalReason,
)
from domain.services.actors import Actor

PERMANENT_REASONS = frozenset({WithdrawalReason.REPEATED_MAJOR_INCIDENTS,
                               WithdrawalReason.MALICIOUS_OPERATION})
EXPIRY_WARNING_DAYS = 7


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
class ImportRow:
    """The outcome of one CSV row: its line number and the error (empty when imported)."""

    line: int
    error: str


@dataclass(frozen=True)
class ImportReport:
    """What an import did: rows read, imported, and the errors row by row."""

    read: int
    imported: int
    errors: tuple[ImportRow, ...]
    all_or_nothing: bool


@dataclass(frozen=True)
class SweepReport:
    """What a daily sweep changed."""

    warned: int
    changed: int


async def record_training(actor: Actor, staff_id: int, form: TrainingForm) -> TrainingRecord:
    """Record a completed training course of a staff member in scope (Q2)."""
    raise NotImplementedError


async def record_exam(actor: Actor, staff_id: int, form: ExamForm) -> ExamResult:
    """Record an exam result of a staff member in scope (Q2)."""
    raise NotImplementedError


async def record_counter_qualification(actor: Actor, staff_id: int, certificate_no: str,
                                       obtained_on: date) -> CounterQualification:
    """Record that a staff member holds the counter qualification (Q2)."""
    raise NotImplementedError


async def grant(actor: Actor, staff_id: int, business_type_ids: list[int],
                basis: QualificationBasis, *, training_id: int | None = None,
                exam_id: int | None = None, valid_until: date | None = None,
                now: datetime | None = None) -> list[Qualification]:
    """Grant for one or more business types on a counter qualification or training plus a
    passed exam; refuse without the basis, naming what is missing, and after a permanent
    withdrawal (Q2, Q3)."""
    raise NotImplementedError


async def suspend(actor: Actor, qualification_id: int, reason: str,
                  now: datetime | None = None) -> Qualification:
    """Suspend an active qualification with a reason (Q5)."""
    raise NotImplementedError


async def reinstate(actor: Actor, qualification_id: int, reason: str,
                    now: datetime | None = None) -> Qualification:
    """Reinstate a suspended qualification once the matter is rectified (Q5)."""
    raise NotImplementedError


async def withdraw(actor: Actor, qualification_id: int, reason: WithdrawalReason, note: str,
                   now: datetime | None = None) -> Qualification:
    """Withdraw with a Q3 reason; repeated major incidents and malicious operation are for
    good (Q3)."""
    raise NotImplementedError


async def suspend_all_for_staff(actor: Actor, staff_id: int, reason: str,
                                now: datetime | None = None) -> int:
    """Suspend every active qualification of a staff member, e.g. after a voucher loss
    through lax management (Q5); returns how many were suspended."""
    raise NotImplementedError


async def require_active(staff_id: int, business_type_id: int, now: datetime) -> None:
    """Refuse capture without an active, unexpired qualification for the type, with the
    reason (not qualified, suspended, withdrawn, expired) (Q1)."""
    raise NotImplementedError


async def staff_ledger(actor: Actor, staff_id: int) -> dict[str, list]:
    """Training, exams, counter qualification, qualifications and their events of one staff
    member in scope, for the admin page (keys: training, exams, counter, qualifications,
    events)."""
    raise NotImplementedError


async def list_qualifications(actor: Actor, *, status: str | None = None,
                              business_type_id: int | None = None,
                              org_id: int | None = None) -> list[Qualification]:
    """Qualifications of the actor's org subtree with staff and business type prefetched."""
    raise NotImplementedError


async def import_training_csv(actor: Actor, text: str, *, all_or_nothing: bool,
                              progress: object | None = None) -> ImportReport:
    """Import training records from CSV (employee_no,course,completed_on,hours,trainer) with
    a row-by-row error report; `progress(done, total, label)` is called per row (Q2)."""
    raise NotImplementedError


async def import_exams_csv(actor: Actor, text: str, *, all_or_nothing: bool,
                           progress: object | None = None) -> ImportReport:
    """Import exam results from CSV (employee_no,exam,taken_on,score,pass_mark) with a
    row-by-row error report (Q2)."""
    raise NotImplementedError


async def sweep_expiry(today: date) -> SweepReport:
    """Warn holders 7 days before expiry and expire lapsed qualifications, once each (Q1)."""
    raise NotImplementedError


async def major_incident_recorded(staff_id: int, now: datetime) -> None:
    """Count a major incident (Q4); at the configured count propose withdrawal to ops_admin
    on the dashboard and flag retraining (K2). Called inside the incident's transaction."""
    raise NotImplementedError


async def sweep_idle_accounts(now: datetime, idle_days: int, grace_days: int) -> SweepReport:
    """Flag staff with no operation for `idle_days`, disable them `grace_days` later unless
    an admin keeps them; audited and told in chat (Q7)."""
    raise NotImplementedError


async def keep_idle_account(actor: Actor, staff_id: int, until: date, reason: str) -> None:
    """An admin keeps a flagged idle account active until a date (Q7)."""
    raise NotImplementedError
