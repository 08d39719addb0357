"""The voucher ledger core shared by the area's modules: where a serial goes, the one
conditional move with its movement and audit rows, serial checks, void requests (V1, V6)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import re2
from tortoise.functions import Count

from domain.ledgers import major_incidents
from domain.ledgers.major_incidents import IncidentRules
from domain.models import (
    Case,
    CaseEventKind,
    Device,
    Incident,
    MovementKind,
    Org,
    Role,
    SerialCheck,
    TailBox,
    VoidKind,
    VoidRequest,
    VoidRequestItem,
    Voucher,
    VoucherMovement,
    VoucherState,
    VoucherType,
)
from domain.platform import audit, chains, events, outbox
from domain.platform.access import Permission, can, require, require_scope
from domain.platform.actors import Actor
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.events import CaseVoucherMoved
from domain.platform.identity import normalise_serial
from domain.platform.intents import Intent
from domain.vouchers import voucher_balances

MAX_RECEIPT = 10_000  # serials per receipt
LISTED = 100  # serials named in a refusal or an audit row
MAX_TEXT = 1000
NO_SUCH_VOUCHER_TYPE = N_("No such voucher type.")
NO_SUCH_BOX = N_("No such tail box.")
REASON_REQUIRED = N_("Give the reason.")
UNSAFE_PATTERN = N_("%(pattern)s is not a serial pattern this system accepts: write a regular "
                    "expression without look-ahead, look-behind or back-references.")
TOO_MANY = N_("%(count)s serials at once is too many; at most %(max)s.")
CHANGED_MEANWHILE = N_("Serial %(serial)s was changed by someone else meanwhile; nothing was "
                       "done. Try again.")
NO_SERIALS = N_("Name at least one serial.")
CANNOT_TAKE_STEP = N_("These serials are unknown or cannot take this step in their present "
                      "state: %(serials)s")
AMBIGUOUS = N_("These serials exist in more than one voucher type: %(serials)s")
NOT_YOUR_SERIALS = N_("These serials are not in your tail box: %(serials)s")
MIXED_ORGS = N_("These serials belong to different organisations; make one request per "
                "organisation.")
VOID_TO_SIGNER = N_("Void request #%(request)s of %(org)s by %(requester)s: %(count)s "
                    "vouchers (%(serials)s). Reason: %(reason)s. It needs your signature.")


@dataclass(frozen=True)
class Destination:
    """Where a serial goes: its state, box and case."""

    state: VoucherState
    box_id: int | None = None
    case_id: int | None = None


def moment_or_now(now: datetime | None) -> datetime:
    """The moment given, else now."""
    return now or utcnow()


def clean_text(value: str, missing: str = REASON_REQUIRED) -> str:
    """A trimmed reason or note, refused when empty."""
    clean = " ".join(value.split())[:MAX_TEXT]
    if not clean:
        raise DomainError(missing)
    return clean


def clean_serials(serials: Iterable[str]) -> list[str]:
    """Normalised (full-width digits read as digits), non-empty serials without repeats, in
    the order given (V1)."""
    return list(dict.fromkeys(clean for clean in map(normalise_serial, serials) if clean))


def listing(serials: Sequence[str]) -> str:
    """Serials named in a message: the first ones, then an ellipsis."""
    shown = ", ".join(serials[:LISTED])
    return shown + (" …" if len(serials) > LISTED else "")


def id_runs(ids: Iterable[int]) -> list[list[int]]:
    """Ids as runs of consecutive numbers, [[first, last], ...]."""
    runs: list[list[int]] = []
    for value in sorted(ids):
        if runs and runs[-1][1] == value - 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    return runs


def chain_ids(org: Org) -> list[int]:
    """The ids of an org and of every org above it (its path)."""
    return [int(part) for part in org.path.split("/") if part]


async def voucher_type_of(voucher_type_id: int) -> VoucherType:
    """A voucher type by its id, refused when unknown."""
    row = await VoucherType.get_or_none(id=voucher_type_id)
    if row is None:
        raise NotFound(NO_SUCH_VOUCHER_TYPE)
    return row


async def org_in_scope(actor: Actor, org_id: int) -> Org:
    """An org of the actor's subtree."""
    org = await Org.get_or_none(id=org_id)
    if org is None:
        raise NotFound(N_("No such organisation."))
    require_scope(actor, org)
    return org


def luhn_digit(body: str) -> str:
    """The Luhn check digit of a digit string."""
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(body)):
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return str(-total % 10)


def serial_matcher(pattern: str) -> re2._Regexp:
    """A serial pattern compiled by RE2, which matches in linear time, so that no pattern
    operations define can stall the site; one RE2 cannot compile is refused (V1)."""
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error:
        raise DomainError(UNSAFE_PATTERN, pattern=pattern) from None


