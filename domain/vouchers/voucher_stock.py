"""Voucher stock and allocation: voucher types, caps, receipt into the vault, allocation to
tail boxes and return to the vault (V1, V2, V4, V5, Q1)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.ledgers import qualifications
from domain.models import (
    Device,
    Incident,
    IncidentStatus,
    MovementKind,
    Org,
    SerialCheck,
    Staff,
    TailBox,
    Voucher,
    VoucherCap,
    VoucherMovement,
    VoucherState,
    VoucherType,
)
from domain.platform import audit
from domain.platform.access import Permission, require
from domain.platform.actors import Actor, person_label
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.clock import business_time
from domain.platform.codes import clean_code
from domain.platform.errors import N_, DomainError
from domain.platform.identity import normalise_serial
from domain.vouchers import voucher_balances
from domain.vouchers._ledger import (
    MAX_RECEIPT,
    NO_SERIALS,
    TOO_MANY,
    Destination,
    audit_operation,
    chain_ids,
    clean_serials,
    listing,
    luhn_digit,
    malformed_serials,
    managed_box,
    moment_or_now,
    move_serials,
    org_in_scope,
    serial_matcher,
    voucher_type_of,
)


@dataclass(frozen=True)
class VoucherTypeForm:
    """A voucher type as ops_admin defines it."""

    name_zh: str
    name_en: str
    serial_pattern: str
    serial_check: str  # "none" or "luhn"


RANGE_TAIL = re.compile(r"(.*?)([0-9]+)", re.ASCII)
IN_PLACE = (VoucherState.IN_BOX, VoucherState.RESERVED)
BAD_PATTERN = N_("%(pattern)s is not a valid serial pattern (a regular expression).")
BAD_CHECK = N_("The check digit rule must be none or luhn.")
CAP_NEGATIVE = N_("The cap must be zero or more.")
CAP_BELOW_HELD = N_("The boxes of %(org)s already hold %(held)s %(type)s; return some to the "
                    "vault before setting the cap to %(cap)s.")
TYPE_INACTIVE = N_("Voucher type %(type)s is not in use.")
NOTHING_TO_RECEIVE = N_("Give at least one serial.")
RANGE_SHAPE = N_("%(first)s and %(last)s do not make a range: both need the same prefix and "
                 "the same number of digits at the end.")
RANGE_ORDER = N_("The range must run upwards: %(last)s comes before %(first)s.")
MALFORMED = N_("Nothing was received. %(count)s serials are malformed: %(serials)s")
DUPLICATES = N_("Nothing was received. %(count)s serials are already in the ledger or listed "
                "twice: %(serials)s")
MALFORMED_AND_DUPLICATES = N_("Nothing was received. Malformed: %(malformed)s. Already in "
                              "the ledger or listed twice: %(duplicates)s")
SERIALS_OR_COUNT = N_("Give either the serials or a count, not both.")
ALLOCATION_SIZE = N_("Allocate from 1 to %(max)s vouchers at once.")
BOX_FROZEN = N_("The tail box of tablet %(asset_tag)s is frozen (%(reason)s); nothing can be "
                "allocated to it.")
BOX_WITHOUT_HOLDER = N_("The tail box of tablet %(asset_tag)s has no holder; vouchers are "
                        "allocated only to a box held by a qualified field agent.")
HOLDER_UNQUALIFIED = N_("%(holder)s, holder of the tail box of tablet %(asset_tag)s, holds no "
                        "active qualification; nothing can be allocated to the box.")
COUNT_MISSING = N_("The tail box of tablet %(asset_tag)s has not been counted; its balance "
                   "must be confirmed by a count before a new allocation.")
COUNT_MISMATCH = N_("The last count of the tail box of tablet %(asset_tag)s did not match the "
                    "ledger; settle it and count again before a new allocation.")
COUNT_TOO_OLD = N_("The last count of the tail box of tablet %(asset_tag)s was at "
                   "%(counted_at)s, more than %(hours)s hours ago; count it again before a "
                   "new allocation.")
INSPECTION_INCIDENT_OPEN = N_("The tail box of tablet %(asset_tag)s has an open inspection "
                              "discrepancy incident #%(incident)s; nothing can be allocated "
                              "to it until the incident is closed.")
NO_CAP = N_("No cap is set for %(type)s in %(org)s or above it; set one before allocating.")
CAP_PASSED = N_("The cap of %(org)s for %(type)s is %(cap)s and its boxes hold %(held)s; "
                "%(count)s more would pass it.")
NOT_IN_VAULT = N_("These serials are not in the vault of %(org)s: %(serials)s")
VAULT_SHORT = N_("The vault of %(org)s holds only %(available)s %(type)s; %(count)s were "
                 "asked for.")
NOT_IN_BOX = N_("These serials are not in the tail box: %(serials)s")


def _expand(vtype: VoucherType, first: str, last: str) -> list[str]:
    """Every serial from first to last; Luhn types count the body and append the digit."""
    if bad := malformed_serials(vtype, [first, last]):
        raise DomainError(MALFORMED, count=len(bad), serials=listing(bad))
    luhn = vtype.serial_check == SerialCheck.LUHN
    low, high = (RANGE_TAIL.fullmatch(s[:-1] if luhn else s) for s in (first, last))
    if (low is None or high is None or low[1] != high[1] or len(low[2]) != len(high[2])):
        raise DomainError(RANGE_SHAPE, first=first, last=last)
    start, end, width = int(low[2]), int(high[2]), len(low[2])
    if end < start:
        raise DomainError(RANGE_ORDER, first=first, last=last)
    if end - start + 1 > MAX_RECEIPT:
        raise DomainError(TOO_MANY, count=end - start + 1, max=MAX_RECEIPT)
    bodies = (f"{low[1]}{n:0{width}d}" for n in range(start, end + 1))
    return [body + luhn_digit(body) if luhn else body for body in bodies]


async def _receive(actor: Actor, org_id: int, vtype: VoucherType, serials: list[str],
                   now: datetime | None) -> int:
    """Check the whole receipt, then write it, or refuse it with the lists (V1)."""
    if not serials:
        raise DomainError(NOTHING_TO_RECEIVE)
    if len(serials) > MAX_RECEIPT:
        raise DomainError(TOO_MANY, count=len(serials), max=MAX_RECEIPT)
    if not vtype.active:
        raise DomainError(TYPE_INACTIVE, type=vtype.code)
    malformed = malformed_serials(vtype, serials)
    async with in_transaction():
        org = await org_in_scope(actor, org_id)
        listed = Counter(serials)
        known = await Voucher.filter(voucher_type_id=vtype.id, serial__in=list(listed)
                                     ).values_list("serial", flat=True)
        duplicates = sorted({s for s, n in listed.items() if n > 1} | set(known))
        _refuse_receipt(malformed, duplicates)
        await _write_receipt(actor, org, vtype, serials, moment_or_now(now))
    return len(serials)


def _refuse_receipt(malformed: list[str], duplicates: list[str]) -> None:
    """Refuse a receipt naming the malformed and the duplicate serials (V1)."""
    if malformed and duplicates:
        raise DomainError(MALFORMED_AND_DUPLICATES, malformed=listing(malformed),
                          duplicates=listing(duplicates))
    if malformed:
        raise DomainError(MALFORMED, count=len(malformed), serials=listing(malformed))
    if duplicates:
        raise DomainError(DUPLICATES, count=len(duplicates), serials=listing(duplicates))


async def _write_receipt(actor: Actor, org: Org, vtype: VoucherType, serials: list[str],
                         moment: datetime) -> None:
    """Write the serials into the vault with one movement each and one audit row (V1)."""
    await Voucher.bulk_create(
        [Voucher(voucher_type_id=vtype.id, serial=s, state=VoucherState.IN_VAULT,
                 org_id=org.id, updated_at=moment) for s in serials], batch_size=1000)
    voucher_ids = await Voucher.filter(voucher_type_id=vtype.id, serial__in=serials
                                       ).values_list("id", flat=True)
    await VoucherMovement.bulk_create(
        [VoucherMovement(voucher_id=voucher_id, voucher_type_id=vtype.id,
                         kind=MovementKind.RECEIVED, from_state=None,
                         to_state=VoucherState.IN_VAULT, org_id=org.id,
                         actor_id=actor.staff_id, actor_label=actor.label, at=moment)
         for voucher_id in voucher_ids], batch_size=1000)
    movement_ids = await VoucherMovement.filter(voucher_id__in=list(voucher_ids)
                                                ).values_list("id", flat=True)
    await voucher_balances.shift(vtype.id, None, voucher_balances.Place(
        org.id, voucher_balances.VAULT, VoucherState.IN_VAULT), len(serials))
    await audit_operation(actor, MovementKind.RECEIVED, org.id, vtype.id, serials, movement_ids, {})


async def _check_box_may_receive(box: TailBox, device: Device, moment: datetime,
                                 max_age: timedelta, zone: ZoneInfo) -> None:
    """Refuse a frozen box, one without a qualified holder, one with an open inspection
    discrepancy incident (V5), or one whose last count is missing, mismatched or too old; a
    box that never held vouchers needs no count (V4)."""
    tag = device.asset_tag
    if box.frozen:
        raise DomainError(BOX_FROZEN, asset_tag=tag, reason=box.frozen_reason)
    holder = await Staff.get_or_none(id=box.holder_id)
    if holder is None:
        raise DomainError(BOX_WITHOUT_HOLDER, asset_tag=tag)
    if not await qualifications.is_qualified(holder.id, moment, zone):
        raise DomainError(HOLDER_UNQUALIFIED, asset_tag=tag,
                          holder=person_label(holder))
    held_by = await Incident.filter(inspections__box_id=box.id, status=IncidentStatus.OPEN
                                    ).order_by("id").first()
    if held_by is not None:
        raise DomainError(INSPECTION_INCIDENT_OPEN, asset_tag=tag, incident=held_by.id)
    if box.last_count_at is None:
        if await VoucherMovement.exists(to_box_id=box.id):
            raise DomainError(COUNT_MISSING, asset_tag=tag)
        return
    if not box.last_count_matched:
        raise DomainError(COUNT_MISMATCH, asset_tag=tag)
    if moment - box.last_count_at > max_age:
        raise DomainError(COUNT_TOO_OLD, asset_tag=tag, hours=int(max_age.total_seconds() // 3600),
                          counted_at=business_time(box.last_count_at, zone))


async def _held_in_boxes(path: str, voucher_type_id: int) -> int:
    """What the boxes of an org subtree answer for of a type: in box, reserved, and
    void-pending or mis-issued out of a box (V2)."""
    return await Voucher.filter(
        Q(state__in=list(IN_PLACE))
        | Q(state__in=[VoucherState.VOID_PENDING, VoucherState.MIS_ISSUED], box_id__isnull=False),
        voucher_type_id=voucher_type_id, org__path__startswith=path).count()


async def _check_caps(org: Org, vtype: VoucherType, adding: int) -> None:
    """Lock the caps of the org chain and refuse an allocation past any of them (V2)."""
    caps = await VoucherCap.filter(voucher_type_id=vtype.id, org_id__in=chain_ids(org)
                                   ).select_for_update().order_by("id")
    if not caps:
        raise DomainError(NO_CAP, type=vtype.code, org=org.name)
    for cap in caps:
        cap_org = await Org.get(id=cap.org_id)
        held = await _held_in_boxes(cap_org.path, vtype.id)
        if held + adding > cap.max_in_boxes:
            raise DomainError(CAP_PASSED, org=cap_org.name, type=vtype.code,
                              cap=cap.max_in_boxes, held=held, count=adding)


def _allocation_size(serials: list[str] | None, count: int | None) -> int:
    """How many serials an allocation moves; exactly one of serials and count is given."""
    if (serials is None) == (count is None):
        raise DomainError(SERIALS_OR_COUNT)
    size = len(clean_serials(serials)) if serials is not None else count or 0
    if not 1 <= size <= MAX_RECEIPT:
        raise DomainError(ALLOCATION_SIZE, max=MAX_RECEIPT)
    return size


async def _from_vault(org: Org, vtype: VoucherType, serials: list[str] | None,
                      size: int) -> list[Voucher]:
    """The named serials, or the lowest ones, from the org's own vault (V1)."""
    vault = Voucher.filter(voucher_type_id=vtype.id, org_id=org.id,
                           state=VoucherState.IN_VAULT).order_by("serial")
    if serials is None:
        rows = await vault.limit(size)
        if len(rows) < size:
            raise DomainError(VAULT_SHORT, org=org.name, type=vtype.code, available=len(rows),
                              count=size)
        return list(rows)
    wanted = clean_serials(serials)
    rows = await vault.filter(serial__in=wanted)
    found = {row.serial for row in rows}
    if missing := [s for s in wanted if s not in found]:
        raise DomainError(NOT_IN_VAULT, org=org.name, serials=listing(missing))
    return list(rows)


