"""Central review: queue, claim, decisions (four eyes), results to the agent, SLA (C6–C8, S1, S2).

State machine (DESIGN.md §4):
    submitted --claim--> in_review --release--> submitted
    submitted | in_review | on_hold --approve--> approved
        (four-eyes types: the first approval only records `first_approved_by` and keeps
        the case in_review; a *different* reviewer's approval makes it approved)
    submitted | in_review | on_hold --return_case--> returned
    submitted | in_review | on_hold --reject--> rejected
    submitted | in_review --hold--> on_hold
A decision on an unclaimed (submitted) case claims it implicitly for the decider. A case
claimed by another reviewer is refused with that reviewer's name. Every decision is one
transaction: conditional update of the case row (exactly one of two concurrent deciders
wins; the other gets DomainError "already decided"), a `CaseDecision` row, a `CaseEvent`,
an audit row and the outbox notifications (agent result; for hold also operations
management and IT of the org chain; four-eyes first approval notifies the other reviewers
that a second approval is needed).
A first approval gives the claim back, so any other reviewer may give the second one; the
first approver may no longer decide that revision. An on-hold case keeps its claimer; its
claimer may release it and another reviewer may then claim it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.cases.cases import (
    CaptureContext,
    CaseSummary,
    case_no_prefix,
    case_summary,
    record_event,
    reviewer_buttons,
    visible_case,
)
from domain.models import (
    BusinessType,
    Case,
    CaseDecision,
    CaseEvent,
    CaseEventKind,
    CasePhoto,
    CaseStatus,
    DecisionKind,
    Org,
    PhotoKind,
    ReasonKind,
    ReviewReason,
    Role,
    Staff,
)
from domain.models.cases import RETAKE_CUSTOMER
from domain.platform import audit, events, outbox
from domain.platform.access import Permission, require, require_scope, scope_prefix
from domain.platform.actors import Actor, system_actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.chains import staff_in_chain
from domain.platform.chat import locale_of
from domain.platform.clock import day_bounds, utcnow
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.events import CaseApproved, CaseRejected

OPEN_STATUSES = (CaseStatus.SUBMITTED, CaseStatus.IN_REVIEW, CaseStatus.ON_HOLD)
DECIDED_STATUSES = (CaseStatus.APPROVED, CaseStatus.RETURNED, CaseStatus.REJECTED)
HOLDABLE_STATUSES = (CaseStatus.SUBMITTED, CaseStatus.IN_REVIEW)
SLA_STATUSES = HOLDABLE_STATUSES  # a held case waits for the check system, not the reviewer
FINAL_DECISIONS = (DecisionKind.APPROVE, DecisionKind.RETURN, DecisionKind.REJECT)
MAX_NOTE_LENGTH = 1000
QUEUE_LIMIT = 500
DUE_FORMAT = "%H:%M"
SHA256_HEX = re.compile(r"[0-9a-f]{64}")

NO_CASE = N_("No such case.")
NO_PHOTO = N_("No such photo.")
CHANGED = N_("Case %(case_no)s was changed by another reviewer while you were deciding; "
             "open it again to see where it stands.")
CLAIMED_BY_OTHER = N_("Case %(case_no)s is being reviewed by %(reviewer)s.")
SAME_REVIEWER = N_("You gave the first approval of case %(case_no)s; a different reviewer "
                   "must give the second approval.")
STATE_REFUSALS: dict[CaseStatus, str] = {
    CaseStatus.DRAFT: N_("This case has not been submitted yet."),
    CaseStatus.CANCELLED: N_("This case was cancelled."),
    CaseStatus.APPROVED: N_("Case %(case_no)s has already been approved."),
    CaseStatus.RETURNED: N_("Case %(case_no)s has already been returned to the field agent."),
    CaseStatus.REJECTED: N_("Case %(case_no)s has already been rejected."),
    CaseStatus.ON_HOLD: N_("Case %(case_no)s is already on hold."),
}
NO_REASON: dict[ReasonKind, str] = {
    ReasonKind.RETURN: N_("Choose at least one reason for the return."),
    ReasonKind.REJECT: N_("Choose the reason for the rejection."),
}

# Messages to the field agent (C8); each pair is (with a note, without one).
FIRST_APPROVED_TO_AGENT = N_(
    "Case %(case_no)s (%(business_type)s) passed the first review and now waits for a second "
    "reviewer to confirm it. Please stay with the customer.")
APPROVED_TO_AGENT = N_(
    "Case %(case_no)s (%(business_type)s) has been approved. You may complete the business "
    "with the customer.")
RETURNED_TO_AGENT = (
    N_("Case %(case_no)s (%(business_type)s) was returned for correction.\nReasons: "
       "%(reasons)s\nNote from the reviewer: %(note)s\nRedo only the flagged items, then submit "
       "the case again."),
    N_("Case %(case_no)s (%(business_type)s) was returned for correction.\nReasons: "
       "%(reasons)s\nRedo only the flagged items, then submit the case again."),
)
REJECTED_TO_AGENT = (
    N_("Case %(case_no)s (%(business_type)s) was rejected.\nReason: %(reasons)s\nNote from the "
       "reviewer: %(note)s\nDo not complete the business; explain the result to the customer."),
    N_("Case %(case_no)s (%(business_type)s) was rejected.\nReason: %(reasons)s\nDo not "
       "complete the business; explain the result to the customer."),
)
HELD_TO_AGENT = (
    N_("Case %(case_no)s (%(business_type)s) is on hold: the networked identity check cannot "
       "be done right now.\nNote from the reviewer: %(note)s\nThe reviewer will decide as soon "
       "as the check system is back. Wait on site with the customer, or agree a time to come "
       "back; you will be told the result here."),
    N_("Case %(case_no)s (%(business_type)s) is on hold: the networked identity check cannot "
       "be done right now.\nThe reviewer will decide as soon as the check system is back. Wait "
       "on site with the customer, or agree a time to come back; you will be told the result "
       "here."),
)
HELD_TO_OPERATIONS = (
    N_("Case %(case_no)s of %(org)s was put on hold by %(reviewer)s because the networked "
       "identity check cannot be done. Note: %(note)s\nPlease check the check system; the "
       "field agent is waiting with the customer."),
    N_("Case %(case_no)s of %(org)s was put on hold by %(reviewer)s because the networked "
       "identity check cannot be done.\nPlease check the check system; the field agent is "
       "waiting with the customer."),
)
SECOND_APPROVAL_TO_REVIEWERS = N_(
    "Case %(case_no)s (%(business_type)s) has its first approval from %(reviewer)s and needs "
    "a second approval by a different reviewer.")
RETAKE_BUTTON = N_("Retake the flagged items")
OPEN_IN_WEB = N_("Open in web")

# SLA reminders and escalations (S1)
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
class QueueFilters:
    """Filters of the review queue; None means any. Without a status the queue holds the
    open cases, the decided ones of `decided_on` or every case first submitted on
    `captured_on` (business days)."""

    status: CaseStatus | None = None
    business_type_id: int | None = None
    org_id: int | None = None
    agent_id: int | None = None
    overdue_only: bool = False
    captured_on: date | None = None
    decided_on: date | None = None


@dataclass(frozen=True)
class QueueItem:
    """One row of the review queue, oldest submission first; ID data never appears here."""

    case_id: int
    case_no: str
    status: CaseStatus
    revision: int
    business_type_zh: str
    business_type_en: str
    agent_name: str
    org_name: str
    submitted_at: datetime
    review_due_at: datetime
    claimed_by_id: int | None
    claimed_by_name: str
    awaiting_second_approval: bool
    seconds_left: int  # negative when overdue

    @property
    def overdue(self) -> bool:
        """True when the review deadline has passed."""
        return self.seconds_left < 0


@dataclass(frozen=True)
class PhotoView:
    """One stored photo of a case as the case page lists it."""

    photo_id: int
    kind: str
    revision: int
    sha256: str
    width: int
    height: int
    uploaded_at: datetime


@dataclass(frozen=True)
class DecisionView:
    """One decision on the case page."""

    kind: str
    revision: int
    reviewer_name: str
    reason_codes: tuple[str, ...]
    retake_items: tuple[str, ...]
    note: str
    decided_at: datetime


@dataclass(frozen=True)
class CaseDetail:
    """Everything the case page shows: masked summary, photos of every revision, timeline."""

    summary: CaseSummary
    agent_name: str
    org_name: str
    claimed_by_id: int | None
    claimed_by_name: str
    first_approved_by_id: int | None
    first_approved_by_name: str
    four_eyes: bool
    retake_items: tuple[str, ...]
    photos: tuple[PhotoView, ...]
    events: tuple[CaseEvent, ...]
    decisions: tuple[DecisionView, ...]


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


@dataclass(frozen=True)
class SweepResult:
    """What one SLA sweep did."""

    reminded: int
    escalated: int


@dataclass(frozen=True)
class _Outcome:
    """What one decision does to a case and records."""

    kind: DecisionKind
    status: CaseStatus
    event: CaseEventKind
    reasons: tuple[ReviewReason, ...] = ()
    retake_items: tuple[str, ...] = ()
    note: str = ""


# --- queue ------------------------------------------------------------------------------


async def review_queue(actor: Actor, filters: QueueFilters, now: datetime | None = None, *,
                       zone: ZoneInfo = DEFAULT_ZONE) -> list[QueueItem]:
    """Open cases of the actor's org subtree, oldest first, with SLA time left (C8, S1)."""
    require(actor, Permission.CASE_VIEW)
    moment = now or utcnow()
    if filters.status in (CaseStatus.DRAFT, CaseStatus.CANCELLED):
        return []
    query = _by_status_and_day(Case.filter(org__path__startswith=scope_prefix(actor)),
                               filters, zone)
    if filters.business_type_id is not None:
        query = query.filter(business_type_id=filters.business_type_id)
    if filters.org_id is not None:
        org = await Org.get_or_none(id=filters.org_id)
        if org is None:
            return []
        query = query.filter(org__path__startswith=org.path)
    if filters.agent_id is not None:
        query = query.filter(agent_id=filters.agent_id)
    if filters.overdue_only:
        query = query.filter(review_due_at__lt=moment, status__in=OPEN_STATUSES)
    rows = await query.prefetch_related("business_type", "agent", "org", "claimed_by").order_by(
        "submitted_at", "id").limit(QUEUE_LIMIT)
    return [_queue_item(row, moment) for row in rows]


