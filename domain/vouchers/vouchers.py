"""Voucher ledger: stock, allocation, use in cases, losses, voids, counts (V1–V6, C3, Q4, Q5).

Serial states (DESIGN.md section 4):
    in_vault --allocate--> in_box --reserve(case)--> reserved --issue(approval)--> issued
    reserved --release(the agent corrects the serial of his draft)--> in_box
    reserved --to recover(reject, cancel)--> mis_issued --taken back--> in_box
    in_box --return_to_vault--> in_vault
    in_vault | in_box | reserved --report lost--> void_pending (a VoidRequest of kind lost)
    in_box --mis-issue--> mis_issued --recovered--> void_pending (kind mis_issued)
                                     --unrecoverable--> void_pending (kind lost, major)
    void_pending --two signatures--> voided ; --refused--> the state before the request
Every change of a serial is a conditional UPDATE on its expected state plus one
VoucherMovement row, in the transaction that also writes the audit row; a serial is never
in two places and an issued or voided serial never moves again. Balances are counted
from the voucher rows (state + box / org), which the movements explain.
Managing needs VOUCHER_MANAGE (ops_admin) in the actor's org subtree, reading VOUCHER_VIEW.

Decisions:
- Where a serial is: in_vault has no box; in_box and reserved name their box (reserved also
  its case); issued has left the box and keeps its case; void_pending stays recorded at its
  former place until it is voided (no box) or the request is refused. A serial never
  changes org: the vault a box draws from is the vault of the box's own org.
- A range of a Luhn type (card numbers) is given by its first and last full numbers: the
  body without the check digit is counted up and every serial gets its computed check
  digit. Other types count up the numeric tail after a common prefix.
- The cap of an org bounds the boxes of its whole subtree; an allocation must fit every cap
  on the box org's chain and needs at least one (V2: every org has a cap). Serials in a
  box, reserved, or void-pending out of a box all count, since a refused void brings them
  back. The cap rows are locked (SELECT FOR UPDATE on PostgreSQL; SQLite serialises
  writers) and the tally is recounted inside the transaction.
- A frozen box takes no allocation and no reservation; serials already reserved may still
  be issued or released and ops_admin may take serials back to the vault.
- Each operation writes one audit row naming its movements (ids as runs [first, last]).
- A mis-issue (V6) is a serial handed to a customer although the ledger still shows it in
  the tail box (the agent took the wrong card; the serial the case recorded stays as it
  is). It is recorded as a `MisIssue` with a recovery deadline and a mis-issue incident;
  the serial turns mis_issued, still charged to its box (it counts toward the cap and is
  held in the reconciliation until voided) but not expected at a count. Recovered, it is
  voided under a request of kind mis_issued; unrecoverable, it counts as lost: a request of
  kind lost and the incident marked major (Q4). A refused void sends it back to mis_issued
  and the mis-issue back to recovering. A serial the ledger shows issued was handed over
  as recorded and never moves again. Expired serials are voided from the vault only.
- What the box holds physically is its in_box serials only (`expected_in_box`, the one
  figure of day-end counts, hand-overs and both inspection counts): a reserved serial was
  handed to the customer at capture; mis-issued and void-pending ones are out of the box.
- A rejected or cancelled case cannot put its serial back in the box: the card is with the
  customer. It turns mis_issued under a `MisIssue` of kind case_closed (no incident yet)
  with the recovery deadline, and the holder is asked in chat to take it back. A card the
  customer never used and handed back intact goes back into the box (movement taken_back,
  an entry on the case timeline), as a bank takes back an unused card of a refused
  application; ops management may record the same. If it cannot be taken back it is
  written off like a mis-issue: a mis-issue incident opens then, marked major (Q4), and
  the serial is voided as lost. Correcting the serial of a draft (the serial named first
  never left the box) still releases it into the box.
- A mis-issue deadline is at most the recovery days ahead (a setting, 7 by default, at most
  30); only operations management chooses one, the holder reporting in chat gets the
  default. Reminders before and escalation after it are swept by `mis_issue_deadlines`.
- A loss reported without an incident opens a voucher-loss incident. A refused void puts
  a reserved serial back on its case only while the case is open and holds no other
  reservation; otherwise it goes back into the box.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from domain.ledgers import qualifications
from domain.ledgers.qualifications import DEFAULT_INCIDENT_RULES, IncidentRules
from domain.models import (
    BusinessType,
    Case,
    CaseEventKind,
    CaseStatus,
    Device,
    Incident,
    IncidentKind,
    IncidentStatus,
    MisIssue,
    MisIssueKind,
    MisIssueStatus,
    MovementKind,
    Org,
    Role,
    SerialCheck,
    Staff,
    TailBox,
    VoidKind,
    VoidRequest,
    VoidRequestItem,
    VoidStatus,
    Voucher,
    VoucherCap,
    VoucherMovement,
    VoucherState,
    VoucherType,
)
from domain.platform import audit, chains, events, outbox
from domain.platform.access import (
    Permission,
    can,
    in_scope,
    require,
    require_scope,
    scope_prefix,
    sees_everything,
)
from domain.platform.actors import Actor, system_actor
from domain.platform.clock import utcnow
from domain.platform.codes import clean_code
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.events import (
    CaseApproved,
    CaseCancelled,
    CaseRejected,
    CaseVoucherMoved,
    DeviceLost,
    VouchersLost,
)
from domain.platform.identity import normalise_serial
from domain.vouchers import voucher_balances

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")
MAX_RECEIPT = 10_000  # serials per receipt


@dataclass(frozen=True)
class VoucherTypeForm:
    """A voucher type as ops_admin defines it."""

    name_zh: str
    name_en: str
    serial_pattern: str
    serial_check: str  # "none" or "luhn"


@dataclass(frozen=True)
class Balance:
    """How many serials of one type are in one place."""

    org_id: int
    org_name: str
    box_id: int | None  # None: the org's vault
    holder_name: str
    voucher_type_code: str
    in_vault: int
    in_box: int
    reserved: int
    void_pending: int
    mis_issued: int


@dataclass(frozen=True)
class ReconciliationRow:
    """One org and type of the monthly reconciliation report (V1 to V6)."""

    org_id: int
    org_name: str
    voucher_type_code: str
    opening: int
    received: int
    allocated: int
    issued: int
    voided: int
    lost: int
    mis_issued: int
    closing: int


# --- private helpers of the ledger core ---------------------------------------------------

LISTED = 100  # serials named in a refusal or an audit row
MAX_TEXT = 1000
TIME_FORMAT = "%Y-%m-%d %H:%M"
RANGE_TAIL = re.compile(r"(.*?)([0-9]+)", re.ASCII)
IN_PLACE = (VoucherState.IN_BOX, VoucherState.RESERVED)
BALANCE_STATES = (VoucherState.IN_VAULT, VoucherState.IN_BOX, VoucherState.RESERVED,
                  VoucherState.VOID_PENDING, VoucherState.MIS_ISSUED)
LOSABLE = (VoucherState.IN_VAULT, VoucherState.IN_BOX, VoucherState.RESERVED)
VOIDABLE: dict[VoidKind, tuple[VoucherState, ...]] = {
    VoidKind.LOST: LOSABLE,
    VoidKind.MIS_ISSUED: (VoucherState.MIS_ISSUED,),
    VoidKind.EXPIRED: (VoucherState.IN_VAULT,),
}
RESERVABLE_CASES = (CaseStatus.DRAFT, CaseStatus.RETURNED)
CASE_EVENTS = {MovementKind.ISSUED: CaseEventKind.VOUCHER_ISSUED,
               MovementKind.RELEASED: CaseEventKind.VOUCHER_RELEASED}
OPEN_CASES = (CaseStatus.DRAFT, CaseStatus.SUBMITTED, CaseStatus.IN_REVIEW,
              CaseStatus.RETURNED, CaseStatus.ON_HOLD)
SLOTS: tuple[tuple[str, Permission], ...] = (
    ("business_head", Permission.VOID_SIGN_BUSINESS),
    ("ops_head", Permission.VOID_SIGN_OPERATIONS),
)

NO_SUCH_VOUCHER_TYPE = N_("No such voucher type.")
NO_SUCH_BOX = N_("No such tail box.")
NO_SUCH_VOID = N_("No such void request.")
REASON_REQUIRED = N_("Give the reason.")
BAD_PATTERN = N_("%(pattern)s is not a valid serial pattern (a regular expression).")
BAD_CHECK = N_("The check digit rule must be none or luhn.")
CAP_NEGATIVE = N_("The cap must be zero or more.")
CAP_BELOW_HELD = N_("The boxes of %(org)s already hold %(held)s %(type)s; return some to the "
                    "vault before setting the cap to %(cap)s.")
TYPE_INACTIVE = N_("Voucher type %(type)s is not in use.")
NOTHING_TO_RECEIVE = N_("Give at least one serial.")
TOO_MANY = N_("%(count)s serials at once is too many; at most %(max)s.")
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
CHANGED_MEANWHILE = N_("Serial %(serial)s was changed by someone else meanwhile; nothing was "
                       "done. Try again.")
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
BOX_NOT_FROZEN = N_("The tail box of tablet %(asset_tag)s is not frozen.")
UNFROZEN_TO_HOLDER = N_("The tail box of tablet %(asset_tag)s is unfrozen by %(actor)s: "
                        "%(reason)s")
NO_SERIALS = N_("Name at least one serial.")
CANNOT_TAKE_STEP = N_("These serials are unknown or cannot take this step in their present "
                      "state: %(serials)s")
AMBIGUOUS = N_("These serials exist in more than one voucher type: %(serials)s")
NOT_YOUR_SERIALS = N_("These serials are not in your tail box: %(serials)s")
MIXED_ORGS = N_("These serials belong to different organisations; make one request per "
                "organisation.")
VOID_TO_SIGNER = N_("Void request #%(request)s of %(org)s by %(requester)s: %(count)s "
                    "vouchers (%(serials)s). Reason: %(reason)s. It needs your signature.")
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
BAD_KIND = N_("Unknown movement kind %(kind)s.")
MIS_ISSUE_VOID_BY_RECOVERY = N_("A mis-issued serial is voided by recording its recovery on "
                                "the mis-issue page.")
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
TOOK_IT_BACK = N_("I took it back")
TAKE_BACK_PREFIX = "vc:back:"
MIS_ISSUE_TO_HOLDER = N_("Serial %(serial)s of your tail box is recorded as handed to a "
                         "customer by mistake (%(reason)s). Recover it from the customer by "
                         "%(recover_by)s and hand it to operations management.")
MIS_ISSUE_TO_SUPERVISOR = N_("Mis-issue in %(org)s: serial %(serial)s from the tail box of "
                             "%(holder)s was handed to a customer by mistake (%(reason)s); "
                             "recovery due by %(recover_by)s.")
MIS_ISSUE_RECOVERY_DAYS = 7


@dataclass(frozen=True)
class _Place:
    """Where a serial goes: its state, box and case."""

    state: VoucherState
    box_id: int | None = None
    case_id: int | None = None


def _moment(now: datetime | None) -> datetime:
    return now or utcnow()


def _text(value: str, missing: str = REASON_REQUIRED) -> str:
    """A trimmed reason or note, refused when empty."""
    clean = " ".join(value.split())[:MAX_TEXT]
    if not clean:
        raise DomainError(missing)
    return clean


def _clean_serials(serials: Iterable[str]) -> list[str]:
    """Normalised (full-width digits read as digits), non-empty serials without repeats, in
    the order given (V1)."""
    return list(dict.fromkeys(clean for clean in map(normalise_serial, serials) if clean))


def _listing(serials: Sequence[str]) -> str:
    """Serials named in a message: the first ones, then an ellipsis."""
    shown = ", ".join(serials[:LISTED])
    return shown + (" …" if len(serials) > LISTED else "")


def _runs(ids: Iterable[int]) -> list[list[int]]:
    """Ids as runs of consecutive numbers, [[first, last], ...]."""
    runs: list[list[int]] = []
    for value in sorted(ids):
        if runs and runs[-1][1] == value - 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    return runs


def _chain_ids(org: Org) -> list[int]:
    """The ids of an org and of every org above it (its path)."""
    return [int(part) for part in org.path.split("/") if part]


async def _type(voucher_type_id: int) -> VoucherType:
    row = await VoucherType.get_or_none(id=voucher_type_id)
    if row is None:
        raise NotFound(NO_SUCH_VOUCHER_TYPE)
    return row


async def _org(actor: Actor, org_id: int) -> Org:
    """An org of the actor's subtree."""
    org = await Org.get_or_none(id=org_id)
    if org is None:
        raise NotFound(N_("No such organisation."))
    require_scope(actor, org)
    return org