async def define_voucher_type(actor: Actor, code: str, form: VoucherTypeForm) -> VoucherType:
    """Define a voucher type with its serial pattern and check digit rule (V1)."""
    require(actor, Permission.VOUCHER_MANAGE)
    clean = clean_code(code)
    name_zh, name_en = form.name_zh.strip(), form.name_en.strip()
    if not name_zh or not name_en:
        raise DomainError(N_("Both the Chinese and the English name are required."))
    pattern = form.serial_pattern.strip()
    try:
        re.compile(pattern)
    except re.error:
        raise DomainError(BAD_PATTERN, pattern=pattern) from None
    serial_matcher(pattern)
    if not pattern or form.serial_check not in {check.value for check in SerialCheck}:
        raise DomainError(BAD_PATTERN if not pattern else BAD_CHECK, pattern=pattern)
    values = {"name_zh": name_zh, "name_en": name_en, "serial_pattern": pattern,
              "serial_check": SerialCheck(form.serial_check)}
    async with in_transaction():
        row = await VoucherType.filter(code=clean).select_for_update().first()
        if row is None:
            row = await VoucherType.create(code=clean, **values)
        else:
            await row.update_from_dict(values).save()
        await audit.record(actor, "voucher_type.defined", "voucher_type", row.id,
                           org_id=actor.org_id, detail={"code": clean} | values)
    return row