def _by_status_and_day(query: Any, filters: QueueFilters, zone: ZoneInfo) -> Any:
    """The queue's status filter and its business-day filters (C8)."""
    if filters.status is not None:
        query = query.filter(status=filters.status)
    elif filters.decided_on is not None:
        query = query.filter(status__in=DECIDED_STATUSES)
    elif filters.captured_on is None:
        query = query.filter(status__in=OPEN_STATUSES)
    if filters.captured_on is not None:
        query = query.filter(case_no__startswith=case_no_prefix(filters.captured_on))
    if filters.decided_on is not None:
        start, end = day_bounds(filters.decided_on, zone)
        query = query.filter(decided_at__gte=start, decided_at__lt=end)
    return query


def _queue_item(case: Case, moment: datetime) -> QueueItem:
    """One queue row; a decided case counts its time left at the moment of the decision."""
    assert case.submitted_at is not None and case.review_due_at is not None
    until = moment if case.status in OPEN_STATUSES else (case.decided_at or moment)
    return QueueItem(
        case_id=case.id, case_no=case.case_no or "", status=case.status, revision=case.revision,
        business_type_zh=case.business_type.name_zh, business_type_en=case.business_type.name_en,
        agent_name=case.agent.name, org_name=case.org.name, submitted_at=case.submitted_at,
        review_due_at=case.review_due_at,
        claimed_by_id=case.claimed_by_id,  # type: ignore[attr-defined]
        claimed_by_name=case.claimed_by.name if case.claimed_by else "",
        awaiting_second_approval=(case.first_approved_by_id is not None  # type: ignore[attr-defined]
                                  and case.status in OPEN_STATUSES),
        seconds_left=int((case.review_due_at - until).total_seconds()),
    )