def _luhn_digit(body: str) -> str:
    """The Luhn check digit of a digit string."""
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(body)):
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return str(-total % 10)


def _malformed(vtype: VoucherType, serials: Iterable[str]) -> list[str]:
    """The serials failing the type's pattern or its check digit (V1)."""
    pattern = re.compile(vtype.serial_pattern)
    luhn = vtype.serial_check == SerialCheck.LUHN
    return [s for s in serials if not pattern.fullmatch(s) or (luhn and not (
        s.isascii() and s.isdigit() and len(s) > 1 and _luhn_digit(s[:-1]) == s[-1]))]


def _expand(vtype: VoucherType, first: str, last: str) -> list[str]:
    """Every serial from first to last; Luhn types count the body and append the digit."""
    if bad := _malformed(vtype, [first, last]):
        raise DomainError(MALFORMED, count=len(bad), serials=_listing(bad))
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
    return [body + _luhn_digit(body) if luhn else body for body in bodies]


async def _receive(actor: Actor, org_id: int, vtype: VoucherType, serials: list[str],
                   now: datetime | None) -> int:
    """Check the whole receipt, then write it, or refuse it with the lists (V1)."""
    if not serials:
        raise DomainError(NOTHING_TO_RECEIVE)
    if len(serials) > MAX_RECEIPT:
        raise DomainError(TOO_MANY, count=len(serials), max=MAX_RECEIPT)
    if not vtype.active:
        raise DomainError(TYPE_INACTIVE, type=vtype.code)
    malformed = _malformed(vtype, serials)
    async with in_transaction():
        org = await _org(actor, org_id)
        listed = Counter(serials)
        known = await Voucher.filter(voucher_type_id=vtype.id, serial__in=list(listed)
                                     ).values_list("serial", flat=True)
        duplicates = sorted({s for s, n in listed.items() if n > 1} | set(known))
        _refuse_receipt(malformed, duplicates)
        await _write_receipt(actor, org, vtype, serials, _moment(now))
    return len(serials)


