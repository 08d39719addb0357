"""Voids of vouchers: losses reported, expired serials, the two signatures and refusals
(V6, Q4, Q5)."""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from domain.ledgers import qualifications
from domain.ledgers.major_incidents import DEFAULT_INCIDENT_RULES, IncidentRules
from domain.models import (
    Case,
    CaseStatus,
    Incident,
    IncidentKind,
    MisIssue,
    MisIssueStatus,
    MovementKind,
    Org,
    TailBox,
    VoidKind,
    VoidRequest,
    VoidRequestItem,
    VoidStatus,
    Voucher,
    VoucherState,
)
from domain.platform import audit, outbox
from domain.platform.access import Permission, can, require, require_scope
from domain.platform.actors import Actor, system_actor
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.events import VouchersLost
from domain.platform.intents import Intent
from domain.vouchers._ledger import (
    Destination,
    clean_text,
    holders_of,
    listing,
    mark_major,
    moment_or_now,
    move_serials,
    open_void_request,
    org_of_serials,
    serials_for_void,
)

LOSABLE = (VoucherState.IN_VAULT, VoucherState.IN_BOX, VoucherState.RESERVED)
VOIDABLE: dict[VoidKind, tuple[VoucherState, ...]] = {
    VoidKind.LOST: LOSABLE,
    VoidKind.MIS_ISSUED: (VoucherState.MIS_ISSUED,),
    VoidKind.EXPIRED: (VoucherState.IN_VAULT,),
}
OPEN_CASES = (CaseStatus.DRAFT, CaseStatus.SUBMITTED, CaseStatus.IN_REVIEW,
              CaseStatus.RETURNED, CaseStatus.ON_HOLD)
SLOTS: tuple[tuple[str, Permission], ...] = (
    ("business_head", Permission.VOID_SIGN_BUSINESS),
    ("ops_head", Permission.VOID_SIGN_OPERATIONS),
)
NO_SUCH_VOID = N_("No such void request.")
VOIDED_TO_REQUESTER = N_("Void request #%(request)s is signed by both heads; %(count)s "
                         "vouchers are voided.")
REFUSED_TO_REQUESTER = N_("Void request #%(request)s was refused by %(actor)s: %(note)s. The "
                          "vouchers are back where they were.")
VOID_NOT_PENDING = N_("Void request #%(request)s is no longer waiting for signatures.")
REQUESTER_CANNOT_SIGN = N_("You asked for void request #%(request)s; two other people must "
                           "sign it.")
ALREADY_SIGNED = N_("You already signed void request #%(request)s; the other signature must "
                    "come from someone else.")
SLOT_TAKEN = N_("Void request #%(request)s already has the signature you can give; it waits "
                "for the other head.")
MIS_ISSUE_VOID_BY_RECOVERY = N_("A mis-issued serial is voided by recording its recovery on "
                                "the mis-issue page.")


async def _loss_incident(actor: Actor, rows: list[Voucher], org: Org, incident_id: int | None,
                         reason: str, holders: list[int], moment: datetime) -> Incident:
    """The incident of a loss: the given one, or a new voucher-loss incident (Q4)."""
    if incident_id is not None:
        incident = await Incident.filter(id=incident_id).select_for_update().first()
        if incident is None:
            raise NotFound(N_("No such incident."))
        return incident
    incident = await Incident.create(
        kind=IncidentKind.VOUCHER_LOSS, staff_id=holders[0] if len(holders) == 1 else None,
        org_id=org.id, item=listing([row.serial for row in rows])[:200], occurred_at=moment,
        description=reason, detail={"what": "vouchers", "count": len(rows)},
        reported_by_id=actor.staff_id, reported_at=moment)
    await audit.record(actor, "incident.reported", "incident", incident.id, org_id=org.id,
                       detail={"kind": incident.kind.value, "item": incident.item})
    return incident


async def _suspend_for_lax_management(incident: Incident, holders: list[int],
                                      moment: datetime) -> None:
    """A voucher loss through lax management suspends the holders until rectified (Q5)."""
    for staff_id in holders_of(incident, holders):
        await qualifications.suspend_all_for_staff(
            system_actor("vouchers"), staff_id, f"#{incident.id} {incident.description}",
            moment)


