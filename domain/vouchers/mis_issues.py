"""Mis-issues and cards of closed cases to take back from customers: recorded with a
recovery deadline, taken back into the box, recovered and voided, or written off as lost
(V6, Q4, S1)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from domain.ledgers.major_incidents import DEFAULT_INCIDENT_RULES, IncidentRules
from domain.models import (
    Case,
    CaseEventKind,
    Incident,
    IncidentKind,
    MisIssue,
    MisIssueKind,
    MisIssueStatus,
    MovementKind,
    Org,
    Role,
    Staff,
    TailBox,
    VoidKind,
    VoidRequest,
    Voucher,
    VoucherState,
)
from domain.platform import audit, chains, outbox
from domain.platform.access import Permission, in_scope, require, require_scope, scope_prefix
from domain.platform.actors import Actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.clock import business_time
from domain.platform.errors import N_, DomainError, NotFound
from domain.platform.events import CaseCancelled, CaseRejected
from domain.platform.intents import Action, Intent
from domain.vouchers._ledger import (
    Destination,
    clean_text,
    mark_major,
    moment_or_now,
    move_serials,
    open_void_request,
    org_of_serials,
    put_on_case_timeline,
    serials_for_void,
)

NO_SUCH_MIS_ISSUE = N_("No such mis-issue.")
MIS_ISSUE_SETTLED = N_("Mis-issue #%(mis_issue)s is no longer being recovered.")
NO_SUCH_CASE = N_("There is no case %(case)s in your scope.")
RECOVER_BY_PAST = N_("The recovery deadline must lie in the future.")
RECOVER_BY_TOO_FAR = N_("The recovery deadline may be at most %(days)s days ahead, on "
                        "%(last)s at the latest.")
NOT_A_CASE_CARD = N_("Mis-issue #%(mis_issue)s is a card handed by mistake: it is recovered "
                     "and voided, not put back in the box.")
TO_RECOVER_TO_HOLDER = N_("Case %(case)s is closed without the voucher being issued: take "
                          "%(serial)s back from the customer by %(recover_by)s and press the "
                          "button. Until then it is tracked for recovery like a mis-issue.")
MIS_ISSUE_TO_HOLDER = N_("Serial %(serial)s of your tail box is recorded as handed to a "
                         "customer by mistake (%(reason)s). Recover it from the customer by "
                         "%(recover_by)s and hand it to operations management.")
MIS_ISSUE_TO_SUPERVISOR = N_("Mis-issue in %(org)s: serial %(serial)s from the tail box of "
                             "%(holder)s was handed to a customer by mistake (%(reason)s); "
                             "recovery due by %(recover_by)s.")
MIS_ISSUE_RECOVERY_DAYS = 7


async def _case_by_number(actor: Actor, case_no: str) -> Case | None:
    """The case a mis-issue concerns, by its number, in the actor's scope; None when blank."""
    number = case_no.strip()
    if not number:
        return None
    case = await Case.filter(case_no=number).first()
    if case is None or not in_scope(actor, await Org.get(id=case.org_id)):
        raise NotFound(NO_SUCH_CASE, case=number)
    return case


async def _mis_issue_incident(actor: Actor, voucher: Voucher, box: TailBox, case: Case | None,
                              reason: str, moment: datetime) -> Incident:
    """The mis-issue incident, charged to the box holder (V6)."""
    incident = await Incident.create(
        kind=IncidentKind.MIS_ISSUE, staff_id=box.holder_id, org_id=voucher.org_id,
        item=voucher.serial, occurred_at=moment, description=reason,
        detail={"what": "vouchers", "serial": voucher.serial,
                "case": case.case_no if case else ""},
        reported_by_id=actor.staff_id, reported_at=moment)
    await audit.record(actor, "incident.reported", "incident", incident.id,
                       org_id=voucher.org_id, detail={"kind": incident.kind.value,
                                                      "item": incident.item})
    return incident


async def _tell_of_mis_issue(actor: Actor, mis: MisIssue, voucher: Voucher, org: Org,
                             box: TailBox, reason: str, zone: ZoneInfo) -> None:
    """Tell the holder to recover the serial, and the supervisors and operations management
    of the org chain, who settle it; whoever recorded it is not told again (V6)."""
    holder = await Staff.get(id=box.holder_id) if box.holder_id else None
    params = {"serial": voucher.serial, "reason": reason, "org": org.name,
              "holder": holder.name if holder else "-",
              "recover_by": business_time(mis.recover_by, zone)}
    told = {actor.staff_id}
    if holder is not None and holder.id not in told:
        await outbox.enqueue(holder.id, MIS_ISSUE_TO_HOLDER, params,
                             intent=Intent.of("mis_issue.to_holder", mis.id),
                             idempotency_key=f"mis_issue:{mis.id}:holder")
    told.add(mis.holder_id)  # type: ignore[attr-defined]
    for person in await chains.staff_in_chain(org, Role.SUPERVISOR, Role.OPS_ADMIN):
        if person.id not in told:
            await outbox.enqueue(person.id, MIS_ISSUE_TO_SUPERVISOR, params,
                                 intent=Intent.of("mis_issue.to_chain", mis.id),
                                 idempotency_key=f"mis_issue:{mis.id}:chain:{person.id}")