def _refuse_receipt(malformed: list[str], duplicates: list[str]) -> None:
    """Refuse a receipt naming the malformed and the duplicate serials (V1)."""
    if malformed and duplicates:
        raise DomainError(MALFORMED_AND_DUPLICATES, malformed=_listing(malformed),
                          duplicates=_listing(duplicates))
    if malformed:
        raise DomainError(MALFORMED, count=len(malformed), serials=_listing(malformed))
    if duplicates:
        raise DomainError(DUPLICATES, count=len(duplicates), serials=_listing(duplicates))


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
    await _audit(actor, MovementKind.RECEIVED, org.id, vtype.id, serials, movement_ids, {})


async def _move(actor: Actor, kind: MovementKind, moves: list[tuple[Voucher, _Place]],
                moment: datetime, *, note: str = "", detail: dict[str, Any] | None = None
                ) -> None:
    """Move each serial from the state it was read in, with one movement each and one audit
    row for the operation; a serial changed meanwhile refuses the whole operation."""
    movement_ids = [(await _move_one(actor, kind, voucher, place, moment, note)).id
                    for voucher, place in moves]
    first = moves[0][0]
    await _audit(actor, kind, first.org_id, first.voucher_type_id,
                 [voucher.serial for voucher, _ in moves], movement_ids, detail or {})