# --- claim and release ------------------------------------------------------------------


async def claim(actor: Actor, case_id: int, now: datetime | None = None) -> Case:
    """Take a submitted case for review; refused when another reviewer holds it (C8)."""
    moment = now or utcnow()
    async with in_transaction():
        case = await _case_to_review(actor, case_id)
        mine = case.claimed_by_id == actor.staff_id  # type: ignore[attr-defined]
        if mine and case.status in OPEN_STATUSES:
            return case
        await _check_decidable(actor, case, OPEN_STATUSES)
        status = CaseStatus.IN_REVIEW if case.status == CaseStatus.SUBMITTED else case.status
        updated = await _transition(actor, case, OPEN_STATUSES, status=status,
                                    claimed_by_id=actor.staff_id, claimed_at=moment,
                                    updated_at=moment)
        await record_event(actor, updated, CaseEventKind.CLAIMED,
                           {"revision": case.revision}, at=moment)
    return updated


async def release(actor: Actor, case_id: int) -> Case:
    """Give a claimed case back to the queue; only its claimer may (C8)."""
    moment = utcnow()
    async with in_transaction():
        case = await _case_to_review(actor, case_id)
        if case.status not in OPEN_STATUSES:
            raise DomainError(STATE_REFUSALS.get(case.status, CHANGED), case_no=case.case_no)
        if case.claimed_by_id != actor.staff_id:  # type: ignore[attr-defined]
            raise DomainError(N_("Only the reviewer who claimed case %(case_no)s can release "
                                 "it."), case_no=case.case_no)
        back_in_queue = (case.status == CaseStatus.IN_REVIEW
                         and case.first_approved_by_id is None)  # type: ignore[attr-defined]
        status = CaseStatus.SUBMITTED if back_in_queue else case.status
        updated = await _transition(actor, case, OPEN_STATUSES, status=status,
                                    claimed_by_id=None, claimed_at=None, updated_at=moment)
        await record_event(actor, updated, CaseEventKind.RELEASED,
                           {"revision": case.revision}, at=moment)
    return updated


