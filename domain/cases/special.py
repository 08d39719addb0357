"""Out-of-hours special approvals: an agent asks, a supervisor of his org chain decides (C2).

requested --approve--> approved (the window opens the capture gate, see cases.capture_gate)
requested --refuse--> refused
Only supervisors whose org contains the agent's org may decide; the agent is told the
result through the outbox; supervisors are told of a new request, which they may approve,
refuse or open in the web.
A window must end after it starts, must not end in the past, and may last at most
MAX_WINDOW; a decision on a request that was already decided is refused.
Times in messages are shown in the business time zone (`zone`, Asia/Shanghai unless given).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from domain.models import Org, Role, SpecialApproval, SpecialApprovalStatus, Staff
from domain.platform import audit, outbox
from domain.platform.access import (
    Permission,
    require,
    row_in_scope,
    scope_prefix,
)
from domain.platform.actors import Actor, person_label
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.chains import staff_in_chain
from domain.platform.clock import business_time, utcnow
from domain.platform.errors import N_, DomainError, PermissionDenied
from domain.platform.intents import Action, Intent
from domain.platform.paging import PAGE_ONE, Page, PageRequest, keyset_page

MAX_WINDOW = timedelta(hours=12)
MAX_REASON_LENGTH = 500

REQUEST_TO_SUPERVISORS = N_(
    "Special approval requested by %(agent)s (%(org)s) to capture cases outside working hours "
    "from %(starts)s to %(ends)s.\nReason: %(reason)s")
APPROVED_TO_AGENT = (
    N_("Your special approval for %(starts)s to %(ends)s was approved by %(supervisor)s. Note: "
       "%(note)s\nYou may capture cases in that window."),
    N_("Your special approval for %(starts)s to %(ends)s was approved by %(supervisor)s. You "
       "may capture cases in that window."),
)
REFUSED_TO_AGENT = (
    N_("Your special approval request for %(starts)s to %(ends)s was refused by "
       "%(supervisor)s. Note: %(note)s"),
    N_("Your special approval request for %(starts)s to %(ends)s was refused by "
       "%(supervisor)s."),
)
ALREADY_DECIDED: dict[SpecialApprovalStatus, str] = {
    SpecialApprovalStatus.APPROVED: N_("This special approval request has already been "
                                       "approved."),
    SpecialApprovalStatus.REFUSED: N_("This special approval request has already been "
                                      "refused."),
}


async def request_special(actor: Actor, starts_at: datetime, ends_at: datetime, reason: str,
                          now: datetime | None = None, *, zone: ZoneInfo = DEFAULT_ZONE
                          ) -> SpecialApproval:
    """A field agent asks for an out-of-hours window with a reason (C2)."""
    if actor.staff_id is None or not actor.has(Role.FIELD_AGENT):
        raise PermissionDenied(N_("Only field agents can ask for a special approval."))
    moment = now or utcnow()
    clean_reason = _check_request(starts_at, ends_at, reason, moment)
    async with in_transaction():
        staff = await Staff.get(id=actor.staff_id).prefetch_related("org")
        if await SpecialApproval.exists(
                staff_id=staff.id, starts_at__lt=ends_at, ends_at__gt=starts_at,
                status__in=[SpecialApprovalStatus.REQUESTED, SpecialApprovalStatus.APPROVED]):
            raise DomainError(N_("You already have a request or an approval for a window that "
                                 "overlaps this one."))
        approval = await SpecialApproval.create(staff=staff, org=staff.org, starts_at=starts_at,
                                                ends_at=ends_at, reason=clean_reason)
        await audit.record(actor, "special_approval.requested", "special_approval", approval.id,
                           org_id=staff.org.id, detail=_detail(approval))
        await _tell_supervisors(approval, staff, zone)
    return approval


def _check_request(starts_at: datetime, ends_at: datetime, reason: str, moment: datetime
                   ) -> str:
    """Refuse an empty reason and a window that is reversed, past or too long (C2)."""
    clean = reason.strip()
    if not clean:
        raise DomainError(N_("Give the reason why you must work outside working hours."))
    if len(clean) > MAX_REASON_LENGTH:
        raise DomainError(N_("The reason may be at most %(max)s characters long."),
                          max=MAX_REASON_LENGTH)
    if ends_at <= starts_at:
        raise DomainError(N_("The window must end after it starts."))
    if ends_at <= moment:
        raise DomainError(N_("The window must not end in the past."))
    if ends_at - starts_at > MAX_WINDOW:
        raise DomainError(N_("A special approval window may last at most %(hours)s hours."),
                          hours=int(MAX_WINDOW.total_seconds() // 3600))
    return clean


async def decide_special(actor: Actor, approval_id: int, approve: bool, note: str = "",
                         now: datetime | None = None, *, zone: ZoneInfo = DEFAULT_ZONE
                         ) -> SpecialApproval:
    """A supervisor of the agent's org chain approves or refuses a request once (C2)."""
    require(actor, Permission.SPECIAL_APPROVAL_DECIDE)
    moment = now or utcnow()
    clean_note = note.strip()[:MAX_REASON_LENGTH]
    async with in_transaction():
        approval = await _approval_in_scope(actor, approval_id)
        if approval.staff_id == actor.staff_id:  # type: ignore[attr-defined]
            raise PermissionDenied(N_("You cannot decide your own special approval request."))
        if approve and approval.ends_at <= moment:
            raise DomainError(N_("This window has already ended; it can no longer be "
                                 "approved."))
        status = SpecialApprovalStatus.APPROVED if approve else SpecialApprovalStatus.REFUSED
        won = await SpecialApproval.filter(
            id=approval.id, status=SpecialApprovalStatus.REQUESTED).update(
            status=status, decided_by_id=actor.staff_id, decided_at=moment,
            decision_note=clean_note)
        if not won:
            current = await SpecialApproval.get(id=approval.id)
            raise DomainError(ALREADY_DECIDED[current.status])
        decided = await SpecialApproval.get(id=approval.id).prefetch_related("staff")
        await audit.record(actor, f"special_approval.{status.value}", "special_approval",
                           decided.id, org_id=approval.org.id,
                           detail=_detail(decided) | {"note": clean_note})
        await _tell_agent(decided, actor, zone)
    return decided