def _slots_of(actor: Actor) -> list[str]:
    """The signature slots the actor may fill: business head, operations head (V6)."""
    if actor.staff_id is None:
        return []
    return [slot for slot, permission in SLOTS if can(actor, permission)]


async def _pending_request(actor: Actor, void_request_id: int) -> VoidRequest:
    """A pending void request of the actor's subtree, locked (V6)."""
    request = await VoidRequest.filter(id=void_request_id).select_for_update().first()
    if request is None:
        raise NotFound(NO_SUCH_VOID)
    require_scope(actor, await Org.get(id=request.org_id), NO_SUCH_VOID)
    if request.status != VoidStatus.PENDING:
        raise DomainError(VOID_NOT_PENDING, request=request.id)
    return request


async def _items(request: VoidRequest) -> list[tuple[Voucher, VoidRequestItem]]:
    """The serials of a request, locked, with the item that remembers their former place."""
    items = await VoidRequestItem.filter(void_request_id=request.id).order_by("id")
    vouchers = {v.id: v for v in await Voucher.filter(
        id__in=[item.voucher_id for item in items]).select_for_update()}
    return [(vouchers[item.voucher_id], item) for item in items]


async def _void(actor: Actor, request: VoidRequest, moment: datetime) -> None:
    """Both heads signed: the serials are voided and the requester told (V6)."""
    await VoidRequest.filter(id=request.id, status=VoidStatus.PENDING).update(
        status=VoidStatus.VOIDED)
    moves = [(voucher, Destination(VoucherState.VOIDED, None, voucher.case_id))
             for voucher, _ in await _items(request)]
    await move_serials(actor, MovementKind.VOIDED, moves, moment,
                       detail={"void_request_id": request.id})
    if request.requested_by_id is not None:
        await outbox.enqueue(request.requested_by_id, VOIDED_TO_REQUESTER,
                             {"request": request.id, "count": len(moves)},
                             intent=Intent.of("void.voided", request.id),
                             idempotency_key=f"void:{request.id}:voided")


async def _restored(voucher: Voucher, item: VoidRequestItem) -> Destination:
    """The former place of a serial; a reserved one returns to its case only while the case
    is open and holds no other serial, else into the box (V6)."""
    if item.previous_state != VoucherState.RESERVED:
        return Destination(item.previous_state, item.previous_box_id)
    case_id = voucher.case_id
    still_open = case_id is not None and await Case.exists(id=case_id, status__in=OPEN_CASES)
    if still_open and not await Voucher.exists(case_id=case_id, state=VoucherState.RESERVED):
        return Destination(VoucherState.RESERVED, item.previous_box_id, case_id)
    return Destination(VoucherState.IN_BOX, item.previous_box_id)


async def report_lost_serials(actor: Actor, serials: list[str], reason: str, *,
                              incident_id: int | None = None, lax_management: bool = False,
                              rules: IncidentRules = DEFAULT_INCIDENT_RULES,
                              now: datetime | None = None) -> VoidRequest:
    """Lost serials go void-pending at once under a void request of kind lost; a mass loss
    (count over the configured threshold) marks the incident major (Q4); a loss through lax
    management
    suspends the holder's qualifications until rectified (Q5) (V6)."""
    text = clean_text(reason)
    moment = moment_or_now(now)
    async with in_transaction():
        rows = await serials_for_void(serials, VOIDABLE[VoidKind.LOST])
        org = await org_of_serials(actor, rows, holder_may=True)
        box_ids = {row.box_id for row in rows if row.box_id}
        holders = sorted(set(await TailBox.filter(id__in=box_ids, holder_id__isnull=False
                                                  ).values_list("holder_id", flat=True)))
        incident = await _loss_incident(actor, rows, org, incident_id, text, holders, moment)
        request = await open_void_request(actor, rows, VoidKind.LOST, text, org, moment, incident)
        if len(rows) > rules.mass_loss_threshold:
            await mark_major(actor, incident, holders, "mass_loss", len(rows), moment, rules)
        if lax_management:
            await _suspend_for_lax_management(incident, holders, moment)
    return request


