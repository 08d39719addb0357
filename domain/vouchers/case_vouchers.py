"""The voucher a case hands to the customer: reserved at capture, issued on approval,
released when the agent corrects the serial of his draft (C3, V1)."""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from domain.models import (
    BusinessType,
    Case,
    CaseEventKind,
    CaseStatus,
    MovementKind,
    TailBox,
    Voucher,
    VoucherState,
    VoucherType,
)
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.events import CaseApproved
from domain.platform.identity import normalise_serial
from domain.vouchers._ledger import (
    Destination,
    malformed_serials,
    moment_or_now,
    move_serials,
    put_on_case_timeline,
)

RESERVABLE_CASES = (CaseStatus.DRAFT, CaseStatus.RETURNED)
CASE_EVENTS = {MovementKind.ISSUED: CaseEventKind.VOUCHER_ISSUED,
               MovementKind.RELEASED: CaseEventKind.VOUCHER_RELEASED}
NOT_YOUR_CASE = N_("This case is not yours.")
CASE_NOT_OPEN_FOR_VOUCHER = N_("Case %(case)s is no longer a draft; its voucher cannot be "
                               "changed.")
NO_VOUCHER_FOR_TYPE = N_("This business type hands no voucher to the customer.")
TYPE_NOT_DEFINED = N_("Voucher type %(type)s is not defined yet. Ask operations management.")
CASE_HOLDS_ONE = N_("This case already holds serial %(serial)s.")
SERIAL_MALFORMED = N_("Serial %(serial)s is malformed: check the number and its check digit.")
SERIAL_UNKNOWN = N_("Serial %(serial)s is not a %(type)s in the ledger.")
SERIAL_RESERVED = N_("Serial %(serial)s is already reserved by another case.")
SERIAL_NOT_YOURS = N_("Serial %(serial)s is not in your tail box.")
YOUR_BOX_FROZEN = N_("Your tail box is frozen (%(reason)s); its vouchers cannot be used.")


async def _case_voucher_type(case: Case) -> VoucherType:
    """The voucher type the case's business type hands to the customer (C3)."""
    business_type = await BusinessType.get(id=case.business_type_id)
    if not business_type.voucher_type_code:
        raise DomainError(NO_VOUCHER_FOR_TYPE)
    vtype = await VoucherType.get_or_none(code=business_type.voucher_type_code)
    if vtype is None:
        raise DomainError(TYPE_NOT_DEFINED, type=business_type.voucher_type_code)
    return vtype


async def _own_box_voucher(actor: Actor, vtype: VoucherType, serial: str) -> Voucher:
    """The serial in the agent's own, unfrozen box, refused with the reason (V1)."""
    if malformed_serials(vtype, [serial]):
        raise DomainError(SERIAL_MALFORMED, serial=serial)
    voucher = await Voucher.filter(voucher_type_id=vtype.id, serial=serial
                                   ).select_for_update().first()
    if voucher is None:
        raise DomainError(SERIAL_UNKNOWN, serial=serial, type=vtype.code)
    if voucher.state == VoucherState.RESERVED:
        raise DomainError(SERIAL_RESERVED, serial=serial)
    box = await TailBox.get_or_none(id=voucher.box_id)
    if voucher.state != VoucherState.IN_BOX or box is None or box.holder_id != actor.staff_id:
        raise DomainError(SERIAL_NOT_YOURS, serial=serial)
    if box.frozen:
        raise DomainError(YOUR_BOX_FROZEN, reason=box.frozen_reason)
    return voucher


async def _case_move(actor: Actor, case_id: int, kind: MovementKind, to_state: VoucherState,
                     now: datetime | None) -> None:
    """Issue or release the case's reserved serial; nothing when it holds none (V1)."""
    async with in_transaction():
        held = await Voucher.filter(case_id=case_id, state=VoucherState.RESERVED
                                    ).select_for_update()
        if not held:
            return
        moves = [(v, Destination(to_state, v.box_id if to_state == VoucherState.IN_BOX else None,
                                 case_id if to_state == VoucherState.ISSUED else None))
                 for v in held]
        await move_serials(actor, kind, moves, moment_or_now(now), detail={"case_id": case_id})
        case = await Case.get(id=case_id)
        for voucher in held:
            await put_on_case_timeline(actor, case, CASE_EVENTS[kind], voucher, moment_or_now(now))


async def reserve_for_case(actor: Actor, case_id: int, serial: str,
                           now: datetime | None = None) -> Voucher:
    """Reserve a serial of the agent's own box for his case of a voucher-issuing type; a
    serial is never reserved twice; a case holds at most one reservation (C3, V1)."""
    clean = normalise_serial(serial)
    async with in_transaction():
        case = await Case.filter(id=case_id).select_for_update().first()
        if case is None:
            raise NotFound(N_("No such case."))
        if actor.staff_id is None or case.agent_id != actor.staff_id:
            raise PermissionDenied(NOT_YOUR_CASE)
        if case.status not in RESERVABLE_CASES:
            raise DomainError(CASE_NOT_OPEN_FOR_VOUCHER, case=case.case_no or case.id)
        vtype = await _case_voucher_type(case)
        held = await Voucher.filter(case_id=case.id, state=VoucherState.RESERVED).first()
        if held is not None:
            raise DomainError(CASE_HOLDS_ONE, serial=held.serial)
        voucher = await _own_box_voucher(actor, vtype, clean)
        await move_serials(actor, MovementKind.RESERVED, [(voucher, Destination(
            VoucherState.RESERVED, voucher.box_id, case.id))],
            moment_or_now(now), detail={"case_id": case.id})
        await put_on_case_timeline(actor, case, CaseEventKind.VOUCHER_RESERVED, voucher,
                                   moment_or_now(now))
    return voucher


async def issue_for_case(actor: Actor, case_id: int, now: datetime | None = None) -> None:
    """On approval: the case's reserved serial is issued to the customer. Call inside the
    approval transaction (V1)."""
    await _case_move(actor, case_id, MovementKind.ISSUED, VoucherState.ISSUED, now)


async def release_for_case(actor: Actor, case_id: int, now: datetime | None = None) -> None:
    """The agent corrects the serial of his draft: the one named before never left the box
    and goes back to it. Call inside that transaction (V1)."""
    await _case_move(actor, case_id, MovementKind.RELEASED, VoucherState.IN_BOX, now)


async def issue_on_approval(event: CaseApproved) -> None:
    """A case finally approved: its reserved serial is issued to the customer (V1)."""
    await issue_for_case(event.actor, event.case_id, event.at)