async def _recovering(actor: Actor, mis_issue_id: int, *, holder_may: bool = False
                      ) -> tuple[MisIssue, Voucher, Org]:
    """A mis-issue still being recovered, locked, with its serial and org; settled by
    operations management of its org chain, or by its holder where `holder_may` (V6)."""
    if not holder_may:
        require(actor, Permission.VOUCHER_MANAGE)
    mis = await MisIssue.filter(id=mis_issue_id).select_for_update().first()
    if mis is None:
        raise NotFound(NO_SUCH_MIS_ISSUE)
    org = await Org.get(id=mis.org_id)  # type: ignore[attr-defined]
    holder = holder_may and actor.staff_id is not None and (
        mis.holder_id == actor.staff_id)  # type: ignore[attr-defined]
    if not holder:
        require(actor, Permission.VOUCHER_MANAGE)
        require_scope(actor, org)
    if mis.status != MisIssueStatus.RECOVERING:
        raise DomainError(MIS_ISSUE_SETTLED, mis_issue=mis.id)
    voucher = await Voucher.filter(id=mis.voucher_id,  # type: ignore[attr-defined]
                                   state=VoucherState.MIS_ISSUED).select_for_update().first()
    if voucher is None:
        raise DomainError(MIS_ISSUE_SETTLED, mis_issue=mis.id)
    return mis, voucher, org


async def _settle(actor: Actor, mis: MisIssue, status: MisIssueStatus, request: VoidRequest,
                  note: str, moment: datetime) -> None:
    """Close the recovery of a mis-issue with its void request (V6)."""
    await MisIssue.filter(id=mis.id, status=MisIssueStatus.RECOVERING).update(
        status=status, resolved_by_id=actor.staff_id, resolved_at=moment, resolution=note,
        void_request_id=request.id)
    await audit.record(actor, f"mis_issue.{status.value}", "mis_issue", mis.id,
                       org_id=mis.org_id,  # type: ignore[attr-defined]
                       detail={"void_request_id": request.id, "note": note})


def _recovery_deadline(actor: Actor, recover_by: datetime | None, moment: datetime,
                       days: int, zone: ZoneInfo) -> datetime:
    """The recovery deadline: `days` ahead by default; a chosen one only from operations
    management, in the future and no later than the business day `days` ahead (V6, S1)."""
    if recover_by is None:
        return moment + timedelta(days=days)
    require(actor, Permission.VOUCHER_MANAGE)
    if recover_by <= moment:
        raise DomainError(RECOVER_BY_PAST)
    last = moment.astimezone(zone).date() + timedelta(days=days)
    if recover_by.astimezone(zone).date() > last:
        raise DomainError(RECOVER_BY_TOO_FAR, days=days, last=last.isoformat())
    return recover_by


async def record_mis_issue(actor: Actor, serial: str, reason: str, *, case_no: str = "",
                           recover_by: datetime | None = None, now: datetime | None = None,
                           zone: ZoneInfo = DEFAULT_ZONE,
                           recovery_days: int = MIS_ISSUE_RECOVERY_DAYS) -> MisIssue:
    """Record a serial of a tail box handed to a customer by mistake, by its holder (in
    chat, default deadline) or operations management (a deadline at most `recovery_days`
    ahead): it turns mis-issued, a mis-issue incident opens and the holder is to recover
    it by the deadline (V6, S1)."""
    text = clean_text(reason)
    moment = moment_or_now(now)
    deadline = _recovery_deadline(actor, recover_by, moment, recovery_days, zone)
    async with in_transaction():
        voucher = (await serials_for_void([serial], (VoucherState.IN_BOX,)))[0]
        org = await org_of_serials(actor, [voucher], holder_may=True)
        case = await _case_by_number(actor, case_no)
        box = await TailBox.get(id=voucher.box_id)
        incident = await _mis_issue_incident(actor, voucher, box, case, text, moment)
        await move_serials(actor, MovementKind.MIS_ISSUED, [(voucher, Destination(
            VoucherState.MIS_ISSUED, voucher.box_id, case.id if case else None))], moment,
            note=text)
        mis = await MisIssue.create(
            voucher_id=voucher.id, org_id=org.id, case_id=case.id if case else None,
            box_id=box.id, holder_id=box.holder_id, customer_note=text, incident_id=incident.id,
            reported_by_id=actor.staff_id, reported_at=moment, recover_by=deadline)
        await audit.record(actor, "mis_issue.recorded", "mis_issue", mis.id, org_id=org.id,
                           detail={"serial": voucher.serial, "case": case_no.strip(),
                                   "recover_by": deadline.isoformat()})
        await _tell_of_mis_issue(actor, mis, voucher, org, box, text, zone)
    return mis