async def _move_one(actor: Actor, kind: MovementKind, voucher: Voucher, place: _Place,
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


async def _audit(actor: Actor, kind: MovementKind, org_id: int, voucher_type_id: int,
                 serials: list[str], movement_ids: Iterable[int], detail: dict[str, Any]
                 ) -> None:
    """One audit row for an operation, naming its movements and serials."""
    named = ({"serials": serials} if len(serials) <= LISTED
             else {"first": min(serials), "last": max(serials)})
    await audit.record(actor, f"voucher.{kind.value}", "voucher",
                       serials[0] if len(serials) == 1 else "", org_id=org_id,
                       detail={"voucher_type_id": voucher_type_id, "count": len(serials),
                               "movements": _runs(movement_ids)} | named | detail)


async def _managed_box(actor: Actor, box_id: int) -> tuple[TailBox, Org, Device]:
    """A box the actor may manage, locked, with its org and device."""
    require(actor, Permission.VOUCHER_MANAGE)
    box = await TailBox.filter(id=box_id).select_for_update().first()
    if box is None:
        raise NotFound(NO_SUCH_BOX)
    org = await Org.get(id=box.org_id)
    require_scope(actor, org)
    return box, org, await Device.get(id=box.device_id)


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
                          holder=f"{holder.employee_no} {holder.name}")
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
                          counted_at=box.last_count_at.astimezone(zone).strftime(TIME_FORMAT))


async def _held_in_boxes(path: str, voucher_type_id: int) -> int:
    """What the boxes of an org subtree answer for of a type: in box, reserved, and
    void-pending or mis-issued out of a box (V2)."""
    return await Voucher.filter(
        Q(state__in=list(IN_PLACE))
        | Q(state__in=[VoucherState.VOID_PENDING, VoucherState.MIS_ISSUED], box_id__isnull=False),
        voucher_type_id=voucher_type_id, org__path__startswith=path).count()


async def _check_caps(org: Org, vtype: VoucherType, adding: int) -> None:
    """Lock the caps of the org chain and refuse an allocation past any of them (V2)."""
    caps = await VoucherCap.filter(voucher_type_id=vtype.id, org_id__in=_chain_ids(org)
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
    size = len(_clean_serials(serials)) if serials is not None else count or 0
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
    wanted = _clean_serials(serials)
    rows = await vault.filter(serial__in=wanted)
    found = {row.serial for row in rows}
    if missing := [s for s in wanted if s not in found]:
        raise DomainError(NOT_IN_VAULT, org=org.name, serials=_listing(missing))
    return list(rows)


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
    if _malformed(vtype, [serial]):
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
        moves = [(v, _Place(to_state, v.box_id if to_state == VoucherState.IN_BOX else None,
                            case_id if to_state == VoucherState.ISSUED else None))
                 for v in held]
        await _move(actor, kind, moves, _moment(now), detail={"case_id": case_id})
        case = await Case.get(id=case_id)
        for voucher in held:
            await _case_event(actor, case, CASE_EVENTS[kind], voucher, _moment(now))


async def _case_event(actor: Actor, case: Case, kind: CaseEventKind, voucher: Voucher,
                      moment: datetime) -> None:
    """The entry on the case timeline for a serial the case reserved, issued or released,
    written by the cases area (C3, C9)."""
    vtype = await VoucherType.get(id=voucher.voucher_type_id)
    await events.publish(CaseVoucherMoved(actor, case.id, kind, voucher.serial, vtype.code,
                                          moment))


async def _void_rows(serials: list[str], states: tuple[VoucherState, ...]) -> list[Voucher]:
    """The named serials, locked, each in one of the states, else refused with the list."""
    wanted = _clean_serials(serials)
    if not wanted:
        raise DomainError(NO_SERIALS)
    if len(wanted) > MAX_RECEIPT:
        raise DomainError(TOO_MANY, count=len(wanted), max=MAX_RECEIPT)
    rows = await Voucher.filter(serial__in=wanted, state__in=list(states)).select_for_update()
    found: dict[str, int] = {}
    for row in rows:
        found[row.serial] = found.get(row.serial, 0) + 1
    if missing := [s for s in wanted if s not in found]:
        raise DomainError(CANNOT_TAKE_STEP, serials=_listing(missing))
    if ambiguous := [s for s in wanted if found[s] > 1]:
        raise DomainError(AMBIGUOUS, serials=_listing(ambiguous))
    return sorted(rows, key=lambda row: row.serial)


async def _void_org(actor: Actor, rows: list[Voucher], *, holder_may: bool) -> Org:
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
        raise PermissionDenied(NOT_YOUR_SERIALS, serials=_listing(foreign))
    require_scope(actor, org)
    return org


async def _open_void(actor: Actor, rows: list[Voucher], kind: VoidKind, reason: str, org: Org,
                     moment: datetime, incident: Incident | None = None) -> VoidRequest:
    """Open the request, remember where each serial was, make them void-pending (V6)."""
    request = await VoidRequest.create(
        org_id=org.id, kind=kind, reason=reason, requested_by_id=actor.staff_id,
        incident_id=incident.id if incident else None, requested_at=moment)
    await VoidRequestItem.bulk_create([VoidRequestItem(
        void_request_id=request.id, voucher_id=row.id, previous_state=row.state,
        previous_box_id=row.box_id) for row in rows])
    movement = MovementKind.REPORTED_LOST if kind == VoidKind.LOST else MovementKind.VOID_REQUESTED
    await _move(actor, movement, [
        (row, _Place(VoucherState.VOID_PENDING, row.box_id, row.case_id))
        for row in rows], moment, note=reason, detail={"void_request_id": request.id})
    await audit.record(actor, "void.requested", "void_request", request.id, org_id=org.id,
                       detail={"kind": kind.value, "count": len(rows), "reason": reason})
    params = {"request": request.id, "org": org.name, "requester": actor.label,
              "count": len(rows), "serials": _listing([row.serial for row in rows]),
              "reason": reason}
    for signer in await chains.staff_in_chain(org, Role.BUSINESS_HEAD, Role.OPS_ADMIN):
        if signer.id != actor.staff_id:
            await outbox.enqueue(signer.id, VOID_TO_SIGNER, params,
                                 idempotency_key=f"void:{request.id}:asked:{signer.id}")
    return request


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
        org_id=org.id, item=_listing([row.serial for row in rows])[:200], occurred_at=moment,
        description=reason, detail={"what": "vouchers", "count": len(rows)},
        reported_by_id=actor.staff_id, reported_at=moment)
    await audit.record(actor, "incident.reported", "incident", incident.id, org_id=org.id,
                       detail={"kind": incident.kind.value, "item": incident.item})
    return incident


