"""Off-site case audit (事后稽核): the weekly reproducible draw of approved cases, the
auditor's finding, retraining after repeated errors and the error-rate report (K2, K3, S4).

Every week the scheduler draws, per org (the case's own org), the configured share of the
cases approved in the previous ISO week (business time), rounded up so an org with approved
cases always gets at least one; orgs without approved cases get no draw row. The seed and the
population are recorded, so `verify_draw` redraws the same cases. A case is drawn at most
once. The reviewer charged with an error is the final approver; on a four-eyes type the
first approval shows in the decision trail but is not charged, since the second approval is
the check that let the case through.
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.transactions import in_transaction

from domain.ledgers import major_incidents
from domain.models import (
    AuditDraw,
    AuditErrorCode,
    Case,
    CaseAudit,
    CaseAuditStatus,
    CaseDecision,
    CaseStatus,
    DecisionKind,
)
from domain.oversight._independence import require_independent
from domain.people.orgs import get_org
from domain.platform import audit, exports
from domain.platform.access import (
    Permission,
    require,
    require_scope,
    row_in_scope,
    scope_prefix,
)
from domain.platform.actors import Actor, person_label, system_actor
from domain.platform.calendar import Calendar
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError, NotFound
from domain.platform.paging import PAGE_ONE, Page, PageRequest, keyset_page
from locales import DEFAULT_LOCALE, translate

RETRAINING_WINDOW = timedelta(days=90)
MAX_NOTE = 1000
WEEK_PATTERN = re.compile(r"\d{4}-W\d{2}")
OUTCOMES = frozenset({CaseAuditStatus.OK.value, CaseAuditStatus.ERROR.value})

ERROR_LABELS: dict[AuditErrorCode, str] = {
    AuditErrorCode.WRONG_BUSINESS_TYPE: N_("Wrong business type"),
    AuditErrorCode.MISSING_PAPER: N_("Customer paper missing"),
    AuditErrorCode.PORTRAIT_MISMATCH_PASSED: N_("Portrait mismatch let through"),
    AuditErrorCode.VOUCHER_NOT_RECORDED: N_("Voucher not recorded"),
    AuditErrorCode.RISK_HINT_NOT_GIVEN: N_("Risk hints not given"),
    AuditErrorCode.DATA_MISMATCH: N_("Data do not match the papers"),
    AuditErrorCode.OTHER: N_("Other"),
}
NO_AUDIT = N_("No such case audit.")
NO_DRAW = N_("No such audit draw.")
ALREADY_AUDITED = N_("The audit of case %(case_no)s has already been recorded. Reload the page "
                     "to see the finding.")
RETRAINING_TO_STAFF = N_("Off-site audits found %(count)s errors against you within 90 days. "
                         "You are flagged for retraining and closer monitoring.")
RETRAINING_TO_OPERATIONS = N_("Off-site audits found %(count)s errors against %(staff)s within "
                              "90 days; he is flagged for retraining and closer monitoring.")
REPORT_COLUMNS = (N_("Level"), N_("Name"), N_("Organisation"), N_("Audited cases"),
                  N_("Errors"), N_("Error rate (per cent)"))


@dataclass(frozen=True)
class Finding:
    """The auditor's form as typed: outcome ok|error, error code, against whom, note."""

    outcome: str
    error_code: str = ""
    against_agent: bool = False
    against_reviewer: bool = False
    note: str = ""


@dataclass(frozen=True)
class AuditFilters:
    """Filters of the auditors' queue; None means any."""

    week: str | None = None
    org_id: int | None = None
    status: CaseAuditStatus | None = None


@dataclass(frozen=True)
class DrawCheck:
    """A draw with the cases it put in the queue and the cases its seed draws again (K3)."""

    draw: AuditDraw
    case_nos: dict[int, str]
    chosen: tuple[int, ...]
    redrawn: tuple[int, ...]

    @property
    def matches(self) -> bool:
        """True when the recorded choice is exactly what the seed draws."""
        return self.chosen == self.redrawn


@dataclass(frozen=True)
class RateRow:
    """Audited cases and errors of one org or person over a period (K2)."""

    name: str
    org_name: str
    audited: int
    errors: int

    @property
    def rate(self) -> Decimal:
        """Errors per hundred audited cases, one decimal."""
        return (Decimal(100 * self.errors) / self.audited).quantize(
            Decimal("0.1"), ROUND_HALF_UP)


@dataclass(frozen=True)
class ErrorRates:
    """The error-rate report: per org, per field agent and per reviewer (K2)."""

    orgs: list[RateRow]
    agents: list[RateRow]
    reviewers: list[RateRow]


# --- the weekly draw ----------------------------------------------------------------------