async def list_special(actor: Actor, status: SpecialApprovalStatus | None = None,
                       paging: PageRequest = PAGE_ONE) -> Page[SpecialApproval]:
    """A page of the requests of the actor's org subtree, newest first, with staff
    prefetched (C2)."""
    require(actor, Permission.SPECIAL_APPROVAL_VIEW)
    query = SpecialApproval.filter(org__path__startswith=scope_prefix(actor))
    if status is not None:
        query = query.filter(status=status)
    return await keyset_page(query, ("-id",), paging,
                             lambda rows: rows.prefetch_related("staff", "org", "decided_by"))


async def my_requests(actor: Actor) -> list[SpecialApproval]:
    """The acting agent's own requests, newest first (C2)."""
    if actor.staff_id is None:
        return []
    return await SpecialApproval.filter(staff_id=actor.staff_id).prefetch_related(
        "decided_by").order_by("-id")


async def _approval_in_scope(actor: Actor, approval_id: int) -> SpecialApproval:
    """A request whose org lies in the actor's subtree (C2)."""
    approval = await row_in_scope(actor, SpecialApproval, approval_id,
                                  N_("No such special approval request."))
    return approval


def _detail(approval: SpecialApproval) -> dict[str, str]:
    """The audit detail of a request: its window and reason."""
    return {"starts_at": approval.starts_at.isoformat(), "ends_at": approval.ends_at.isoformat(),
            "reason": approval.reason}


def _window(approval: SpecialApproval, zone: ZoneInfo) -> dict[str, str]:
    """The window as the business time zone shows it."""
    return {"starts": business_time(approval.starts_at, zone),
            "ends": business_time(approval.ends_at, zone)}


async def _tell_supervisors(approval: SpecialApproval, staff: Staff, zone: ZoneInfo) -> None:
    """Queue the request for every supervisor of the agent's org chain, with buttons (C2)."""
    org: Org = staff.org
    params = {"agent": person_label(staff), "org": org.name,
              "reason": approval.reason, **_window(approval, zone)}
    notice = Intent.of("special.requested", approval.id, Action.APPROVE, Action.REFUSE,
                       Action.OPEN)
    for supervisor in await staff_in_chain(org, Role.SUPERVISOR):
        if supervisor.id == staff.id:
            continue
        await outbox.enqueue(supervisor.id, REQUEST_TO_SUPERVISORS, params, intent=notice,
                             idempotency_key=f"special:{approval.id}:requested:{supervisor.id}")


async def _tell_agent(approval: SpecialApproval, actor: Actor, zone: ZoneInfo) -> None:
    """Queue the decision for the requesting agent (C2)."""
    pair = (APPROVED_TO_AGENT if approval.status == SpecialApprovalStatus.APPROVED
            else REFUSED_TO_AGENT)
    template = pair[0] if approval.decision_note else pair[1]
    agent: Staff = approval.staff
    await outbox.enqueue(
        agent.id, template,
        {"supervisor": actor.label, "note": approval.decision_note, **_window(approval, zone)},
        intent=Intent.of(f"special.{approval.status.value}", approval.id),
        idempotency_key=f"special:{approval.id}:{approval.status.value}:{agent.id}",
    )