def malformed_serials(vtype: VoucherType, serials: Iterable[str]) -> list[str]:
    """The serials failing the type's pattern or its check digit (V1)."""
    pattern = serial_matcher(vtype.serial_pattern)
    luhn = vtype.serial_check == SerialCheck.LUHN
    return [s for s in serials if not pattern.fullmatch(s) or (luhn and not (
        s.isascii() and s.isdigit() and len(s) > 1 and luhn_digit(s[:-1]) == s[-1]))]


async def move_serials(actor: Actor, kind: MovementKind, moves: list[tuple[Voucher, Destination]],
                       moment: datetime, *, note: str = "", detail: dict[str, Any] | None = None
                       ) -> None:
    """Move each serial from the state it was read in, with one movement each and one audit
    row for the operation; a serial changed meanwhile refuses the whole operation."""
    movement_ids = [(await _move_one(actor, kind, voucher, place, moment, note)).id
                    for voucher, place in moves]
    first = moves[0][0]
    await audit_operation(actor, kind, first.org_id, first.voucher_type_id,
                          [voucher.serial for voucher, _ in moves], movement_ids, detail or {})


async def _move_one(actor: Actor, kind: MovementKind, voucher: Voucher, place: Destination,
                    moment: datetime, note: str) -> VoucherMovement:
    """One conditional update on the expected state and its movement row."""
    before_void = (voucher.state.value if place.state == VoucherState.VOID_PENDING
                   else voucher.state_before_void if place.state == VoucherState.VOIDED
                   else None)
    changed = await Voucher.filter(id=voucher.id, state=voucher.state).update(
        state=place.state, box_id=place.box_id, case_id=place.case_id,
        state_before_void=before_void, updated_at=moment)
    if not changed:
        raise DomainError(CHANGED_MEANWHILE, serial=voucher.serial)
    await voucher_balances.shift(voucher.voucher_type_id,
                                 _counted_at(voucher.org_id, voucher.box_id, voucher.state),
                                 _counted_at(voucher.org_id, place.box_id, place.state))
    movement = await VoucherMovement.create(
        voucher_id=voucher.id, voucher_type_id=voucher.voucher_type_id,
        kind=kind, from_state=voucher.state, to_state=place.state,
        org_id=voucher.org_id, from_box_id=voucher.box_id,
        to_box_id=place.box_id, case_id=place.case_id or voucher.case_id,
        actor_id=actor.staff_id, actor_label=actor.label, note=note, at=moment)
    voucher.state, voucher.state_before_void = place.state, before_void
    voucher.box_id, voucher.case_id = place.box_id, place.case_id
    return movement


def _counted_at(org_id: int, box_id: int | None, state: VoucherState) -> voucher_balances.Place:
    """The place a serial is counted at in the stored balances (V1)."""
    return voucher_balances.Place(org_id, box_id or voucher_balances.VAULT, state)


async def audit_operation(actor: Actor, kind: MovementKind, org_id: int, voucher_type_id: int,
                          serials: list[str], movement_ids: Iterable[int], detail: dict[str, Any]
                          ) -> None:
    """One audit row for an operation, naming its movements and serials."""
    named = ({"serials": serials} if len(serials) <= LISTED
             else {"first": min(serials), "last": max(serials)})
    await audit.record(actor, f"voucher.{kind.value}", "voucher",
                       serials[0] if len(serials) == 1 else "", org_id=org_id,
                       detail={"voucher_type_id": voucher_type_id, "count": len(serials),
                               "movements": id_runs(movement_ids)} | named | detail)


async def managed_box(actor: Actor, box_id: int) -> tuple[TailBox, Org, Device]:
    """A box the actor may manage, locked, with its org and device."""
    require(actor, Permission.VOUCHER_MANAGE)
    box = await TailBox.filter(id=box_id).select_for_update().first()
    if box is None:
        raise NotFound(NO_SUCH_BOX)
    org = await Org.get(id=box.org_id)
    require_scope(actor, org)
    return box, org, await Device.get(id=box.device_id)


async def put_on_case_timeline(actor: Actor, case: Case, kind: CaseEventKind, voucher: Voucher,
                               moment: datetime) -> None:
    """The entry on the case timeline for a serial the case reserved, issued or released,
    written by the cases area (C3, C9)."""
    vtype = await VoucherType.get(id=voucher.voucher_type_id)
    await events.publish(CaseVoucherMoved(actor, case.id, kind, voucher.serial, vtype.code,
                                          moment))


