"""Customer callbacks (回访): approved cases drawn by their business type's rate, scheduled
inside the calling hours, worked by callback agents (K1, Q4); their calendar is in
`callback_calendar`, their reminders and escalations in `callback_deadlines`.

A case is called back when its draw is below its business type's callback rate, so 0 %
draws none, 100 % every case, and a rerun draws the same cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q, Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from domain.ledgers import major_incidents
from domain.ledgers.major_incidents import DEFAULT_INCIDENT_RULES, IncidentRules
from domain.models import (
    Callback,
    CallbackAttempt,
    CallbackOutcome,
    CallbackStatus,
    Case,
    CaseStatus,
    Incident,
    IncidentKind,
    Org,
    Role,
    Staff,
    Voucher,
    VoucherState,
    VoucherType,
)
from domain.oversight._independence import hands_on, require_independent
from domain.oversight.callback_calendar import close_of_day, draw_of, plan_callback, retry_slot
from domain.platform import audit, outbox
from domain.platform.access import Permission, can, require, require_scope, scope_prefix
from domain.platform.actors import Actor, person_label, system_actor
from domain.platform.calendar import DEFAULT_ZONE, Calendar
from domain.platform.chains import staff_in_chain
from domain.platform.chat import locale_of
from domain.platform.clock import day_bounds, utcnow
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.identity import mask_mobile
from domain.platform.intents import Intent
from domain.platform.paging import PAGE_ONE, Page, PageRequest, keyset_page
from domain.platform.privacy import (
    DEFAULT_REVEAL_LIMITS,
    FieldCipher,
    RevealLimits,
    audited_refusal,
    charge_reveal,
)

OPEN = (CallbackStatus.SCHEDULED, CallbackStatus.ATTEMPTED)
UNREACHED = "unreached"
RESULTS = (*(outcome.value for outcome in CallbackOutcome), UNREACHED)
QUESTIONS = ("in_person", "risk_hints", "voucher_received")
SAMPLE_BATCH = 500
MAX_COMMENT = 1000
NO_SUCH_CALLBACK = N_("No such callback.")
# Roles that see every callback of their subtree; a plain callback agent sees his own and
# the unassigned ones.
OVERSEERS = (Role.OPS_ADMIN, Role.SUPERVISOR, Role.AUDITOR, Role.SYSADMIN)
MISSING_ANSWER: dict[str, str] = {
    "in_person": N_("Record whether the customer did the business in person."),
    "risk_hints": N_("Record whether the agent gave the customer the risk hints."),
    "voucher_received": N_("Record whether the customer received the card or key."),
}
DENIAL_ALERT = N_("Callback of case %(case_no)s (%(business_type)s): the customer denies having "
                  "done this business with %(agent)s. Major incident #%(incident)s is open; "
                  "act at once.")
COMPLAINT_ALERT = N_("Callback of case %(case_no)s (%(business_type)s): the customer complained "
                     "about the service of %(agent)s: %(comment)s (incident #%(incident)s).")


class Due(StrEnum):
    """The due-time filters of the callback list, as the dashboard counts them (K1, S1)."""

    TODAY = "today"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class CallRecord:
    """One call as the callback agent records it against the script (K1).

    result: confirmed, denied, complaint or unreached; answers "yes" / "no" (blank when not
    asked); attempts_seen: the attempts the form was shown with, to refuse a stale form.
    """

    result: str
    in_person: str = ""
    risk_hints: str = ""
    voucher_received: str = ""
    satisfaction: int | None = None
    comment: str = ""
    attempts_seen: int = 0


@dataclass(frozen=True)
class CallbackView:
    """A callback with what its page shows: the masked mobile, the case's facts, the calls."""

    callback: Callback
    mobile_masked: str
    overdue: bool
    may_record: bool
    voucher_name: str = ""  # blank: the business type issues no voucher
    voucher_serial: str = ""
    attempts: tuple[CallbackAttempt, ...] = ()

    @property
    def issues_voucher(self) -> bool:
        """True when the customer was to receive a card or key (K1)."""
        return bool(self.voucher_name)


# --- sampling ------------------------------------------------------------------------------


async def sample_callbacks(now: datetime, calendar: Calendar) -> int:
    """Draw every approved case not drawn yet by its business type's rate and schedule the
    drawn ones; each case is considered once, also under reruns and two processes (K1)."""
    ids = await Case.filter(status=CaseStatus.APPROVED, callback_drawn_at=None).order_by(
        "id").limit(SAMPLE_BATCH).values_list("id", flat=True)
    return sum([await _consider(case_id, now, calendar) for case_id in ids])