async def void_lost_serials(event: VouchersLost) -> None:
    """Serials an agent reports lost go void-pending under his loss incident (V6, Q4)."""
    await report_lost_serials(
        event.actor, list(event.serials), event.reason, incident_id=event.incident_id,
        rules=IncidentRules(major_incident_threshold=event.major_incident_threshold,
                            mass_loss_threshold=event.mass_loss_threshold), now=event.at)


async def request_void(actor: Actor, serials: list[str], kind: VoidKind, reason: str,
                       now: datetime | None = None) -> VoidRequest:
    """Ask to void serials expired in the vault; lost ones go through the loss report and
    mis-issued ones through their recorded recovery (V6)."""
    kind = VoidKind(kind)
    if kind == VoidKind.LOST:
        return await report_lost_serials(actor, serials, reason, now=now)
    if kind == VoidKind.MIS_ISSUED:
        raise DomainError(MIS_ISSUE_VOID_BY_RECOVERY)
    require(actor, Permission.VOUCHER_MANAGE)
    text = clean_text(reason)
    async with in_transaction():
        rows = await serials_for_void(serials, VOIDABLE[kind])
        org = await org_of_serials(actor, rows, holder_may=False)
        request = await open_void_request(actor, rows, kind, text, org, moment_or_now(now))
    return request


async def sign_void(actor: Actor, void_request_id: int, now: datetime | None = None
                    ) -> VoidRequest:
    """Sign as business dept head or operations head of the org chain; nobody signs twice,
    the requester cannot sign; the second signature voids the serials (V6)."""
    slots = _slots_of(actor)
    if not slots:
        raise PermissionDenied(N_("You do not have permission for this action."))
    moment = moment_or_now(now)
    async with in_transaction():
        request = await _pending_request(actor, void_request_id)
        signed = {request.business_head_signed_by_id,
                  request.ops_head_signed_by_id}
        if request.requested_by_id == actor.staff_id:
            raise PermissionDenied(REQUESTER_CANNOT_SIGN, request=request.id)
        if actor.staff_id in signed:
            raise DomainError(ALREADY_SIGNED, request=request.id)
        slot = next((s for s in slots if getattr(request, f"{s}_signed_by_id") is None), None)
        won = slot is not None and await VoidRequest.filter(
            id=request.id, status=VoidStatus.PENDING, **{f"{slot}_signed_by_id": None}
        ).update(**{f"{slot}_signed_by_id": actor.staff_id, f"{slot}_signed_at": moment})
        if not won:
            raise DomainError(SLOT_TAKEN, request=request.id)
        await audit.record(actor, "void.signed", "void_request", request.id,
                           org_id=request.org_id, detail={"slot": slot})
        other = "ops_head" if slot == "business_head" else "business_head"
        if getattr(request, f"{other}_signed_by_id") is not None:
            await _void(actor, request, moment)
    return await VoidRequest.get(id=request.id)


async def refuse_void(actor: Actor, void_request_id: int, note: str,
                      now: datetime | None = None) -> VoidRequest:
    """Refuse a pending void; the serials return to their former state (V6)."""
    if not _slots_of(actor):
        raise PermissionDenied(N_("You do not have permission for this action."))
    text = clean_text(note)
    moment = moment_or_now(now)
    async with in_transaction():
        request = await _pending_request(actor, void_request_id)
        await VoidRequest.filter(id=request.id, status=VoidStatus.PENDING).update(
            status=VoidStatus.REFUSED, refused_by_id=actor.staff_id, refused_at=moment,
            refusal_note=text)
        moves = [(voucher, await _restored(voucher, item))
                 for voucher, item in await _items(request)]
        await move_serials(actor, MovementKind.VOID_REFUSED, moves, moment, note=text,
                           detail={"void_request_id": request.id})
        await MisIssue.filter(void_request_id=request.id).update(
            status=MisIssueStatus.RECOVERING, void_request_id=None, resolved_by_id=None,
            resolved_at=None, resolution="")
        await audit.record(actor, "void.refused", "void_request", request.id,
                           org_id=request.org_id, detail={"note": text})
        if request.requested_by_id is not None:
            await outbox.enqueue(request.requested_by_id, REFUSED_TO_REQUESTER,
                                 {"request": request.id, "actor": actor.label, "note": text},
                                 intent=Intent.of("void.refused", request.id),
                                 idempotency_key=f"void:{request.id}:refused")
    return await VoidRequest.get(id=request.id)