# --- decisions --------------------------------------------------------------------------


async def approve(actor: Actor, case_id: int, ctx: CaptureContext,
                  now: datetime | None = None) -> Case:
    """Approve; four-eyes types need a second, different reviewer (C6, S2); the final
    approval issues the reserved voucher serial to the customer (V1)."""
    moment = now or utcnow()
    async with in_transaction():
        case, business_type = await _open_for_decision(actor, case_id, OPEN_STATUSES)
        if business_type.four_eyes and case.first_approved_by_id is None:  # type: ignore[attr-defined]
            updated = await _decide(actor, case, _Outcome(
                DecisionKind.FIRST_APPROVAL, CaseStatus.IN_REVIEW, CaseEventKind.FIRST_APPROVED),
                moment)
            await _ask_second_approval(actor, updated, business_type)
            await _tell_agent(updated, business_type, "first_approved", FIRST_APPROVED_TO_AGENT)
        else:
            updated = await _decide(actor, case, _Outcome(
                DecisionKind.APPROVE, CaseStatus.APPROVED, CaseEventKind.APPROVED), moment)
            await events.publish(CaseApproved(actor, case.id, moment))
            await _tell_agent(updated, business_type, "approved", APPROVED_TO_AGENT)
    return updated


async def return_case(actor: Actor, case_id: int, reason_codes: list[str], note: str,
                      ctx: CaptureContext, retake_items: list[str] | None = None,
                      now: datetime | None = None) -> Case:
    """Return for correction with one or more managed reasons and the items to retake (C7).

    The items to retake are `retake_items` when given, else the union of the reasons'
    items; at least one item is required. The agent is told every reason and gets a
    button that starts the retake. A reserved voucher serial stays with the case (V1).
    """
    clean_note = _clean_note(note)
    moment = now or utcnow()
    async with in_transaction():
        case, business_type = await _open_for_decision(actor, case_id, OPEN_STATUSES)
        reasons = await _reasons(ReasonKind.RETURN, reason_codes)
        items = _items_to_retake(reasons, retake_items, business_type)
        updated = await _decide(actor, case, _Outcome(
            DecisionKind.RETURN, CaseStatus.RETURNED, CaseEventKind.RETURNED, reasons, items,
            clean_note), moment)
        await _tell_agent(updated, business_type, "returned", _noted(RETURNED_TO_AGENT, clean_note),
                          {"note": clean_note}, reasons,
                          buttons=[[(RETAKE_BUTTON, f"cap:retake:{case.id}")]])
    return updated