async def _consider(case_id: int, now: datetime, calendar: Calendar) -> int:
    """Mark one case drawn (the conditional update decides who does it) and schedule its
    callback when the draw falls under the rate; 1 when a callback was scheduled."""
    async with in_transaction():
        won = await Case.filter(id=case_id, status=CaseStatus.APPROVED,
                                callback_drawn_at=None).update(callback_drawn_at=now)
        if not won:
            return 0
        case = await Case.get(id=case_id).prefetch_related("business_type", "org")
        draw = draw_of(case.case_no or str(case.id))
        if draw >= case.business_type.callback_rate:
            return 0
        slot, due = plan_callback(case.decided_at or now, draw, now, calendar)
        callback = await Callback.create(
            case=case, org=case.org, business_type=case.business_type,
            field_agent_id=case.agent_id,  # type: ignore[attr-defined]
            assigned_to_id=await _least_loaded_agent(case.org, await hands_on(case.id)),
            draw=draw,
            scheduled_at=slot, due_at=due, created_at=now)
        await audit.record(system_actor("callbacks"), "callback.scheduled", "callback",
                           callback.id, org_id=case.org.id, detail={
                               "case_no": case.case_no, "draw": draw,
                               "rate": case.business_type.callback_rate,
                               "assigned_to": callback.assigned_to_id})  # type: ignore[attr-defined]
    return 1


async def _least_loaded_agent(org: Org, skip: set[int]) -> int | None:
    """The active callback agent of the nearest org of the chain that has any, with the
    fewest open callbacks, none of `skip` (who worked the case); None when the chain has
    none (K1, S2)."""
    agents = [a for a in await staff_in_chain(org, Role.CALLBACK_AGENT) if a.id not in skip]
    if not agents:
        return None
    paths = dict(await Org.filter(id__in={a.org_id for a in agents}  # type: ignore[attr-defined]
                                  ).values_list("id", "path"))
    nearest = max(len(path) for path in paths.values())
    ids = [a.id for a in agents if len(paths[a.org_id]) == nearest]  # type: ignore[attr-defined]
    loads = dict(await Callback.filter(assigned_to_id__in=ids, status__in=OPEN)
                 .annotate(n=Count("id")).group_by("assigned_to_id")
                 .values_list("assigned_to_id", "n"))
    return min(ids, key=lambda staff_id: (loads.get(staff_id, 0), staff_id))


# --- reading -------------------------------------------------------------------------------


def _overseer(actor: Actor) -> bool:
    """True when the actor sees every callback of his subtree, not only his own (K1)."""
    return actor.is_system or actor.has(*OVERSEERS)


def _mine_or_free(actor: Actor, callback: Callback) -> bool:
    """The callback is assigned to the actor or to nobody."""
    return callback.assigned_to_id in (None, actor.staff_id)  # type: ignore[attr-defined]


def open_callbacks(actor: Actor) -> QuerySet[Callback]:
    """The open callbacks of the actor's subtree he may see: a callback agent his own and the
    unassigned ones, overseers all (K1)."""
    require(actor, Permission.CALLBACK_VIEW)
    orgs = Subquery(Org.filter(path__startswith=scope_prefix(actor)).values("id"))
    query = Callback.filter(status__in=OPEN, org_id__in=orgs)
    if not _overseer(actor):
        query = query.filter(Q(assigned_to_id=actor.staff_id) | Q(assigned_to_id__isnull=True))
    return query


def due_condition(due: Due | None, now: datetime, zone: ZoneInfo) -> Q:
    """The one definition of the callbacks to work, shared by the list and the dashboard
    (K1, S1): due today, those whose call slot falls before the end of the business day
    (in the business time zone, not UTC) and whose deadline has not passed; overdue, those
    past their deadline; None, both: the day's work."""
    if due is Due.OVERDUE:
        return Q(due_at__lt=now)
    today = Q(due_at__gte=now,
              scheduled_at__lt=day_bounds(now.astimezone(zone).date(), zone)[1])
    return today if due is Due.TODAY else today | Q(due_at__lt=now)