async def serials_for_void(serials: list[str], states: tuple[VoucherState, ...]) -> list[Voucher]:
    """The named serials, locked, each in one of the states, else refused with the list."""
    wanted = clean_serials(serials)
    if not wanted:
        raise DomainError(NO_SERIALS)
    if len(wanted) > MAX_RECEIPT:
        raise DomainError(TOO_MANY, count=len(wanted), max=MAX_RECEIPT)
    rows = await Voucher.filter(serial__in=wanted, state__in=list(states)).select_for_update()
    found: dict[str, int] = {}
    for row in rows:
        found[row.serial] = found.get(row.serial, 0) + 1
    if missing := [s for s in wanted if s not in found]:
        raise DomainError(CANNOT_TAKE_STEP, serials=listing(missing))
    if ambiguous := [s for s in wanted if found[s] > 1]:
        raise DomainError(AMBIGUOUS, serials=listing(ambiguous))
    return sorted(rows, key=lambda row: row.serial)


async def org_of_serials(actor: Actor, rows: list[Voucher], *, holder_may: bool) -> Org:
    """The one org of the serials; the holder of all their boxes, or a manager in scope."""
    org_ids = {row.org_id for row in rows}
    if len(org_ids) > 1:
        raise DomainError(MIXED_ORGS)
    org = await Org.get(id=org_ids.pop())
    held = set(await TailBox.filter(holder_id=actor.staff_id).values_list("id", flat=True)
               ) if actor.staff_id is not None else set()
    foreign = [row.serial for row in rows if row.box_id not in held]
    if holder_may and not foreign:
        return org
    if not can(actor, Permission.VOUCHER_MANAGE):
        raise PermissionDenied(NOT_YOUR_SERIALS, serials=listing(foreign))
    require_scope(actor, org)
    return org


async def open_void_request(actor: Actor, rows: list[Voucher], kind: VoidKind, reason: str,
                            org: Org, moment: datetime, incident: Incident | None = None
                            ) -> VoidRequest:
    """Open the request, remember where each serial was, make them void-pending (V6)."""
    request = await VoidRequest.create(
        org_id=org.id, kind=kind, reason=reason, requested_by_id=actor.staff_id,
        incident_id=incident.id if incident else None, requested_at=moment)
    await VoidRequestItem.bulk_create([VoidRequestItem(
        void_request_id=request.id, voucher_id=row.id, previous_state=row.state,
        previous_box_id=row.box_id) for row in rows])
    movement = MovementKind.REPORTED_LOST if kind == VoidKind.LOST else MovementKind.VOID_REQUESTED
    await move_serials(actor, movement, [
        (row, Destination(VoucherState.VOID_PENDING, row.box_id, row.case_id))
        for row in rows], moment, note=reason, detail={"void_request_id": request.id})
    await audit.record(actor, "void.requested", "void_request", request.id, org_id=org.id,
                       detail={"kind": kind.value, "count": len(rows), "reason": reason})
    params = {"request": request.id, "org": org.name, "requester": actor.label,
              "count": len(rows), "serials": listing([row.serial for row in rows]),
              "reason": reason}
    for signer in await chains.staff_in_chain(org, Role.BUSINESS_HEAD, Role.OPS_ADMIN):
        if signer.id != actor.staff_id:
            await outbox.enqueue(signer.id, VOID_TO_SIGNER, params,
                                 intent=Intent.of("void.asked", request.id),
                                 idempotency_key=f"void:{request.id}:asked:{signer.id}")
    return request


def holders_of(incident: Incident, holders: list[int]) -> list[int]:
    """The staff a loss is charged to: the box holders, else the incident's staff member."""
    return holders or ([incident.staff_id] if incident.staff_id else [])  # type: ignore[attr-defined]


async def mark_major(actor: Actor, incident: Incident, holders: list[int], reason: str,
                     count: int, moment: datetime, rules: IncidentRules) -> None:
    """Mark the incident major once, counted against the holders (Q4): a mass loss, or a
    mis-issued voucher not recovered."""
    marked = await Incident.filter(id=incident.id, major=False).update(
        major=True, detail=incident.detail | {"major_reason": reason, "lost": count})
    if marked:
        await audit.record(actor, "incident.marked_major", "incident", incident.id,
                           org_id=incident.org_id,  # type: ignore[attr-defined]
                           detail={"reason": reason, "count": count})
        for staff_id in holders_of(incident, holders):
            await major_incidents.major_incident_recorded(staff_id, moment, rules)


async def in_box_counts(box_ids: list[int]) -> dict[str, int]:
    """What boxes hold physically per voucher type code: their in_box serials (V3, V5)."""
    rows = await Voucher.filter(box_id__in=box_ids, state=VoucherState.IN_BOX).annotate(
        n=Count("id")).group_by("voucher_type_id").values("voucher_type_id", "n")
    codes = dict(await VoucherType.all().values_list("id", "code"))
    return {codes[row["voucher_type_id"]]: row["n"] for row in rows}