async def recover_for_closed_case(actor: Actor, case_id: int, now: datetime | None = None, *,
                                  recovery_days: int = MIS_ISSUE_RECOVERY_DAYS,
                                  zone: ZoneInfo = DEFAULT_ZONE) -> None:
    """On rejection or cancellation: the serial handed to the customer at capture is not in
    the box; it turns mis-issued under a recovery of kind case_closed with its deadline, on
    the case timeline, and the holder is asked to take it back. Call inside that
    transaction (V3, V6)."""
    moment = moment_or_now(now)
    async with in_transaction():
        held = await Voucher.filter(case_id=case_id, state=VoucherState.RESERVED
                                    ).select_for_update()
        if not held:
            return
        case = await Case.get(id=case_id)
        for voucher in held:
            await _to_recover(actor, case, voucher, moment + timedelta(days=recovery_days),
                              moment, zone)


async def recover_for_closing_case(event: CaseRejected | CaseCancelled) -> None:
    """A case rejected or cancelled: the serial handed at capture is to be taken back from
    the customer (V6)."""
    await recover_for_closed_case(event.actor, event.case_id, event.at,
                                  recovery_days=event.recovery_days, zone=event.zone)


async def _to_recover(actor: Actor, case: Case, voucher: Voucher, deadline: datetime,
                      moment: datetime, zone: ZoneInfo) -> MisIssue:
    """One serial of a closed case to be taken back from the customer (V6)."""
    box = await TailBox.get(id=voucher.box_id)
    await move_serials(actor, MovementKind.TO_RECOVER, [(voucher, Destination(
        VoucherState.MIS_ISSUED, voucher.box_id, case.id))], moment,
        note=case.status.value, detail={"case_id": case.id})
    mis = await MisIssue.create(
        voucher_id=voucher.id, org_id=voucher.org_id, case_id=case.id, box_id=box.id,
        holder_id=box.holder_id, kind=MisIssueKind.CASE_CLOSED,
        customer_note=case.status.value, reported_by_id=actor.staff_id, reported_at=moment,
        recover_by=deadline)
    await audit.record(actor, "mis_issue.recorded", "mis_issue", mis.id, org_id=voucher.org_id,
                       detail={"serial": voucher.serial, "case": case.case_no or "",
                               "kind": mis.kind.value, "recover_by": deadline.isoformat()})
    await put_on_case_timeline(actor, case, CaseEventKind.VOUCHER_TO_RECOVER, voucher, moment)
    if box.holder_id is not None:
        await outbox.enqueue(box.holder_id, TO_RECOVER_TO_HOLDER, {
            "case": case.case_no or f"#{case.id}", "serial": voucher.serial,
            "recover_by": business_time(deadline, zone)},
            intent=Intent.of("mis_issue.to_recover", mis.id, Action.TAKE_BACK),
            idempotency_key=f"mis_issue:{mis.id}:holder")
    return mis


async def _put_back(actor: Actor, mis: MisIssue, voucher: Voucher, note: str,
                    moment: datetime) -> None:
    """The unused card of a closed case is back from the customer: into its box, on the
    case timeline (V6)."""
    await move_serials(actor, MovementKind.TAKEN_BACK, [(voucher, Destination(
        VoucherState.IN_BOX, voucher.box_id))], moment, note=note,
        detail={"mis_issue_id": mis.id, "case_id": mis.case_id})  # type: ignore[attr-defined]
    await MisIssue.filter(id=mis.id, status=MisIssueStatus.RECOVERING).update(
        status=MisIssueStatus.TAKEN_BACK, resolved_by_id=actor.staff_id, resolved_at=moment,
        resolution=note)
    await audit.record(actor, "mis_issue.taken_back", "mis_issue", mis.id,
                       org_id=mis.org_id,  # type: ignore[attr-defined]
                       detail={"serial": voucher.serial, "note": note})
    case = await Case.get_or_none(id=mis.case_id)  # type: ignore[attr-defined]
    if case is not None:
        await put_on_case_timeline(actor, case, CaseEventKind.VOUCHER_TAKEN_BACK, voucher, moment)