async def callback_queue(actor: Actor, now: datetime, cipher: FieldCipher,
                         paging: PageRequest = PAGE_ONE, *, upcoming: bool = False,
                         due: Due | None = None, zone: ZoneInfo = DEFAULT_ZONE
                         ) -> Page[CallbackView]:
    """Open callbacks the actor may see that are to be called today or overdue (all open
    ones with `upcoming`; only those due today or only the overdue ones with `due`),
    earliest slot first (K1, S1)."""
    query = open_callbacks(actor)
    if due is not None or not upcoming:
        query = query.filter(due_condition(due, now, zone))
    page = await keyset_page(query, ("scheduled_at", "id"), paging, lambda rows: rows.
                             prefetch_related("case", "business_type", "org", "field_agent",
                                              "assigned_to"))
    return page.map(lambda row: _view(actor, row, cipher, now))


def _view(actor: Actor, callback: Callback, cipher: FieldCipher, now: datetime,
          **extra: Any) -> CallbackView:
    """A loaded callback as its list line and page show it."""
    mobile = callback.case.mobile_enc
    return CallbackView(
        callback=callback, mobile_masked=mask_mobile(cipher.decrypt(mobile)) if mobile else "",
        overdue=callback.status in OPEN and callback.due_at <= now,
        may_record=callback.status in OPEN and can(actor, Permission.CALLBACK_WORK)
        and _mine_or_free(actor, callback), **extra)


async def _visible(actor: Actor, callback_id: int) -> Callback:
    """A callback of the actor's subtree that he may see, with its case and people (K1)."""
    require(actor, Permission.CALLBACK_VIEW)
    callback = await Callback.get_or_none(id=callback_id).prefetch_related(
        "case", "business_type", "org", "field_agent", "assigned_to", "completed_by",
        "incident")
    if callback is None:
        raise NotFound(NO_SUCH_CALLBACK)
    require_scope(actor, callback.org, NO_SUCH_CALLBACK)
    if not _overseer(actor) and not _mine_or_free(actor, callback):
        raise PermissionDenied(N_("This callback is assigned to another callback agent."))
    return callback


async def callback_detail(actor: Actor, callback_id: int, cipher: FieldCipher,
                          now: datetime | None = None) -> CallbackView:
    """A callback with its case's facts, the voucher handed over and every call (K1)."""
    callback = await _visible(actor, callback_id)
    attempts = await CallbackAttempt.filter(callback_id=callback.id).prefetch_related(
        "agent").order_by("number")
    return _view(actor, callback, cipher, now or utcnow(), attempts=tuple(attempts),
                 **await _voucher_of(callback))


async def _voucher_of(callback: Callback) -> dict[str, str]:
    """The name of the voucher type the case handed over and its serial (V1, K1)."""
    code = callback.business_type.voucher_type_code
    if not code:
        return {}
    voucher_type = await VoucherType.get_or_none(code=code)
    issued = await Voucher.filter(case_id=callback.case.id, state=VoucherState.ISSUED
                                  ).order_by("-id").first()
    return {"voucher_name": voucher_type.name_zh if voucher_type else code,
            "voucher_serial": issued.serial if issued else ""}


async def reveal_mobile(actor: Actor, callback_id: int, cipher: FieldCipher,
                        limits: RevealLimits = DEFAULT_REVEAL_LIMITS) -> str:
    """The customer's mobile in clear for the callback agent who calls (or a holder of the
    reveal permission), audited, within the person's hourly reveal rate; a refusal is
    audited too (C10, K1)."""
    async with (audited_refusal(actor, "callback.customer_reveal", "callback", callback_id),
                in_transaction()):
        callback = await _visible(actor, callback_id)
        working = callback.status in OPEN and can(actor, Permission.CALLBACK_WORK)
        if not working and not can(actor, Permission.CUSTOMER_DATA_REVEAL):
            raise PermissionDenied(N_("You do not have permission for this action."))
        mobile = callback.case.mobile_enc
        if mobile is None:
            raise DomainError(N_("No customer data has been entered for this case yet."))
        await audit.record(actor, "callback.customer_reveal", "callback", callback.id,
                           org_id=callback.org.id, detail={"case_no": callback.case.case_no})
        await charge_reveal(actor, limits)
    return cipher.decrypt(mobile)


# --- recording calls -----------------------------------------------------------------------