def _holders_of(incident: Incident, holders: list[int]) -> list[int]:
    """The staff a loss is charged to: the box holders, else the incident's staff member."""
    return holders or ([incident.staff_id] if incident.staff_id else [])  # type: ignore[attr-defined]


async def _mark_major(actor: Actor, incident: Incident, holders: list[int], reason: str,
                      count: int, moment: datetime, rules: IncidentRules) -> None:
    """Mark the incident major once, counted against the holders (Q4): a mass loss, or a
    mis-issued voucher not recovered."""
    marked = await Incident.filter(id=incident.id, major=False).update(
        major=True, detail=incident.detail | {"major_reason": reason, "lost": count})
    if marked:
        await audit.record(actor, "incident.marked_major", "incident", incident.id,
                           org_id=incident.org_id,  # type: ignore[attr-defined]
                           detail={"reason": reason, "count": count})
        for staff_id in _holders_of(incident, holders):
            await qualifications.major_incident_recorded(staff_id, moment, rules)


async def _suspend_for_lax_management(incident: Incident, holders: list[int],
                                      moment: datetime) -> None:
    """A voucher loss through lax management suspends the holders until rectified (Q5)."""
    for staff_id in _holders_of(incident, holders):
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
    require_scope(actor, await Org.get(id=request.org_id))
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
    moves = [(voucher, _Place(VoucherState.VOIDED, None, voucher.case_id))
             for voucher, _ in await _items(request)]
    await _move(actor, MovementKind.VOIDED, moves, moment,
                detail={"void_request_id": request.id})
    if request.requested_by_id is not None:
        await outbox.enqueue(request.requested_by_id, VOIDED_TO_REQUESTER,
                             {"request": request.id, "count": len(moves)},
                             idempotency_key=f"void:{request.id}:voided")


async def _restored(voucher: Voucher, item: VoidRequestItem) -> _Place:
    """The former place of a serial; a reserved one returns to its case only while the case
    is open and holds no other serial, else into the box (V6)."""
    if item.previous_state != VoucherState.RESERVED:
        return _Place(item.previous_state, item.previous_box_id)
    case_id = voucher.case_id
    still_open = case_id is not None and await Case.exists(id=case_id, status__in=OPEN_CASES)
    if still_open and not await Voucher.exists(case_id=case_id, state=VoucherState.RESERVED):
        return _Place(VoucherState.RESERVED, item.previous_box_id, case_id)
    return _Place(VoucherState.IN_BOX, item.previous_box_id)


async def _in_box(box_ids: list[int]) -> dict[str, int]:
    """What boxes hold physically per voucher type code: their in_box serials (V3, V5)."""
    rows = await Voucher.filter(box_id__in=box_ids, state=VoucherState.IN_BOX).annotate(
        n=Count("id")).group_by("voucher_type_id").values("voucher_type_id", "n")
    codes = dict(await VoucherType.all().values_list("id", "code"))
    return {codes[row["voucher_type_id"]]: row["n"] for row in rows}


async def _balance_rows(prefix: str) -> list[Balance]:
    """Counts per org, place and type of the subtree under the path prefix, from the stored
    balances (V1)."""
    org_ids = await Org.filter(path__startswith=prefix).values_list("id", flat=True)
    tally: dict[tuple[int, int | None, int], dict[str, int]] = {}
    for row in await voucher_balances.stored(list(org_ids)):
        if row.state in BALANCE_STATES:
            key = (row.org_id, row.box_id or None, row.voucher_type_id)
            tally.setdefault(key, {})[row.state.value] = row.count
    orgs = {org.id: org for org in await Org.filter(id__in={k[0] for k in tally})}
    codes = dict(await VoucherType.all().values_list("id", "code"))
    holders = dict(await TailBox.filter(id__in={k[1] for k in tally if k[1]}).values_list(
        "id", "holder__name"))
    balances = [Balance(org_id, orgs[org_id].name, box_id, holders.get(box_id) or "",
                        codes[type_id], *(counts.get(s.value, 0) for s in BALANCE_STATES))
                for (org_id, box_id, type_id), counts in tally.items()]
    return sorted(balances, key=lambda b: (orgs[b.org_id].path, b.box_id or 0,
                                           b.voucher_type_code))


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
        org = await _org(actor, org_id)
        vtype = await _type(voucher_type_id)
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