async def reject(actor: Actor, case_id: int, reason_code: str, note: str, ctx: CaptureContext,
                 now: datetime | None = None) -> Case:
    """Reject (for example a failed networked identity check) with a managed reason (C6);
    the voucher handed at capture is to be taken back from the customer (V1, V6)."""
    clean_note = _clean_note(note)
    moment = now or utcnow()
    async with in_transaction():
        case, business_type = await _open_for_decision(actor, case_id, OPEN_STATUSES)
        reasons = await _reasons(ReasonKind.REJECT, [reason_code] if reason_code else [])
        updated = await _decide(actor, case, _Outcome(
            DecisionKind.REJECT, CaseStatus.REJECTED, CaseEventKind.REJECTED, reasons,
            note=clean_note), moment)
        await events.publish(CaseRejected(actor, case.id, moment, ctx.mis_issue_recovery_days,
                                          ctx.zone))
        await _tell_agent(updated, business_type, "rejected", _noted(REJECTED_TO_AGENT, clean_note),
                          {"note": clean_note}, reasons)
    return updated


async def hold(actor: Actor, case_id: int, note: str, ctx: CaptureContext,
               now: datetime | None = None) -> Case:
    """Put on hold while the check system is down; alerts operations and IT (C6, C8)."""
    clean_note = _clean_note(note)
    moment = now or utcnow()
    async with in_transaction():
        case, business_type = await _open_for_decision(actor, case_id, HOLDABLE_STATUSES)
        updated = await _decide(actor, case, _Outcome(
            DecisionKind.HOLD, CaseStatus.ON_HOLD, CaseEventKind.HELD, note=clean_note), moment)
        await _tell_agent(updated, business_type, "held", _noted(HELD_TO_AGENT, clean_note),
                          {"note": clean_note})
        await _alert_operations(actor, updated, clean_note)
    return updated


async def _case_to_review(actor: Actor, case_id: int) -> Case:
    """A case of the reviewer's org subtree that he did not capture himself (C6, S2)."""
    require(actor, Permission.CASE_REVIEW)
    case = await Case.get_or_none(id=case_id).prefetch_related("org")
    if case is None:
        raise NotFound(NO_CASE)
    require_scope(actor, case.org)
    if case.agent_id == actor.staff_id:  # type: ignore[attr-defined]
        raise PermissionDenied(N_("You cannot review a case you captured yourself."))
    return case


async def _open_for_decision(actor: Actor, case_id: int, allowed: tuple[CaseStatus, ...]
                             ) -> tuple[Case, BusinessType]:
    """The case and its business type once the actor may decide it now (C6, S2)."""
    case = await _case_to_review(actor, case_id)
    await _check_decidable(actor, case, allowed)
    return case, await BusinessType.get(id=case.business_type_id)  # type: ignore[attr-defined]


async def _check_decidable(actor: Actor, case: Case, allowed: tuple[CaseStatus, ...]) -> None:
    """Refuse a decided case, one claimed by another reviewer, or a second own approval (S2)."""
    if case.status not in allowed:
        raise DomainError(STATE_REFUSALS.get(case.status, CHANGED), case_no=case.case_no)
    claimer = case.claimed_by_id  # type: ignore[attr-defined]
    if claimer is not None and claimer != actor.staff_id:
        holder = await Staff.get(id=claimer)
        raise DomainError(CLAIMED_BY_OTHER, case_no=case.case_no, reviewer=_label(holder))
    if case.first_approved_by_id == actor.staff_id:  # type: ignore[attr-defined]
        raise DomainError(SAME_REVIEWER, case_no=case.case_no)


async def _transition(actor: Actor, case: Case, allowed: tuple[CaseStatus, ...],
                      **changes: Any) -> Case:
    """Change the case only if nobody changed it since it was read; else say what happened."""
    won = await Case.filter(
        id=case.id, status=case.status, revision=case.revision,
        claimed_by_id=case.claimed_by_id,  # type: ignore[attr-defined]
        first_approved_by_id=case.first_approved_by_id,  # type: ignore[attr-defined]
    ).update(**changes)
    current = await Case.get(id=case.id)
    if not won:
        await _check_decidable(actor, current, allowed)
        raise DomainError(CHANGED, case_no=case.case_no)
    return current