async def record_call(actor: Actor, callback_id: int, call: CallRecord, calendar: Calendar,
                      now: datetime | None = None, *,
                      rules: IncidentRules = DEFAULT_INCIDENT_RULES) -> Callback:
    """Record one call against the script by the assigned callback agent (an unassigned
    callback goes to whoever calls): confirmed, denied (a major incident, Q4), complaint
    (an incident), or not reached (another time of day, unreachable after the last
    attempt); a finished callback, a stale form or a case the caller captured or reviewed
    is refused (K1, S2)."""
    require(actor, Permission.CALLBACK_WORK)
    moment = now or utcnow()
    if call.result not in RESULTS:
        raise DomainError(N_("Choose the result of the call."))
    comment = call.comment.strip()
    if len(comment) > MAX_COMMENT:
        raise DomainError(N_("The comment may be at most %(n)s characters."), n=MAX_COMMENT)
    async with in_transaction():
        callback = await _workable(actor, callback_id, call.attempts_seen)
        if call.result == UNREACHED:
            await _not_reached(actor, callback, comment, moment, calendar)
        else:
            await _reached(actor, callback, call, CallbackOutcome(call.result), comment, moment,
                           rules)
    return await Callback.get(id=callback_id)


async def _workable(actor: Actor, callback_id: int, attempts_seen: int) -> Callback:
    """The callback, locked, when the actor may call on it and it is as his form showed it."""
    callback = await Callback.filter(id=callback_id).select_for_update().first()
    if callback is None:
        raise NotFound(NO_SUCH_CALLBACK)
    await callback.fetch_related("org", "business_type", "case", "field_agent")
    require_scope(actor, callback.org, NO_SUCH_CALLBACK)
    if not _mine_or_free(actor, callback):
        raise PermissionDenied(N_("This callback is assigned to another callback agent."))
    await require_independent(actor, callback.case.id, N_(
        "You captured or reviewed case %(case_no)s: another callback agent must call the "
        "customer."), case_no=callback.case.case_no)
    if callback.status not in OPEN:
        raise DomainError(N_("The callback of case %(case_no)s is already finished; the form "
                             "you sent is out of date."), case_no=callback.case.case_no)
    if callback.attempts != attempts_seen:
        raise DomainError(N_("Another call on this callback was recorded after you opened "
                             "it; look at it again."))
    return callback


async def _log_call(actor: Actor, callback: Callback, moment: datetime, changes: dict[str, Any],
                    outcome: CallbackOutcome | None, note: str) -> int:
    """Count the call on the callback (only while nobody else did) and append it (K1)."""
    number = callback.attempts + 1
    assignee = callback.assigned_to_id or actor.staff_id  # type: ignore[attr-defined]
    won = await Callback.filter(id=callback.id, attempts=callback.attempts, status__in=OPEN
                                ).update(attempts=number, assigned_to_id=assignee, **changes)
    if not won:
        raise DomainError(N_("Another call on this callback was recorded after you opened "
                             "it; look at it again."))
    await CallbackAttempt.create(callback_id=callback.id, number=number,
                                 agent_id=actor.staff_id, at=moment,
                                 reached=outcome is not None, outcome=outcome, note=note)
    return number


async def _not_reached(actor: Actor, callback: Callback, note: str, moment: datetime,
                       calendar: Calendar) -> None:
    """Try again at another time of day, or give up after the last attempt (K1)."""
    last = callback.attempts + 1 >= calendar.callback_max_attempts
    if last:
        changes: dict[str, Any] = {"status": CallbackStatus.UNREACHABLE,
                                   "completed_by_id": actor.staff_id, "completed_at": moment}
    else:
        slot = retry_slot(moment, calendar)
        changes = {"status": CallbackStatus.ATTEMPTED, "scheduled_at": slot,
                   "due_at": max(callback.due_at, close_of_day(slot, calendar)),
                   "reminded_at": None}
    number = await _log_call(actor, callback, moment, changes, None, note)
    await audit.record(actor, "callback.unreachable" if last else "callback.not_reached",
                       "callback", callback.id, org_id=callback.org.id, detail={
                           "case_no": callback.case.case_no, "attempt": number,
                           "next_slot": None if last else changes["scheduled_at"].isoformat()})


def _answers(call: CallRecord, outcome: CallbackOutcome, issues_voucher: bool
             ) -> dict[str, bool]:
    """The script's yes/no answers; each is required unless the customer denies (K1)."""
    asked = QUESTIONS if issues_voucher else QUESTIONS[:2]
    given = {question: getattr(call, question).strip().lower() for question in asked}
    for question, value in given.items():
        if value not in ("yes", "no") and outcome != CallbackOutcome.DENIED:
            raise DomainError(MISSING_ANSWER[question])
    answers = {question: value == "yes" for question, value in given.items()
               if value in ("yes", "no")}
    if outcome == CallbackOutcome.CONFIRMED and not answers["in_person"]:
        raise DomainError(N_("The customer says he did not do this business in person: record "
                             "it as a denial."))
    return answers