async def box_for_device(device_id: int) -> TailBox:
    """The tail box of a device, created on first use with the device's org (V1)."""
    box = await TailBox.get_or_none(device_id=device_id)
    if box is not None:
        return box
    device = await Device.get_or_none(id=device_id)
    if device is None:
        raise NotFound(N_("No such tablet."))
    try:
        async with in_transaction():
            return await TailBox.create(device_id=device.id, org_id=device.org_id,
                                        holder_id=device.holder_id)
    except IntegrityError:
        return await TailBox.get(device_id=device_id)


async def receive_range(actor: Actor, org_id: int, voucher_type_id: int, first: str,
                        last: str, now: datetime | None = None) -> int:
    """Receive a serial range into an org's vault; malformed or duplicate serials are
    refused with the list and nothing is written (V1)."""
    require(actor, Permission.VOUCHER_MANAGE)
    vtype = await _type(voucher_type_id)
    return await _receive(actor, org_id, vtype, _expand(vtype, normalise_serial(first),
                                                        normalise_serial(last)), now)


async def receive_serials(actor: Actor, org_id: int, voucher_type_id: int,
                          serials: list[str], now: datetime | None = None) -> int:
    """Receive listed serials (e.g. from a file) into an org's vault, all or nothing (V1)."""
    require(actor, Permission.VOUCHER_MANAGE)
    vtype = await _type(voucher_type_id)
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
    moment = _moment(now)
    async with in_transaction():
        box, org, device = await _managed_box(actor, box_id)
        vtype = await _type(voucher_type_id)
        await _check_box_may_receive(box, device, moment, count_max_age, zone)
        await _check_caps(org, vtype, size)
        rows = await _from_vault(org, vtype, serials, size)
        await _move(actor, MovementKind.ALLOCATED,
                    [(row, _Place(VoucherState.IN_BOX, box.id)) for row in rows], moment,
                    detail={"box_id": box.id})
    return rows


async def return_to_vault(actor: Actor, box_id: int, serials: list[str],
                          now: datetime | None = None) -> int:
    """Take serials from a box back into the vault (V1)."""
    wanted = _clean_serials(serials)
    if not wanted:
        raise DomainError(NO_SERIALS)
    async with in_transaction():
        box, _, _ = await _managed_box(actor, box_id)
        rows = await Voucher.filter(box_id=box.id, state=VoucherState.IN_BOX,
                                    serial__in=wanted).select_for_update().order_by("serial")
        found = {row.serial for row in rows}
        if missing := [s for s in wanted if s not in found]:
            raise DomainError(NOT_IN_BOX, serials=_listing(missing))
        await _move(actor, MovementKind.RETURNED_TO_VAULT,
                    [(row, _Place(VoucherState.IN_VAULT)) for row in rows], _moment(now),
                    detail={"box_id": box.id})
    return len(rows)


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
        await _move(actor, MovementKind.RESERVED, [(voucher, _Place(
            VoucherState.RESERVED, voucher.box_id, case.id))],
            _moment(now), detail={"case_id": case.id})
        await _case_event(actor, case, CaseEventKind.VOUCHER_RESERVED, voucher, _moment(now))
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


async def freeze_box_of_device(actor: Actor, device_id: int, reason: str,
                               now: datetime | None = None) -> None:
    """Freeze the tail box of a lost device (D3). Call inside the loss transaction."""
    text = _text(reason)
    async with in_transaction():
        box = await box_for_device(device_id)
        if await TailBox.filter(id=box.id, frozen=False).update(frozen=True, frozen_reason=text):
            await audit.record(actor, "tail_box.frozen", "tail_box", box.id,
                               org_id=box.org_id,
                               detail={"device_id": device_id, "reason": text,
                                       "at": _moment(now).isoformat()})


async def freeze_box_of_lost_device(event: DeviceLost) -> None:
    """A tablet reported lost: its tail box is frozen (D3)."""
    await freeze_box_of_device(event.actor, event.device_id, event.reason, event.at)


async def unfreeze_box(actor: Actor, box_id: int, reason: str) -> TailBox:
    """An ops_admin unfreezes a box once the matter is settled (D3, V5)."""
    text = _text(reason)
    async with in_transaction():
        box, org, device = await _managed_box(actor, box_id)
        if not box.frozen:
            raise DomainError(BOX_NOT_FROZEN, asset_tag=device.asset_tag)
        box.frozen, box.frozen_reason = False, ""
        await box.save(update_fields=["frozen", "frozen_reason"])
        await audit.record(actor, "tail_box.unfrozen", "tail_box", box.id, org_id=org.id,
                           detail={"reason": text})
        if box.holder_id is not None:
            await outbox.enqueue(box.holder_id, UNFROZEN_TO_HOLDER,
                                 {"asset_tag": device.asset_tag, "actor": actor.label,
                                  "reason": text},
                                 idempotency_key=f"tail_box:{box.id}:unfrozen:"
                                                 f"{utcnow().isoformat()}")
    return box