async def take_back(actor: Actor, mis_issue_id: int, now: datetime | None = None
                    ) -> MisIssue:
    """The holder confirms in chat that he took the card of a closed case back from the
    customer: it returns to the box (V3, V6)."""
    moment = moment_or_now(now)
    async with in_transaction():
        mis, voucher, _ = await _recovering(actor, mis_issue_id, holder_may=True)
        if mis.kind != MisIssueKind.CASE_CLOSED:
            raise DomainError(NOT_A_CASE_CARD, mis_issue=mis.id)
        await _put_back(actor, mis, voucher, actor.label, moment)
    return await MisIssue.get(id=mis.id)


async def cards_to_take_back(actor: Actor) -> list[MisIssue]:
    """The cards of closed cases the acting holder is to take back, by deadline (V6)."""
    return list(await MisIssue.filter(
        holder_id=actor.staff_id, kind=MisIssueKind.CASE_CLOSED,
        status=MisIssueStatus.RECOVERING).prefetch_related("voucher", "case").order_by(
        "recover_by", "id"))


async def record_recovery(actor: Actor, mis_issue_id: int, note: str,
                          now: datetime | None = None) -> VoidRequest | None:
    """The mis-issued serial is back from the customer: it goes void-pending under a request
    of kind mis_issued that needs both heads' signatures; the unused card of a closed case
    goes back into the box instead (V6)."""
    text = clean_text(note)
    moment = moment_or_now(now)
    async with in_transaction():
        mis, voucher, org = await _recovering(actor, mis_issue_id)
        if mis.kind == MisIssueKind.CASE_CLOSED:
            await _put_back(actor, mis, voucher, text, moment)
            return None
        incident = await Incident.get(id=mis.incident_id)  # type: ignore[attr-defined]
        request = await open_void_request(actor, [voucher], VoidKind.MIS_ISSUED, text, org, moment,
                                          incident)
        await _settle(actor, mis, MisIssueStatus.RECOVERED, request, text, moment)
    return request


async def write_off_mis_issue(actor: Actor, mis_issue_id: int, note: str,
                              now: datetime | None = None, *,
                              rules: IncidentRules = DEFAULT_INCIDENT_RULES) -> VoidRequest:
    """A mis-issued serial that cannot be recovered counts as lost: void-pending under a
    request of kind lost, and its incident turns major, counted against the holder (V6, Q4)."""
    text = clean_text(note)
    moment = moment_or_now(now)
    async with in_transaction():
        mis, voucher, org = await _recovering(actor, mis_issue_id)
        incident = await _incident_of(actor, mis, voucher, text, moment)
        request = await open_void_request(actor, [voucher], VoidKind.LOST, text, org, moment,
                                          incident)
        holders = [mis.holder_id] if mis.holder_id else []  # type: ignore[attr-defined]
        await mark_major(actor, incident, holders, "mis_issue_unrecovered", 1, moment, rules)
        await _settle(actor, mis, MisIssueStatus.UNRECOVERABLE, request, text, moment)
    return request


async def _incident_of(actor: Actor, mis: MisIssue, voucher: Voucher, note: str,
                       moment: datetime) -> Incident:
    """The mis-issue's incident; a closed case's card gets its own once written off (Q4)."""
    if mis.incident_id is not None:  # type: ignore[attr-defined]
        return await Incident.get(id=mis.incident_id)  # type: ignore[attr-defined]
    case = await Case.get_or_none(id=mis.case_id)  # type: ignore[attr-defined]
    incident = await _mis_issue_incident(actor, voucher, await TailBox.get(id=voucher.box_id),
                                         case, note, moment)
    await MisIssue.filter(id=mis.id).update(incident_id=incident.id)
    return incident


async def mis_issues(actor: Actor, *, status: MisIssueStatus | None = None,
                     limit: int = 200) -> list[MisIssue]:
    """Mis-issues of the actor's subtree, those being recovered first by deadline (V6)."""
    require(actor, Permission.VOUCHER_VIEW)
    query = MisIssue.filter(org__path__startswith=scope_prefix(actor))
    if status is not None:
        query = query.filter(status=status)
    rows = await query.order_by("recover_by", "id").limit(limit).prefetch_related(
        "voucher__voucher_type", "case", "holder", "org", "incident", "reported_by")
    recovering = [row for row in rows if row.status == MisIssueStatus.RECOVERING]
    return recovering + [row for row in rows if row.status != MisIssueStatus.RECOVERING]