def week_of(day: date) -> str:
    """The ISO week of a date as 2026-W47."""
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def previous_week(now: datetime, zone: ZoneInfo) -> str:
    """The ISO week before the one `now` falls in, in business time."""
    return week_of(now.astimezone(zone).date() - timedelta(days=7))


def week_bounds(week: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC start of an ISO week's Monday (business time) and of the next Monday."""
    year, number = week.split("-W")
    monday = date.fromisocalendar(int(year), int(number), 1)
    start = datetime.combine(monday, time(), zone)
    return start.astimezone(UTC), (start + timedelta(days=7)).astimezone(UTC)


def draw_size(population: int, share_percent: int) -> int:
    """The share of a population, rounded up, so any org with cases gets at least one (K3)."""
    return min(population, -(-population * share_percent // 100))


def choose(seed: str, population: list[int], share_percent: int) -> tuple[int, ...]:
    """The case ids a seed draws from a population: the same for the same inputs (K3)."""
    sample = random.Random(seed).sample(population, draw_size(len(population), share_percent))
    return tuple(sorted(sample))


async def _approved_in(week: str, zone: ZoneInfo) -> dict[int, list[int]]:
    """Case ids approved in a week and never drawn before, by their org, in id order."""
    start, end = week_bounds(week, zone)
    rows = await Case.filter(
        status=CaseStatus.APPROVED, decided_at__gte=start, decided_at__lt=end,
    ).exclude(id__in=Subquery(CaseAudit.all().values("case_id"))).order_by("id").values_list(
        "org_id", "id")
    found: dict[int, list[int]] = {}
    for org_id, case_id in rows:
        found.setdefault(org_id, []).append(case_id)
    return found


async def _final_approvers(case_ids: tuple[int, ...]) -> dict[int, int]:
    """The reviewer of each case's final approval, the one charged with its errors (S2)."""
    rows = await CaseDecision.filter(case_id__in=case_ids, kind=DecisionKind.APPROVE
                                     ).order_by("id").values_list("case_id", "reviewer_id")
    return dict(rows)


async def _draw_org(org_id: int, week: str, population: list[int], share: int,
                    now: datetime) -> int:
    """Draw one org's week into the queue, once; 0 when another run drew it first (K3)."""
    seed = secrets.token_hex(16)
    chosen = choose(seed, population, share)
    agents = dict(await Case.filter(id__in=chosen).values_list("id", "agent_id"))
    reviewers = await _final_approvers(chosen)
    try:
        async with in_transaction():
            draw = await AuditDraw.create(org_id=org_id, week=week, seed=seed,
                                          share_percent=share, population=population,
                                          drawn_at=now)
            for case_id in chosen:
                await CaseAudit.create(draw=draw, case_id=case_id, org_id=org_id,
                                       field_agent_id=agents[case_id],
                                       reviewer_id=reviewers.get(case_id))
            await audit.record(system_actor("case_audits"), "case_audit.drawn", "audit_draw",
                               draw.id, org_id=org_id, detail={
                                   "week": week, "seed": seed, "share_percent": share,
                                   "population": len(population), "chosen": list(chosen)})
    except IntegrityError:
        return 0
    return len(chosen)


async def draw_weekly(now: datetime, calendar: Calendar) -> int:
    """Draw the share of each org's cases approved last week into the auditors' queue, once
    per org and week; returns the cases drawn (K3)."""
    week = previous_week(now, calendar.zone)
    done = set(await AuditDraw.filter(week=week).values_list("org_id", flat=True))
    drawn = 0
    for org_id, population in sorted((await _approved_in(week, calendar.zone)).items()):
        if org_id not in done:
            drawn += await _draw_org(org_id, week, population, calendar.audit_share_percent,
                                     now)
    return drawn


async def verify_draw(actor: Actor, draw_id: int) -> DrawCheck:
    """Redraw a draw from its recorded seed and population and compare with its queue (K3)."""
    require(actor, Permission.CASE_AUDIT_VIEW)
    draw = await row_in_scope(actor, AuditDraw, draw_id, NO_DRAW)
    chosen = await CaseAudit.filter(draw_id=draw.id).order_by("case_id").values_list(
        "case_id", flat=True)
    case_nos = dict(await Case.filter(id__in=draw.population).values_list("id", "case_no"))
    return DrawCheck(draw, case_nos, tuple(chosen),
                     choose(draw.seed, draw.population, draw.share_percent))


# --- the auditors' queue and findings -------------------------------------------------------


async def list_case_audits(actor: Actor, filters: AuditFilters, paging: PageRequest = PAGE_ONE
                           ) -> Page[CaseAudit]:
    """A page of the drawn cases of the actor's org subtree, newest draw first (K3)."""
    require(actor, Permission.CASE_AUDIT_VIEW)
    query = CaseAudit.filter(org__path__startswith=scope_prefix(actor))
    if filters.org_id is not None:
        query = query.filter(org__path__startswith=(await get_org(actor, filters.org_id)).path)
    if filters.week:
        query = query.filter(draw__week=filters.week)
    if filters.status is not None:
        query = query.filter(status=filters.status)
    return await keyset_page(query, ("-draw_id", "id"), paging, lambda rows: rows.
                             prefetch_related("draw", "org", "case__business_type",
                                              "field_agent", "reviewer", "audited_by"))


async def audit_weeks(actor: Actor) -> list[str]:
    """The weeks drawn in the actor's subtree, newest first, for the queue filter (K3)."""
    require(actor, Permission.CASE_AUDIT_VIEW)
    weeks = await AuditDraw.filter(org__path__startswith=scope_prefix(actor)).values_list(
        "week", flat=True)
    return sorted(set(weeks), reverse=True)


def clean_week(text: str | None) -> str | None:
    """A week typed as 2026-W47, None when blank or malformed."""
    value = (text or "").strip()
    return value if WEEK_PATTERN.fullmatch(value) else None


async def get_case_audit(actor: Actor, audit_id: int) -> CaseAudit:
    """One drawn case of the actor's org subtree with its people and draw (K3)."""
    require(actor, Permission.CASE_AUDIT_VIEW)
    row = await CaseAudit.get_or_none(id=audit_id).prefetch_related(
        "draw", "org", "case__first_approved_by", "field_agent", "reviewer", "audited_by")
    if row is None:
        raise NotFound(NO_AUDIT)
    require_scope(actor, row.org, NO_AUDIT)
    return row


def _clean_finding(finding: Finding, row: CaseAudit) -> dict[str, object]:
    """The columns a finding writes; refused with the precise reason (K2)."""
    note = finding.note.strip()
    if len(note) > MAX_NOTE:
        raise DomainError(N_("The note may be at most %(max)s characters long."), max=MAX_NOTE)
    if finding.outcome not in OUTCOMES:
        raise DomainError(N_("Choose OK or an error."))
    if finding.outcome == CaseAuditStatus.OK:
        return {"status": CaseAuditStatus.OK, "error_code": None, "against_agent": False,
                "against_reviewer": False, "note": note}
    if finding.error_code not in {code.value for code in AuditErrorCode}:
        raise DomainError(N_("Choose an error code from the list."))
    if not (finding.against_agent or finding.against_reviewer):
        raise DomainError(N_("Say whom the error is against: the field agent, the reviewer or "
                             "both."))
    if finding.against_reviewer and row.reviewer_id is None:  # type: ignore[attr-defined]
        raise DomainError(N_("No reviewer approval is recorded for this case; record the error "
                             "against the field agent."))
    if finding.error_code == AuditErrorCode.OTHER and not note:
        raise DomainError(N_("Describe the error in the note when you choose Other."))
    return {"status": CaseAuditStatus.ERROR, "error_code": AuditErrorCode(finding.error_code),
            "against_agent": finding.against_agent,
            "against_reviewer": finding.against_reviewer, "note": note}


def _charged(row: CaseAudit) -> list[int]:
    """The staff ids an error finding is against."""
    people = [row.field_agent_id if row.against_agent else None,  # type: ignore[attr-defined]
              row.reviewer_id if row.against_reviewer else None]  # type: ignore[attr-defined]
    return [staff_id for staff_id in people if staff_id is not None]


async def record_finding(actor: Actor, audit_id: int, finding: Finding, calendar: Calendar,
                         now: datetime | None = None) -> CaseAudit:
    """Record the auditor's finding once: OK, or an error with its code against the field
    agent and/or the final approver, which counts toward retraining; never on a case the
    auditor captured or reviewed himself (K2, K3, S2)."""
    require(actor, Permission.CASE_AUDIT_RECORD)
    moment = now or utcnow()
    row = await get_case_audit(actor, audit_id)
    await require_independent(actor, row.case.id, N_(
        "You captured or reviewed case %(case_no)s: another auditor must audit it."),
        case_no=row.case.case_no)
    if row.status != CaseAuditStatus.PENDING:
        raise DomainError(ALREADY_AUDITED, case_no=row.case.case_no)
    changes = _clean_finding(finding, row)
    async with in_transaction():
        if not await CaseAudit.filter(id=row.id, status=CaseAuditStatus.PENDING).update(
                audited_by_id=actor.staff_id, audited_at=moment, **changes):
            raise DomainError(ALREADY_AUDITED, case_no=row.case.case_no)
        await audit.record(actor, "case_audit.record", "case_audit", row.id,
                           org_id=row.org.id, detail={"case_no": row.case.case_no, **changes})
        updated = await CaseAudit.get(id=row.id)
        for staff_id in _charged(updated):
            await _count_toward_retraining(staff_id, moment, calendar)
    return updated


async def errors_against(staff_id: int, now: datetime) -> int:
    """Audit errors recorded against one person within the last 90 days (K2)."""
    return await CaseAudit.filter(
        Q(field_agent_id=staff_id, against_agent=True)
        | Q(reviewer_id=staff_id, against_reviewer=True),
        status=CaseAuditStatus.ERROR, audited_at__gt=now - RETRAINING_WINDOW,
        audited_at__lte=now,
    ).count()


async def _count_toward_retraining(staff_id: int, now: datetime, calendar: Calendar) -> None:
    """Flag retraining once the person's errors reach the configured count (K2)."""
    await major_incidents.flag_retraining(staff_id, now, major_incidents.RetrainingCause(
        "case_audits", await errors_against(staff_id, now),
        calendar.audit_errors_for_retraining, RETRAINING_TO_STAFF, RETRAINING_TO_OPERATIONS))


# --- the error-rate report ----------------------------------------------------------------


def period_bounds(start: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC start of the first business day and of the day after the last one."""
    if start > end:
        raise DomainError(N_("The start date must not be after the end date."))
    first = datetime.combine(start, time(), zone)
    after = datetime.combine(end + timedelta(days=1), time(), zone)
    return first.astimezone(UTC), after.astimezone(UTC)


def _tally(rows: list[CaseAudit], key: Callable[[CaseAudit], tuple[str, str] | None],
           erred: Callable[[CaseAudit], bool]) -> list[RateRow]:
    """Audited and erroneous rows per (name, org) key, by name."""
    counts: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        found = key(row)
        if found is not None:
            tally = counts.setdefault(found, [0, 0])
            tally[0] += 1
            tally[1] += erred(row)
    return [RateRow(name, org, audited, errors)
            for (name, org), (audited, errors) in sorted(counts.items())]


async def error_rates(actor: Actor, start: date, end: date, zone: ZoneInfo) -> ErrorRates:
    """Audited cases, errors and error rate per org, field agent and reviewer of the actor's
    subtree, for audits recorded from `start` to `end` in business days (K2, K3)."""
    require(actor, Permission.CASE_AUDIT_VIEW)
    first, after = period_bounds(start, end, zone)
    rows = await CaseAudit.filter(
        org__path__startswith=scope_prefix(actor), audited_at__gte=first, audited_at__lt=after,
        status__in=[CaseAuditStatus.OK, CaseAuditStatus.ERROR],
    ).prefetch_related("org", "field_agent", "reviewer")
    failed = CaseAuditStatus.ERROR
    return ErrorRates(
        orgs=_tally(rows, lambda r: (r.org.name, ""), lambda r: r.status == failed),
        agents=_tally(rows, lambda r: (person_label(r.field_agent), r.org.name),
                      lambda r: r.status == failed and r.against_agent),
        reviewers=_tally(rows, lambda r: (person_label(r.reviewer), "") if r.reviewer else None,
                         lambda r: r.status == failed and r.against_reviewer),
    )


def _report_table(rates: ErrorRates, locale: str) -> list[list[object]]:
    """The header and one line per org, agent and reviewer, in the reader's language."""
    table: list[list[object]] = [[translate(locale, label) for label in REPORT_COLUMNS]]
    for level, rows in ((N_("Organisation"), rates.orgs), (N_("Field agent"), rates.agents),
                        (N_("Reviewer"), rates.reviewers)):
        table += [[translate(locale, level), row.name, row.org_name, row.audited, row.errors,
                   float(row.rate)] for row in rows]
    return table


async def export_error_rates(actor: Actor, start: date, end: date, purpose: str, fmt: str, *,
                             zone: ZoneInfo, locale: str = DEFAULT_LOCALE
                             ) -> tuple[str, bytes]:
    """The error-rate report as CSV or XLSX; refused without a purpose, audited with the
    person responsible and the purpose (K2, S4)."""
    require(actor, Permission.REPORT_EXPORT)
    purpose = exports.export_purpose(purpose, fmt)
    rates = await error_rates(actor, start, end, zone)
    label = f"{start.isoformat()}_{end.isoformat()}"
    mark = exports.stamp(actor, purpose, (N_("From"), start.isoformat()),
                         (N_("To"), end.isoformat()))
    data = exports.export_bytes(_report_table(rates, locale), fmt, "case-audit-errors", mark,
                                locale=locale, zone=zone,
                                heading=translate(locale, N_("Error rates")))
    async with in_transaction():
        await audit.record(actor, "case_audit.report.export", "case_audit_report", label,
                           org_id=actor.org_id, detail={
                               "purpose": purpose, "format": fmt, "from": start.isoformat(),
                               "to": end.isoformat(), "responsible": actor.label,
                               "rows": len(rates.orgs) + len(rates.agents)
                               + len(rates.reviewers)})
    return f"case-audit-errors-{label}.{fmt}", data