async def _decide(actor: Actor, case: Case, outcome: _Outcome, moment: datetime) -> Case:
    """Apply one decision: conditional state change, decision row, timeline and audit (C6, C7)."""
    changes: dict[str, Any] = {"status": outcome.status, "claimed_by_id": actor.staff_id,
                               "claimed_at": case.claimed_at or moment, "updated_at": moment}
    if outcome.kind == DecisionKind.FIRST_APPROVAL:
        changes |= {"first_approved_by_id": actor.staff_id, "claimed_by_id": None,
                    "claimed_at": None}
    if outcome.kind in FINAL_DECISIONS:
        changes["decided_at"] = moment
    if outcome.kind == DecisionKind.RETURN:
        changes["retake_items"] = list(outcome.retake_items)
    allowed = HOLDABLE_STATUSES if outcome.kind == DecisionKind.HOLD else OPEN_STATUSES
    updated = await _transition(actor, case, allowed, **changes)
    codes = [reason.code for reason in outcome.reasons]
    await CaseDecision.create(case_id=case.id, revision=case.revision, kind=outcome.kind,
                              reviewer_id=actor.staff_id, reason_codes=codes,
                              retake_items=list(outcome.retake_items), note=outcome.note,
                              decided_at=moment)
    await record_event(actor, updated, outcome.event, {
        "revision": case.revision, "reason_codes": codes,
        "retake_items": list(outcome.retake_items), "note": outcome.note}, at=moment)
    return updated


def _clean_note(note: str) -> str:
    """The reviewer's note, trimmed and bounded (C7)."""
    clean = note.strip()
    if len(clean) > MAX_NOTE_LENGTH:
        raise DomainError(N_("The note may be at most %(max)s characters long."),
                          max=MAX_NOTE_LENGTH)
    return clean


async def _reasons(kind: ReasonKind, codes: list[str]) -> tuple[ReviewReason, ...]:
    """The active managed reasons with these codes, in the order given (C6, C7)."""
    wanted = list(dict.fromkeys(code.strip() for code in codes if code.strip()))
    if not wanted:
        raise DomainError(NO_REASON[kind])
    rows = {row.code: row for row in await ReviewReason.filter(code__in=wanted, kind=kind,
                                                               active=True)}
    for code in wanted:
        if code not in rows:
            raise DomainError(N_("There is no active reason with the code %(code)s."),
                              code=code)
    return tuple(rows[code] for code in wanted)


def _items_to_retake(reasons: tuple[ReviewReason, ...], given: list[str] | None,
                     business_type: BusinessType) -> tuple[str, ...]:
    """The items the agent must redo: those given, else the reasons' items on this type (C7)."""
    possible = [RETAKE_CUSTOMER, *(k.value for k in PhotoKind
                                   if k.value in business_type.required_photo_kinds)]
    if given:
        unknown = [item for item in given if item not in possible]
        if unknown:
            raise DomainError(N_("This case has no item %(item)s that the field agent could "
                                 "redo."), item=unknown[0])
        chosen = set(given)
    else:
        chosen = {item for reason in reasons for item in reason.retake_items}
    items = tuple(item for item in possible if item in chosen)
    if not items:
        raise DomainError(N_("Name at least one item the field agent must redo."))
    return items


# --- notifications ----------------------------------------------------------------------


def _label(staff: Staff) -> str:
    """How a person is named in messages: employee number and name."""
    return f"{staff.employee_no} {staff.name}"


def _noted(pair: tuple[str, str], note: str) -> str:
    """The message variant with the reviewer's note, or the one without."""
    return pair[0] if note else pair[1]


def _names(reasons: tuple[ReviewReason, ...], locale: str) -> str:
    """Reason names in the reader's language, joined as that language writes lists."""
    return ("、" if locale.startswith("zh") else ", ").join(r.name_in(locale) for r in reasons)


def _local_time(moment: datetime | None, ctx: CaptureContext) -> str:
    """A time of day in the business time zone."""
    return moment.astimezone(ctx.zone).strftime(DUE_FORMAT) if moment else ""


async def _tell_agent(case: Case, business_type: BusinessType, what: str, template: str,
                      params: dict[str, Any] | None = None,
                      reasons: tuple[ReviewReason, ...] = (),
                      buttons: outbox.ButtonRows | None = None) -> None:
    """Queue the result for the case's agent, in his language, once per revision (C8)."""
    agent = await Staff.get(id=case.agent_id)  # type: ignore[attr-defined]
    locale = locale_of(agent)
    values = {"case_no": case.case_no, "business_type": business_type.name_in(locale),
              "reasons": _names(reasons, locale), **(params or {})}
    await outbox.enqueue(agent.id, template, values, buttons=buttons,
                         idempotency_key=f"case:{case.id}:r{case.revision}:{what}:{agent.id}")


