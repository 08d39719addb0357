"""Training, exams and the counter qualification: what a grant rests on, entered in the
admin or imported from CSV with a row-by-row report (Q2)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from domain.ledgers._staff_records import business_today, staff_in_scope
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
from domain.models import CounterQualification, ExamResult, Staff, TrainingRecord
from domain.platform import audit
from domain.platform.access import Permission, require, scope_prefix
from domain.platform.actors import Actor, person_label
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError

MAX_AMOUNT = Decimal("99999.9")


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


async def record_training(actor: Actor, staff_id: int, form: TrainingForm, *,
                          zone: ZoneInfo = DEFAULT_ZONE) -> TrainingRecord:
    """Record a completed training course of a staff member in scope (Q2)."""
    require(actor, Permission.QUALIFICATION_MANAGE)
    clean = _clean_training(form, business_today(zone))
    async with in_transaction():
        staff = await staff_in_scope(actor, staff_id)
        return await _write_training(actor, staff, clean)


async def record_exam(actor: Actor, staff_id: int, form: ExamForm, *,
                      zone: ZoneInfo = DEFAULT_ZONE) -> ExamResult:
    """Record an exam result of a staff member in scope (Q2)."""
    require(actor, Permission.QUALIFICATION_MANAGE)
    clean = _clean_exam(form, business_today(zone))
    async with in_transaction():
        staff = await staff_in_scope(actor, staff_id)
        return await _write_exam(actor, staff, clean)


async def record_counter_qualification(actor: Actor, staff_id: int, certificate_no: str,
                                       obtained_on: date, *, zone: ZoneInfo = DEFAULT_ZONE
                                       ) -> CounterQualification:
    """Record that a staff member holds the counter qualification (Q2)."""
    require(actor, Permission.QUALIFICATION_MANAGE)
    number = _check_text(certificate_no, "certificate_no", 64)
    _check_past(obtained_on, "obtained_on", business_today(zone))
    async with in_transaction():
        staff = await staff_in_scope(actor, staff_id)
        if await CounterQualification.exists(staff_id=staff.id):
            raise DomainError(N_("A counter qualification of %(staff)s is already recorded."),
                              staff=person_label(staff))
        row = await CounterQualification.create(staff=staff, certificate_no=number,
                                                obtained_on=obtained_on, recorded_at=utcnow())
        await audit.record(actor, "counter_qualification.recorded", "counter_qualification",
                           row.id, org_id=staff.org_id,  # type: ignore[attr-defined]
                           detail={"staff_id": staff.id, "certificate_no": number,
                                   "obtained_on": obtained_on.isoformat()})
    return row


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
    day = today or business_today(DEFAULT_ZONE)

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
    day = today or business_today(DEFAULT_ZONE)

    async def write(staff: Staff, row: CsvRow) -> None:
        form = _clean_exam(ExamForm(
            cell(row, "exam"), date_cell(row, "taken_on"), number_cell(row, "score"),
            number_cell(row, "pass_mark")), day)
        if await ExamResult.exists(staff_id=staff.id, exam=form.exam, taken_on=form.taken_on):
            raise DomainError(ALREADY_RECORDED)
        await _write_exam(actor, staff, form)

    return await import_csv(text, EXAM_COLUMNS, EXAM_COLUMNS[:3], _staff_writer(actor, write),
                            all_or_nothing=all_or_nothing, progress=progress)