async def set_cap(actor: Actor, org_id: int, voucher_type_id: int, max_in_boxes: int
                  ) -> VoucherCap:
    """Set the most vouchers of a type the boxes of an org may hold (V2)."""
    require(actor, Permission.VOUCHER_MANAGE)
    if max_in_boxes < 0:
        raise DomainError(CAP_NEGATIVE)
    async with in_transaction():
        org = await org_in_scope(actor, org_id)
        vtype = await voucher_type_of(voucher_type_id)
        cap = await VoucherCap.filter(org_id=org.id, voucher_type_id=vtype.id
                                      ).select_for_update().first()
        held = await _held_in_boxes(org.path, vtype.id)
        if held > max_in_boxes:
            raise DomainError(CAP_BELOW_HELD, org=org.name, type=vtype.code, held=held,
                              cap=max_in_boxes)
        if cap is None:
            cap = await VoucherCap.create(org=org, voucher_type=vtype, max_in_boxes=max_in_boxes)
        else:
            cap.max_in_boxes = max_in_boxes
            await cap.save()
        await audit.record(actor, "voucher_cap.set", "voucher_cap", cap.id, org_id=org.id,
                           detail={"voucher_type": vtype.code, "max_in_boxes": max_in_boxes})
    return cap


async def receive_range(actor: Actor, org_id: int, voucher_type_id: int, first: str,
                        last: str, now: datetime | None = None) -> int:
    """Receive a serial range into an org's vault; malformed or duplicate serials are
    refused with the list and nothing is written (V1)."""
    require(actor, Permission.VOUCHER_MANAGE)
    vtype = await voucher_type_of(voucher_type_id)
    return await _receive(actor, org_id, vtype, _expand(vtype, normalise_serial(first),
                                                        normalise_serial(last)), now)