async def _ask_second_approval(actor: Actor, case: Case, business_type: BusinessType) -> None:
    """Tell the other reviewers of the org chain that a second approval is needed (S2)."""
    org = await Org.get(id=case.org_id)  # type: ignore[attr-defined]
    for reviewer in await staff_in_chain(org, Role.REVIEWER):
        if reviewer.id in (actor.staff_id, case.agent_id):  # type: ignore[attr-defined]
            continue
        await outbox.enqueue(
            reviewer.id, SECOND_APPROVAL_TO_REVIEWERS,
            {"case_no": case.case_no, "reviewer": actor.label,
             "business_type": business_type.name_in(locale_of(reviewer))},
            idempotency_key=f"case:{case.id}:r{case.revision}:second_approval:{reviewer.id}",
            buttons=reviewer_buttons(case.id),
        )


async def _alert_operations(actor: Actor, case: Case, note: str) -> None:
    """Alert operations management and IT of the org chain that a case waits on hold (C6)."""
    org = await Org.get(id=case.org_id)  # type: ignore[attr-defined]
    params = {"case_no": case.case_no, "org": org.name, "reviewer": actor.label, "note": note}
    for person in await staff_in_chain(org, Role.OPS_ADMIN, Role.IT_ADMIN):
        await outbox.enqueue(
            person.id, _noted(HELD_TO_OPERATIONS, note), params,
            idempotency_key=f"case:{case.id}:r{case.revision}:held_alert:{person.id}",
            buttons=[[(OPEN_IN_WEB, f"/cases/{case.id}")]],
        )


# --- reasons ----------------------------------------------------------------------------


DEFAULT_REASONS: tuple[tuple[str, ReasonKind, str, str, tuple[str, ...]], ...] = (
    ("unclear_image", ReasonKind.RETURN, "影像不清晰", "Unclear image",
     (PhotoKind.ID_FRONT.value, PhotoKind.ID_BACK.value, PhotoKind.ONSITE_WITH_AGENT.value)),
    ("incomplete_papers", ReasonKind.RETURN, "资料不完整", "Incomplete papers",
     (PhotoKind.SIGNED_FORM.value,)),
    ("portrait_mismatch", ReasonKind.RETURN, "现场照人像不一致", "Portrait does not match",
     (PhotoKind.ONSITE_WITH_AGENT.value,)),
    ("id_expired_or_invalid", ReasonKind.RETURN, "身份证件过期或无效",
     "ID card expired or invalid", (PhotoKind.ID_FRONT.value, PhotoKind.ID_BACK.value)),
    ("customer_data_wrong", ReasonKind.RETURN, "客户信息有误", "Customer data wrong",
     (RETAKE_CUSTOMER,)),
    ("other_return", ReasonKind.RETURN, "其他（见备注）", "Other (see note)", ()),
    ("networked_check_failed", ReasonKind.REJECT, "联网核查未通过",
     "Networked identity check failed", ()),
    ("customer_not_present", ReasonKind.REJECT, "客户本人未到场", "Customer not present in person",
     ()),
    ("identity_doubt", ReasonKind.REJECT, "身份存疑", "Identity in doubt", ()),
    ("other_reject", ReasonKind.REJECT, "其他（见备注）", "Other (see note)", ()),
)


async def active_reasons(kind: ReasonKind) -> list[ReviewReason]:
    """The managed reasons reviewers may pick for a return or a rejection (C7)."""
    return await ReviewReason.filter(kind=kind, active=True).order_by("sort_order", "code")


async def seed_default_reasons() -> int:
    """Create the standard reason list where missing; returns how many were added."""
    added = 0
    for position, (code, kind, name_zh, name_en, items) in enumerate(DEFAULT_REASONS):
        _, created = await ReviewReason.get_or_create(code=code, defaults={
            "kind": kind, "name_zh": name_zh, "name_en": name_en, "retake_items": list(items),
            "sort_order": (position + 1) * 10})
        added += created
    return added


# --- case page --------------------------------------------------------------------------