def _satisfaction(value: int | None, outcome: CallbackOutcome) -> int | None:
    """Satisfaction 1 to 5, required unless the customer denies the business (K1)."""
    if value is None and outcome == CallbackOutcome.DENIED:
        return None
    if value is None or not 1 <= value <= 5:
        raise DomainError(N_("Rate the customer's satisfaction from 1 to 5."))
    return value


async def _reached(actor: Actor, callback: Callback, call: CallRecord, outcome: CallbackOutcome,
                   comment: str, moment: datetime, rules: IncidentRules) -> None:
    """Finish the callback with the customer's answers; a denial or a complaint opens an
    incident and alerts the people responsible (K1, Q4)."""
    answers = _answers(call, outcome, bool(callback.business_type.voucher_type_code))
    satisfaction = _satisfaction(call.satisfaction, outcome)
    if outcome != CallbackOutcome.CONFIRMED and not comment:
        raise DomainError(N_("Write down what the customer said."))
    number = await _log_call(actor, callback, moment, {
        "status": CallbackStatus.COMPLETED, "outcome": outcome, "answers": answers,
        "satisfaction": satisfaction, "comment": comment, "completed_by_id": actor.staff_id,
        "completed_at": moment}, outcome, comment)
    await audit.record(actor, "callback.completed", "callback", callback.id,
                       org_id=callback.org.id, detail={
                           "case_no": callback.case.case_no, "attempt": number,
                           "outcome": outcome.value, "satisfaction": satisfaction})
    if outcome != CallbackOutcome.CONFIRMED:
        await _open_incident(actor, callback, outcome, comment, moment, rules)


async def _open_incident(actor: Actor, callback: Callback, outcome: CallbackOutcome,
                         comment: str, moment: datetime, rules: IncidentRules) -> Incident:
    """A denial is a major incident of the field agent (Q4); a complaint an ordinary one.
    Either alerts its people once (K1)."""
    denied = outcome == CallbackOutcome.DENIED
    reason = "callback_denied" if denied else "callback_complaint"
    agent: Staff = callback.field_agent
    incident = await Incident.create(
        kind=IncidentKind.MAJOR_ERROR if denied else IncidentKind.COMPLAINT, major=denied,
        staff=agent, org=callback.org,
        item=callback.case.case_no or "", occurred_at=callback.case.decided_at,
        description=comment, detail={"reason": reason, "callback": callback.id,
                                     "case_no": callback.case.case_no}
        | ({"major_reason": reason} if denied else {}),
        reported_by_id=actor.staff_id, reported_at=moment)
    await Callback.filter(id=callback.id).update(incident_id=incident.id)
    await audit.record(actor, "incident.reported", "incident", incident.id,
                       org_id=callback.org.id, detail={
                           "kind": incident.kind.value, "reason": reason, "major": denied,
                           "callback": callback.id})
    if denied:
        await major_incidents.major_incident_recorded(agent.id, moment, rules)
    await _alert(callback, incident, agent, comment)
    return incident


async def _alert(callback: Callback, incident: Incident, agent: Staff, comment: str) -> None:
    """Tell operations management of the org chain and the agent's supervisors at once of a
    denial, his supervisors of a complaint; once each (K1, Q4)."""
    agent_org = await Org.get(id=agent.org_id)  # type: ignore[attr-defined]
    recipients = await staff_in_chain(agent_org, Role.SUPERVISOR)
    template, kind = COMPLAINT_ALERT, "callback.complaint"
    if incident.major:
        recipients += await staff_in_chain(callback.org, Role.OPS_ADMIN)
        template, kind = DENIAL_ALERT, "callback.denied"
    params = {"case_no": callback.case.case_no, "agent": person_label(agent),
              "incident": incident.id, "comment": comment}
    for person in {row.id: row for row in recipients if row.id != agent.id}.values():
        await outbox.enqueue(
            person.id, template,
            params | {"business_type": callback.business_type.name_in(locale_of(person))},
            intent=Intent.of(kind, callback.id),
            idempotency_key=f"callback:{callback.id}:{incident.detail['reason']}:{person.id}")