async def receive_serials(actor: Actor, org_id: int, voucher_type_id: int,
                          serials: list[str], now: datetime | None = None) -> int:
    """Receive listed serials (e.g. from a file) into an org's vault, all or nothing (V1)."""
    require(actor, Permission.VOUCHER_MANAGE)
    vtype = await voucher_type_of(voucher_type_id)
    return await _receive(actor, org_id, vtype,
                          [s for s in map(normalise_serial, serials) if s], now)


async def allocate(actor: Actor, box_id: int, voucher_type_id: int, *,
                   serials: list[str] | None = None, count: int | None = None,
                   now: datetime | None = None, count_max_age: timedelta = timedelta(hours=24),
                   zone: ZoneInfo = DEFAULT_ZONE) -> list[Voucher]:
    """Allocate serials, or a count of the lowest serials, from the vault of the box's own
    org to the box; refused when the box is frozen, the holder lacks an active
    qualification, the last count is missing/mismatched/too old (a new empty box needs
    none), an inspection discrepancy is open, or a cap on the org chain would be passed —
    each with its reason (V1, V2, V4, V5, Q1).
    Concurrent allocations never pass the cap."""
    size = _allocation_size(serials, count)
    moment = moment_or_now(now)
    async with in_transaction():
        box, org, device = await managed_box(actor, box_id)
        vtype = await voucher_type_of(voucher_type_id)
        await _check_box_may_receive(box, device, moment, count_max_age, zone)
        await _check_caps(org, vtype, size)
        rows = await _from_vault(org, vtype, serials, size)
        await move_serials(actor, MovementKind.ALLOCATED,
                           [(row, Destination(VoucherState.IN_BOX, box.id)) for row in rows],
                           moment, detail={"box_id": box.id})
    return rows