async def case_detail(actor: Actor, case_id: int, ctx: CaptureContext) -> CaseDetail:
    """The case page for a case viewer of its org subtree or its own agent (C6, C10)."""
    summary = await case_summary(actor, case_id, ctx)
    case = await Case.get(id=case_id).prefetch_related(
        "agent", "org", "claimed_by", "first_approved_by", "business_type")
    photos = await CasePhoto.filter(case_id=case.id).order_by("revision", "id")
    events = await CaseEvent.filter(case_id=case.id).order_by("id")
    decisions = await CaseDecision.filter(case_id=case.id).prefetch_related("reviewer").order_by(
        "id")
    async with in_transaction():
        await audit.record(actor, "case.view", "case", case.id,
                           org_id=case.org_id,  # type: ignore[attr-defined]
                           detail={"case_no": case.case_no})
    return CaseDetail(
        summary=summary, agent_name=case.agent.name, org_name=case.org.name,
        claimed_by_id=case.claimed_by_id,  # type: ignore[attr-defined]
        claimed_by_name=case.claimed_by.name if case.claimed_by else "",
        first_approved_by_id=case.first_approved_by_id,  # type: ignore[attr-defined]
        first_approved_by_name=case.first_approved_by.name if case.first_approved_by else "",
        four_eyes=case.business_type.four_eyes, retake_items=tuple(case.retake_items),
        photos=tuple(PhotoView(p.id, p.kind.value, p.revision, p.sha256, p.width, p.height,
                               p.uploaded_at) for p in photos),
        events=tuple(events),
        decisions=tuple(DecisionView(d.kind.value, d.revision, d.reviewer.name,
                                     tuple(d.reason_codes), tuple(d.retake_items), d.note,
                                     d.decided_at) for d in decisions),
    )


async def photo_for(actor: Actor, case_id: int, sha256: str) -> CasePhoto:
    """A photo of a case the actor may see; NotFound for anything else (C9, C10)."""
    if not SHA256_HEX.fullmatch(sha256):
        raise NotFound(NO_PHOTO)
    try:
        case = await visible_case(actor, case_id)
    except (NotFound, PermissionDenied):
        raise NotFound(NO_PHOTO) from None
    photo = await CasePhoto.filter(case_id=case.id, sha256=sha256).first()
    if photo is None:
        raise NotFound(NO_PHOTO)
    return photo


# --- SLA --------------------------------------------------------------------------------


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
    """Send the half-time reminder once per revision: to the claimer, else to the reviewers."""
    async with in_transaction():
        won = await Case.filter(id=case.id, revision=case.revision, status__in=SLA_STATUSES,
                                sla_reminded_at=None).update(sla_reminded_at=now)
        if not won:
            return 0
        business_type = await BusinessType.get(id=case.business_type_id)  # type: ignore[attr-defined]
        claimer = case.claimed_by_id  # type: ignore[attr-defined]
        if claimer is not None:
            recipients = [await Staff.get(id=claimer)]
            template, buttons = REMINDER_TO_CLAIMER, [[(OPEN_IN_WEB, f"/cases/{case.id}")]]
        else:
            org = await Org.get(id=case.org_id)  # type: ignore[attr-defined]
            recipients = [r for r in await staff_in_chain(org, Role.REVIEWER)
                          if r.id != case.agent_id]  # type: ignore[attr-defined]
            template, buttons = REMINDER_TO_REVIEWERS, reviewer_buttons(case.id)
        assert case.review_due_at is not None
        params = {"case_no": case.case_no, "due": _local_time(case.review_due_at, ctx),
                  "minutes": max(0, int((case.review_due_at - now).total_seconds() // 60))}
        for person in recipients:
            await outbox.enqueue(
                person.id, template,
                params | {"business_type": business_type.name_in(locale_of(person))},
                idempotency_key=f"case:{case.id}:r{case.revision}:sla_reminder:{person.id}",
                buttons=buttons)
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
                  "due": _local_time(case.review_due_at, ctx),
                  "minutes": int((now - case.review_due_at).total_seconds() // 60),
                  "reviewer": _label(holder) if holder else ""}
        template = ESCALATION_TO_SUPERVISORS[0 if holder else 1]
        supervisors = await staff_in_chain(org, Role.SUPERVISOR)
        for person in supervisors:
            await outbox.enqueue(
                person.id, template,
                params | {"business_type": business_type.name_in(locale_of(person))},
                idempotency_key=(f"case:{case.id}:r{case.revision}:sla_escalation:{round_no}:"
                                 f"{person.id}"),
                buttons=[[(OPEN_IN_WEB, f"/cases/{case.id}")]])
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