async def report_lost_serials(actor: Actor, serials: list[str], reason: str, *,
                              incident_id: int | None = None, lax_management: bool = False,
                              rules: IncidentRules = DEFAULT_INCIDENT_RULES,
                              now: datetime | None = None) -> VoidRequest:
    """Lost serials go void-pending at once under a void request of kind lost; a mass loss
    (count over the configured threshold) marks the incident major (Q4); a loss through lax
    management
    suspends the holder's qualifications until rectified (Q5) (V6)."""
    text = _text(reason)
    moment = _moment(now)
    async with in_transaction():
        rows = await _void_rows(serials, VOIDABLE[VoidKind.LOST])
        org = await _void_org(actor, rows, holder_may=True)
        box_ids = {row.box_id for row in rows if row.box_id}
        holders = sorted(set(await TailBox.filter(id__in=box_ids, holder_id__isnull=False
                                                  ).values_list("holder_id", flat=True)))
        incident = await _loss_incident(actor, rows, org, incident_id, text, holders, moment)
        request = await _open_void(actor, rows, VoidKind.LOST, text, org, moment, incident)
        if len(rows) > rules.mass_loss_threshold:
            await _mark_major(actor, incident, holders, "mass_loss", len(rows), moment, rules)
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
    text = _text(reason)
    async with in_transaction():
        rows = await _void_rows(serials, VOIDABLE[kind])
        org = await _void_org(actor, rows, holder_may=False)
        request = await _open_void(actor, rows, kind, text, org, _moment(now))
    return request


async def sign_void(actor: Actor, void_request_id: int, now: datetime | None = None
                    ) -> VoidRequest:
    """Sign as business dept head or operations head of the org chain; nobody signs twice,
    the requester cannot sign; the second signature voids the serials (V6)."""
    slots = _slots_of(actor)
    if not slots:
        raise PermissionDenied(N_("You do not have permission for this action."))
    moment = _moment(now)
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
    text = _text(note)
    moment = _moment(now)
    async with in_transaction():
        request = await _pending_request(actor, void_request_id)
        await VoidRequest.filter(id=request.id, status=VoidStatus.PENDING).update(
            status=VoidStatus.REFUSED, refused_by_id=actor.staff_id, refused_at=moment,
            refusal_note=text)
        moves = [(voucher, await _restored(voucher, item))
                 for voucher, item in await _items(request)]
        await _move(actor, MovementKind.VOID_REFUSED, moves, moment, note=text,
                    detail={"void_request_id": request.id})
        await MisIssue.filter(void_request_id=request.id).update(
            status=MisIssueStatus.RECOVERING, void_request_id=None, resolved_by_id=None,
            resolved_at=None, resolution="")
        await audit.record(actor, "void.refused", "void_request", request.id,
                           org_id=request.org_id, detail={"note": text})
        if request.requested_by_id is not None:
            await outbox.enqueue(request.requested_by_id, REFUSED_TO_REQUESTER,
                                 {"request": request.id, "actor": actor.label, "note": text},
                                 idempotency_key=f"void:{request.id}:refused")
    return await VoidRequest.get(id=request.id)


async def expected_in_box(box_id: int) -> dict[str, int]:
    """What is physically in the box per voucher type code, the one figure a day-end count,
    a hand-over and both inspection counts expect: in_box serials only, since a reserved one
    went to the customer at capture and mis-issued or void-pending ones are out (V3, V5)."""
    return await _in_box([box_id])


async def my_balance(actor: Actor) -> dict[str, int]:
    """The acting agent's box balance per voucher type code, for /box."""
    if actor.staff_id is None:
        return {}
    box_ids = await TailBox.filter(holder_id=actor.staff_id).values_list("id", flat=True)
    return await _in_box(list(box_ids)) if box_ids else {}


async def balances(actor: Actor, *, org_id: int | None = None) -> list[Balance]:
    """Vault and box balances per type of the actor's org subtree (V1, V2)."""
    require(actor, Permission.VOUCHER_VIEW)
    prefix = scope_prefix(actor) if org_id is None else (await _org(actor, org_id)).path
    return await _balance_rows(prefix)


async def box_detail(actor: Actor, box_id: int, *, limit: int | None = None,
                     after: str | None = None, before: int | None = None,
                     movement_limit: int | None = None
                     ) -> tuple[TailBox, list[Voucher], list[VoucherMovement]]:
    """A box in scope, its serials by serial after `after` and its movements newest first
    before the id `before`, each list cut at its limit when one is given (V1)."""
    require(actor, Permission.VOUCHER_VIEW)
    box = await TailBox.get_or_none(id=box_id).prefetch_related("org", "holder", "device")
    if box is None:
        raise NotFound(NO_SUCH_BOX)
    require_scope(actor, box.org)
    vouchers = Voucher.filter(box_id=box.id).prefetch_related("voucher_type")
    if after is not None:
        vouchers = vouchers.filter(serial__gt=after)
    vouchers = vouchers.order_by("serial", "voucher_type_id")
    movements = VoucherMovement.filter(Q(from_box_id=box.id) | Q(to_box_id=box.id)
                                       ).prefetch_related("voucher").order_by("-id")
    if before is not None:
        movements = movements.filter(id__lt=before)
    return (box, list(await (vouchers.limit(limit) if limit else vouchers)),
            list(await (movements.limit(movement_limit) if movement_limit else movements)))


async def histories(voucher_ids: list[int]) -> dict[int, list[VoucherMovement]]:
    """The movements of each of the serials, oldest first, for a page of a box (V1)."""
    history: dict[int, list[VoucherMovement]] = {}
    for movement in await VoucherMovement.filter(voucher_id__in=voucher_ids).order_by("id"):
        history.setdefault(movement.voucher_id, []).append(movement)
    return history


