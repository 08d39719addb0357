"""Central review: claim, decisions (four eyes) and the results told to the agent (C6–C8, S2).

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
The queue is in `review_queue`, the review deadline in `review_sla`, the case page in
`case_file`, the managed reasons in `review_reasons`.
A claim, explicit or by deciding, edits the notices that asked the other reviewers to act on
the revision ("being reviewed by …", buttons gone) instead of sending new messages; a
release edits them back to offer the case (issue 14).
A first approval gives the claim back, so any other reviewer may give the second one; the
first approver may no longer decide that revision. An on-hold case keeps its claimer; its
claimer may release it and another reviewer may then claim it.
A reviewer approves a revision only once he opened its photos (`review_photos`, C6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from domain.cases import review_duty
from domain.cases.capture_gate import CaptureContext
from domain.cases.case_timeline import record_event
from domain.cases.cases import reviewer_intent
from domain.cases.review_photos import refuse_unseen
from domain.models import (
    BusinessType,
    Case,
    CaseDecision,
    CaseEventKind,
    CaseStatus,
    DecisionKind,
    Org,
    OutboxMessage,
    PhotoKind,
    ReasonKind,
    ReviewReason,
    Role,
    Staff,
)
from domain.models.cases import RETAKE_CUSTOMER
from domain.platform import events, outbox
from domain.platform.access import Permission, require, row_in_scope
from domain.platform.actors import Actor, person_label
from domain.platform.chains import staff_in_chain
from domain.platform.chat import locale_of
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError, PermissionDenied
from domain.platform.events import CaseApproved, CaseRejected
from domain.platform.intents import Action, Intent, SubjectType

OPEN_STATUSES = (CaseStatus.SUBMITTED, CaseStatus.IN_REVIEW, CaseStatus.ON_HOLD)
DECIDED_STATUSES = (CaseStatus.APPROVED, CaseStatus.RETURNED, CaseStatus.REJECTED)
HOLDABLE_STATUSES = (CaseStatus.SUBMITTED, CaseStatus.IN_REVIEW)
SLA_STATUSES = HOLDABLE_STATUSES  # a held case waits for the check system, not the reviewer
FINAL_DECISIONS = (DecisionKind.APPROVE, DecisionKind.RETURN, DecisionKind.REJECT)
MAX_NOTE_LENGTH = 1000

NO_CASE = N_("No such case.")
CHANGED = N_("Case %(case_no)s was changed by another reviewer while you were deciding; "
             "open it again to see where it stands.")
CLAIMED_BY_OTHER = N_("Case %(case_no)s is being reviewed by %(reviewer)s.")
BACK_IN_QUEUE = N_("Case %(case_no)s is back in the review queue.")
# The notices asking reviewers to act on a revision: a claim edits them to say who reviews
# it ("case.claimed"), a release edits those back to offer it (issue 14).
ASKING_NOTICES = ("case.submitted", "case.second_approval", "case.sla_reminder")
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


@dataclass(frozen=True)
class _Outcome:
    """What one decision does to a case and records."""

    kind: DecisionKind
    status: CaseStatus
    event: CaseEventKind
    reasons: tuple[ReviewReason, ...] = ()
    retake_items: tuple[str, ...] = ()
    note: str = ""


# --- claim and release ------------------------------------------------------------------


def awaiting_second_approval(case: Case) -> bool:
    """A four-eyes case with its first approval that is still open for the second (S2); a
    decided case awaits nothing, whoever approved it first."""
    return (case.first_approved_by_id is not None  # type: ignore[attr-defined]
            and case.status in OPEN_STATUSES)


async def claim(actor: Actor, case_id: int, now: datetime | None = None) -> Case:
    """Take a submitted case for review; refused when another reviewer holds it; the other
    reviewers' notices of it are edited to say who reviews it (C8, issue 14)."""
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
        await _mark_notices_claimed(actor, updated, moment)
    return updated


async def release(actor: Actor, case_id: int) -> Case:
    """Give a claimed case back to the queue; only its claimer may; the other reviewers'
    notices of it offer it again (C8, issue 14)."""
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
        await _edit_notices(actor, updated, BACK_IN_QUEUE,
                            reviewer_intent("case.submitted", updated),
                            f"released:{moment.timestamp():.6f}", ("case.claimed",))
    return updated


# --- decisions --------------------------------------------------------------------------


