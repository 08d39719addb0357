"""The review deadline (S1): the claimer, else the on-duty reviewers, reminded at half time, the
supervisors told at breach and every `repeat` after, and the share of decisions that kept
their deadline (C8)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.cases import review_duty
from domain.cases.capture_gate import CaptureContext
from domain.cases.case_timeline import record_event
from domain.cases.cases import reviewer_intent
from domain.cases.review import FINAL_DECISIONS, OPEN_STATUSES, SLA_STATUSES
from domain.models import (
    BusinessType,
    Case,
    CaseDecision,
    CaseEvent,
    CaseEventKind,
    Org,
    Role,
    Staff,
)
from domain.platform import outbox
from domain.platform.access import Permission, require, scope_prefix
from domain.platform.actors import Actor, person_label, system_actor
from domain.platform.chains import staff_in_chain
from domain.platform.chat import locale_of
from domain.platform.clock import TIME_OF_DAY, business_time, day_bounds, utcnow
from domain.platform.errors import N_
from domain.platform.intents import Action, Intent
from domain.platform.sweeps import SweepResult

REMINDER_TO_CLAIMER = N_(
    "Reminder: case %(case_no)s (%(business_type)s) that you claimed is due for review by "
    "%(due)s, %(minutes)s minutes from now.")
REMINDER_TO_REVIEWERS = N_(
    "Reminder: case %(case_no)s (%(business_type)s) is still waiting for a reviewer and is "
    "due by %(due)s, %(minutes)s minutes from now.")
ESCALATION_TO_SUPERVISORS = (
    N_("Escalation: case %(case_no)s (%(business_type)s) of %(org)s is %(minutes)s minutes "
       "past its review deadline (%(due)s). It is claimed by %(reviewer)s."),
    N_("Escalation: case %(case_no)s (%(business_type)s) of %(org)s is %(minutes)s minutes "
       "past its review deadline (%(due)s). No reviewer has claimed it yet."),
)


@dataclass(frozen=True)
class SlaStats:
    """Dashboard figures for the actor's scope: open and overdue now, SLA kept (%) today."""

    open_cases: int
    overdue_cases: int
    decided_today: int
    kept_percent: int | None  # None when nothing was decided today


@dataclass(frozen=True)
class DaySla:
    """The final decisions of one business day and how many kept their deadline (S1)."""

    day: date
    decided: int
    kept: int

    @property
    def kept_percent(self) -> int | None:
        """The share kept in whole percent, None when nothing was decided."""
        return round(100 * self.kept / self.decided) if self.decided else None


async def sweep_sla(now: datetime, repeat: timedelta, ctx: CaptureContext) -> SweepResult:
    """Remind the claimer at half time; escalate to supervisors at breach, every `repeat` (S1)."""
    candidates = await Case.filter(
        Q(sla_reminded_at__isnull=True) | Q(review_due_at__lte=now),
        status__in=SLA_STATUSES, review_due_at__isnull=False, submitted_at__isnull=False,
    ).order_by("review_due_at", "id")
    reminded = escalated = 0
    for case in candidates:
        if _reminder_due(case, now):
            reminded += await _remind(case, now, ctx)
        elif _escalation_due(case, now, repeat):
            escalated += await _escalate(case, now, ctx)
    return SweepResult(reminded=reminded, escalated=escalated)


def _reminder_due(case: Case, now: datetime) -> bool:
    """Half the review time has passed, the deadline has not, and nobody was reminded (S1)."""
    assert case.submitted_at is not None and case.review_due_at is not None
    half = case.submitted_at + (case.review_due_at - case.submitted_at) / 2
    return case.sla_reminded_at is None and half <= now < case.review_due_at


def _escalation_due(case: Case, now: datetime, repeat: timedelta) -> bool:
    """The deadline has passed and the last escalation is at least `repeat` old (S1)."""
    assert case.review_due_at is not None
    return case.review_due_at <= now and (
        case.escalated_at is None or case.escalated_at + repeat <= now)