async def journal(actor: Actor, *, kind: str | None = None, org_id: int | None = None,
                  serial: str | None = None, before_id: int | None = None, limit: int = 50
                  ) -> list[VoucherMovement]:
    """The movement journal of the actor's subtree, newest first, keyset-paged (V1)."""
    require(actor, Permission.VOUCHER_VIEW)
    query = VoucherMovement.all()
    if org_id is not None or not sees_everything(actor):
        prefix = scope_prefix(actor) if org_id is None else (await _org(actor, org_id)).path
        query = query.filter(org_id__in=Subquery(Org.filter(path__startswith=prefix
                                                            ).values("id")))
    if kind:
        if kind not in {k.value for k in MovementKind}:
            raise DomainError(BAD_KIND, kind=kind)
        query = query.filter(kind=MovementKind(kind))
    if serial and normalise_serial(serial):
        query = query.filter(voucher__serial=normalise_serial(serial))
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    return list(await query.order_by("-id").limit(max(1, min(limit, 500))).prefetch_related(
        "voucher__voucher_type"))


async def pending_voids(actor: Actor) -> list[VoidRequest]:
    """Void requests of the subtree still waiting for a signature (V6)."""
    require(actor, Permission.VOUCHER_VIEW)
    return list(await VoidRequest.filter(
        status=VoidStatus.PENDING, org__path__startswith=scope_prefix(actor)).prefetch_related(
        "org", "requested_by", "business_head_signed_by", "ops_head_signed_by", "incident",
        "items__voucher__voucher_type").order_by("-id"))


# --- mis-issues (V6, Q4) -------------------------------------------------------------------


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
              "recover_by": mis.recover_by.astimezone(zone).strftime(TIME_FORMAT)}
    told = {actor.staff_id}
    if holder is not None and holder.id not in told:
        await outbox.enqueue(holder.id, MIS_ISSUE_TO_HOLDER, params,
                             idempotency_key=f"mis_issue:{mis.id}:holder")
    told.add(mis.holder_id)  # type: ignore[attr-defined]
    for person in await chains.staff_in_chain(org, Role.SUPERVISOR, Role.OPS_ADMIN):
        if person.id not in told:
            await outbox.enqueue(person.id, MIS_ISSUE_TO_SUPERVISOR, params,
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
    text = _text(reason)
    moment = _moment(now)
    deadline = _recovery_deadline(actor, recover_by, moment, recovery_days, zone)
    async with in_transaction():
        voucher = (await _void_rows([serial], (VoucherState.IN_BOX,)))[0]
        org = await _void_org(actor, [voucher], holder_may=True)
        case = await _case_by_number(actor, case_no)
        box = await TailBox.get(id=voucher.box_id)
        incident = await _mis_issue_incident(actor, voucher, box, case, text, moment)
        await _move(actor, MovementKind.MIS_ISSUED, [(voucher, _Place(
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
    moment = _moment(now)
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
    await _move(actor, MovementKind.TO_RECOVER, [(voucher, _Place(
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
    await _case_event(actor, case, CaseEventKind.VOUCHER_TO_RECOVER, voucher, moment)
    if box.holder_id is not None:
        await outbox.enqueue(box.holder_id, TO_RECOVER_TO_HOLDER, {
            "case": case.case_no or f"#{case.id}", "serial": voucher.serial,
            "recover_by": deadline.astimezone(zone).strftime(TIME_FORMAT)},
            idempotency_key=f"mis_issue:{mis.id}:holder",
            buttons=[[(TOOK_IT_BACK, f"{TAKE_BACK_PREFIX}{mis.id}")]])
    return mis


async def _put_back(actor: Actor, mis: MisIssue, voucher: Voucher, note: str,
                    moment: datetime) -> None:
    """The unused card of a closed case is back from the customer: into its box, on the
    case timeline (V6)."""
    await _move(actor, MovementKind.TAKEN_BACK, [(voucher, _Place(
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
        await _case_event(actor, case, CaseEventKind.VOUCHER_TAKEN_BACK, voucher, moment)


async def take_back(actor: Actor, mis_issue_id: int, now: datetime | None = None
                    ) -> MisIssue:
    """The holder confirms in chat that he took the card of a closed case back from the
    customer: it returns to the box (V3, V6)."""
    moment = _moment(now)
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
    text = _text(note)
    moment = _moment(now)
    async with in_transaction():
        mis, voucher, org = await _recovering(actor, mis_issue_id)
        if mis.kind == MisIssueKind.CASE_CLOSED:
            await _put_back(actor, mis, voucher, text, moment)
            return None
        incident = await Incident.get(id=mis.incident_id)  # type: ignore[attr-defined]
        request = await _open_void(actor, [voucher], VoidKind.MIS_ISSUED, text, org, moment,
                                   incident)
        await _settle(actor, mis, MisIssueStatus.RECOVERED, request, text, moment)
    return request


async def write_off_mis_issue(actor: Actor, mis_issue_id: int, note: str,
                              now: datetime | None = None, *,
                              rules: IncidentRules = DEFAULT_INCIDENT_RULES) -> VoidRequest:
    """A mis-issued serial that cannot be recovered counts as lost: void-pending under a
    request of kind lost, and its incident turns major, counted against the holder (V6, Q4)."""
    text = _text(note)
    moment = _moment(now)
    async with in_transaction():
        mis, voucher, org = await _recovering(actor, mis_issue_id)
        incident = await _incident_of(actor, mis, voucher, text, moment)
        request = await _open_void(actor, [voucher], VoidKind.LOST, text, org, moment,
                                   incident)
        holders = [mis.holder_id] if mis.holder_id else []  # type: ignore[attr-defined]
        await _mark_major(actor, incident, holders, "mis_issue_unrecovered", 1, moment, rules)
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