async def approve(actor: Actor, case_id: int, ctx: CaptureContext,
                  now: datetime | None = None) -> Case:
    """Approve; four-eyes types need a second, different reviewer (C6, S2); the final
    approval issues the reserved voucher serial to the customer (V1); only by a reviewer who
    opened the revision's photos (C6)."""
    moment = now or utcnow()
    async with in_transaction():
        case, business_type = await _open_for_decision(actor, case_id, OPEN_STATUSES)
        await refuse_unseen(actor, case)
        if business_type.four_eyes and case.first_approved_by_id is None:  # type: ignore[attr-defined]
            updated = await _decide(actor, case, _Outcome(
                DecisionKind.FIRST_APPROVAL, CaseStatus.IN_REVIEW, CaseEventKind.FIRST_APPROVED),
                moment)
            await _ask_second_approval(actor, updated, business_type, moment)
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
                          actions=(Action.RETAKE,))
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
    case = await row_in_scope(actor, Case, case_id, NO_CASE)
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
        raise DomainError(CLAIMED_BY_OTHER, case_no=case.case_no, reviewer=person_label(holder))
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
    if case.claimed_by_id is None:  # type: ignore[attr-defined]  # claimed by deciding
        await _mark_notices_claimed(actor, updated, moment)
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


def _noted(pair: tuple[str, str], note: str) -> str:
    """The message variant with the reviewer's note, or the one without."""
    return pair[0] if note else pair[1]


def _names(reasons: tuple[ReviewReason, ...], locale: str) -> str:
    """Reason names in the reader's language, joined as that language writes lists."""
    return ("、" if locale.startswith("zh") else ", ").join(r.name_in(locale) for r in reasons)


async def _tell_agent(case: Case, business_type: BusinessType, what: str, template: str,
                      params: dict[str, Any] | None = None,
                      reasons: tuple[ReviewReason, ...] = (),
                      actions: tuple[Action, ...] = ()) -> None:
    """Queue the result for the case's agent, in his language, once per revision (C8)."""
    agent = await Staff.get(id=case.agent_id)  # type: ignore[attr-defined]
    locale = locale_of(agent)
    values = {"case_no": case.case_no, "business_type": business_type.name_in(locale),
              "reasons": _names(reasons, locale), **(params or {})}
    await outbox.enqueue(agent.id, template, values,
                         intent=Intent.of(f"case.{what}", case.id, *actions,
                                          revision=case.revision),
                         idempotency_key=f"case:{case.id}:r{case.revision}:{what}:{agent.id}")


async def _ask_second_approval(actor: Actor, case: Case, business_type: BusinessType,
                               moment: datetime) -> None:
    """Tell the other on-duty reviewers of the org chain, every other one when none is on
    duty, that a second approval is needed (S2, issue 14)."""
    assert actor.staff_id is not None
    for reviewer in await review_duty.reviewers_to_tell(case, actor.staff_id, now=moment):
        await outbox.enqueue(
            reviewer.id, SECOND_APPROVAL_TO_REVIEWERS,
            {"case_no": case.case_no, "reviewer": actor.label,
             "business_type": business_type.name_in(locale_of(reviewer))},
            intent=reviewer_intent("case.second_approval", case),
            idempotency_key=f"case:{case.id}:r{case.revision}:second_approval:{reviewer.id}",
        )


async def _mark_notices_claimed(actor: Actor, case: Case, moment: datetime) -> None:
    """A claim edits the other reviewers' notices of the revision to say who reviews it,
    without buttons, instead of sending them new messages (issue 14)."""
    await _edit_notices(actor, case, CLAIMED_BY_OTHER,
                        Intent.of("case.claimed", case.id, revision=case.revision),
                        f"claimed:{moment.timestamp():.6f}", ASKING_NOTICES)


async def _edit_notices(actor: Actor, case: Case, template: str, intent: Intent,
                        what: str, showing: tuple[str, ...]) -> None:
    """Edit the notices of this revision to the reviewers other than the actor that show
    now (as sent, or as last edited) one of the kinds `showing`: sent ones in their chat,
    unsent ones in place (issue 14)."""
    rows = await OutboxMessage.filter(
        subject_type=SubjectType.CASE.value, subject_id=case.id,
        subject_revision=case.revision, kind__in=(*ASKING_NOTICES, "case.claimed"),
    ).exclude(recipient_id=actor.staff_id).order_by("id").values(
        "id", "kind", "edit_of", "idempotency_key")
    keys = {row["id"]: row["idempotency_key"] for row in rows if row["edit_of"] is None}
    shown = {row["edit_of"] or row["id"]: row["kind"] for row in rows}
    params = {"case_no": case.case_no, "reviewer": actor.label}
    for notice, key in keys.items():
        if shown[notice] in showing:
            await outbox.enqueue_edit(key, template, params, intent=intent,
                                      idempotency_key=f"{key}:{what}")


async def _alert_operations(actor: Actor, case: Case, note: str) -> None:
    """Alert operations management and IT of the org chain that a case waits on hold (C6)."""
    org = await Org.get(id=case.org_id)  # type: ignore[attr-defined]
    params = {"case_no": case.case_no, "org": org.name, "reviewer": actor.label, "note": note}
    for person in await staff_in_chain(org, Role.OPS_ADMIN, Role.IT_ADMIN):
        await outbox.enqueue(
            person.id, _noted(HELD_TO_OPERATIONS, note), params,
            intent=Intent.of("case.held_alert", case.id, Action.OPEN, revision=case.revision),
            idempotency_key=f"case:{case.id}:r{case.revision}:held_alert:{person.id}",
        )