async def _remind(case: Case, now: datetime, ctx: CaptureContext) -> int:
    """Send the half-time reminder once per revision: to the claimer only, else to the
    on-duty reviewers of the chain, all of the chain when none is on duty (S1, issue 14)."""
    async with in_transaction():
        won = await Case.filter(id=case.id, revision=case.revision, status__in=SLA_STATUSES,
                                sla_reminded_at=None).update(sla_reminded_at=now)
        if not won:
            return 0
        business_type = await BusinessType.get(id=case.business_type_id)  # type: ignore[attr-defined]
        claimer = case.claimed_by_id  # type: ignore[attr-defined]
        if claimer is not None:
            recipients = [await Staff.get(id=claimer)]
            template, notice = REMINDER_TO_CLAIMER, Intent.of(
                "case.sla_reminder", case.id, Action.OPEN, revision=case.revision)
        else:
            recipients = await review_duty.reviewers_to_tell(case, now=now)
            template, notice = REMINDER_TO_REVIEWERS, reviewer_intent("case.sla_reminder", case)
        assert case.review_due_at is not None
        due = business_time(case.review_due_at, ctx.zone, pattern=TIME_OF_DAY)
        params = {"case_no": case.case_no, "due": due,
                  "minutes": max(0, int((case.review_due_at - now).total_seconds() // 60))}
        for person in recipients:
            await outbox.enqueue(
                person.id, template,
                params | {"business_type": business_type.name_in(locale_of(person))},
                intent=notice,
                idempotency_key=f"case:{case.id}:r{case.revision}:sla_reminder:{person.id}")
        await record_event(system_actor("sla"), case, CaseEventKind.SLA_REMINDED, {
            "revision": case.revision, "recipients": [p.id for p in recipients]}, at=now)
    return 1


async def _escalate(case: Case, now: datetime, ctx: CaptureContext) -> int:
    """Escalate an overdue case to the supervisors of its org chain, numbered per round (S1)."""
    round_no = case.escalation_count + 1
    async with in_transaction():
        won = await Case.filter(id=case.id, revision=case.revision, status__in=SLA_STATUSES,
                                escalation_count=case.escalation_count).update(
            escalated_at=now, escalation_count=round_no)
        if not won:
            return 0
        business_type = await BusinessType.get(id=case.business_type_id)  # type: ignore[attr-defined]
        org = await Org.get(id=case.org_id)  # type: ignore[attr-defined]
        claimer = case.claimed_by_id  # type: ignore[attr-defined]
        holder = await Staff.get(id=claimer) if claimer is not None else None
        assert case.review_due_at is not None
        params = {"case_no": case.case_no, "org": org.name,
                  "due": business_time(case.review_due_at, ctx.zone, pattern=TIME_OF_DAY),
                  "minutes": int((now - case.review_due_at).total_seconds() // 60),
                  "reviewer": person_label(holder)}
        template = ESCALATION_TO_SUPERVISORS[0 if holder else 1]
        supervisors = await staff_in_chain(org, Role.SUPERVISOR)
        for person in supervisors:
            await outbox.enqueue(
                person.id, template,
                params | {"business_type": business_type.name_in(locale_of(person))},
                idempotency_key=(f"case:{case.id}:r{case.revision}:sla_escalation:{round_no}:"
                                 f"{person.id}"),
                intent=Intent.of("case.sla_escalation", case.id, Action.OPEN,
                                 revision=case.revision))
        await record_event(system_actor("sla"), case, CaseEventKind.SLA_ESCALATED, {
            "revision": case.revision, "round": round_no,
            "recipients": [p.id for p in supervisors]}, at=now)
    return 1


async def sla_stats(actor: Actor, ctx: CaptureContext, now: datetime | None = None) -> SlaStats:
    """Open, overdue and SLA-kept figures of the actor's scope for the dashboard (C8, S1)."""
    moment = now or utcnow()
    today = moment.astimezone(ctx.zone).date()
    [decided] = await sla_by_day(actor, ctx.zone, today, today, moment)
    open_cases = Case.filter(org__path__startswith=scope_prefix(actor),
                             status__in=OPEN_STATUSES)
    return SlaStats(
        open_cases=await open_cases.count(),
        overdue_cases=await open_cases.filter(review_due_at__lt=moment).count(),
        decided_today=decided.decided,
        kept_percent=decided.kept_percent,
    )


async def sla_by_day(actor: Actor, zone: ZoneInfo, first: date, last: date,
                     now: datetime | None = None) -> list[DaySla]:
    """The final decisions of the actor's scope on each business day from `first` to `last`
    up to now, and how many kept their review deadline (C8, S1)."""
    require(actor, Permission.DASHBOARD_VIEW)
    moment = now or utcnow()
    decisions = await CaseDecision.filter(
        case__org__path__startswith=scope_prefix(actor), kind__in=FINAL_DECISIONS,
        decided_at__gte=day_bounds(first, zone)[0], decided_at__lt=day_bounds(last, zone)[1],
        decided_at__lte=moment,
    ).values("case_id", "revision", "decided_at")
    dues = await _review_deadlines({row["case_id"] for row in decisions})
    tally: dict[date, list[int]] = {}
    for row in decisions:
        due = dues.get((row["case_id"], row["revision"]), row["decided_at"])
        counts = tally.setdefault(row["decided_at"].astimezone(zone).date(), [0, 0])
        counts[0] += 1
        counts[1] += row["decided_at"] <= due
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [DaySla(day, *tally.get(day, (0, 0))) for day in days]


async def _review_deadlines(case_ids: set[int]) -> dict[tuple[int, int], datetime]:
    """The review deadline each submitted revision had, from the submission events (S1)."""
    rows = await CaseEvent.filter(case_id__in=list(case_ids), kind=CaseEventKind.SUBMITTED
                                  ).values("case_id", "detail")
    return {(row["case_id"], row["detail"]["revision"]):
            datetime.fromisoformat(row["detail"]["review_due_at"]) for row in rows}