async def allocation_refusal(actor: Actor, box_id: int, *, now: datetime | None = None,
                             count_max_age: timedelta = timedelta(hours=24),
                             zone: ZoneInfo = DEFAULT_ZONE) -> DomainError | None:
    """Why the box may receive no allocation now, by the checks `allocate` makes; None when
    it may (V1, V4, V5, Q1)."""
    box, _org, device = await managed_box(actor, box_id)
    try:
        await _check_box_may_receive(box, device, moment_or_now(now), count_max_age, zone)
    except DomainError as refusal:
        return refusal
    return None


async def return_to_vault(actor: Actor, box_id: int, serials: list[str],
                          now: datetime | None = None) -> int:
    """Take serials from a box back into the vault (V1)."""
    wanted = clean_serials(serials)
    if not wanted:
        raise DomainError(NO_SERIALS)
    async with in_transaction():
        box, _, _ = await managed_box(actor, box_id)
        rows = await Voucher.filter(box_id=box.id, state=VoucherState.IN_BOX,
                                    serial__in=wanted).select_for_update().order_by("serial")
        found = {row.serial for row in rows}
        if missing := [s for s in wanted if s not in found]:
            raise DomainError(NOT_IN_BOX, serials=listing(missing))
        await move_serials(actor, MovementKind.RETURNED_TO_VAULT,
                           [(row, Destination(VoucherState.IN_VAULT)) for row in rows],
                           moment_or_now(now), detail={"box_id": box.id})
    return len(rows)
