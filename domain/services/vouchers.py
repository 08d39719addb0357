"""Voucher ledger: stock, allocation, use in cases, losses, voids, counts (V1–V6, C3, Q4, Q5).

CONTRACT FILE: signatures and docstrings are fixed; bodies are being implemented.

Serial states (DESIGN.md section 4):
    in_vault --allocate--> in_box --reserve(case)--> reserved --issue(approval)--> issued
    reserved --release(reject, cancel)--> in_box
    in_box --return_to_vault--> in_vault
    in_vault | in_box | reserved --report lost--> void_pending (a VoidRequest of kind lost)
    void_pending --two signatures--> voided ; --refused--> the state before the request
Every change of a serial is a conditional UPDATE on its expected state plus one
VoucherMovement row, in the transaction that also writes the audit row; a serial is never
in two places and an issued or voided serial never moves again. Balances are counted
from the voucher rows (state + box / org), which the movements explain.
Managing needs VOUCHER_MANAGE (ops_admin) in the actor's org subtree, reading VOUCHER_VIEW.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.models import (
    BoxCount,
    TailBox,
    VoidKind,
    VoidRequest,
    Voucher,
    VoucherCap,
    VoucherMovement,
    VoucherType,
)
from domain.services.actors import Actor

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
    closing: int


async def define_voucher_type(actor: Actor, code: str, form: VoucherTypeForm) -> VoucherType:
    """Define a voucher type with its serial pattern and check digit rule (V1)."""
    raise NotImplementedError


async def set_cap(actor: Actor, org_id: int, voucher_type_id: int, max_in_boxes: int
                  ) -> VoucherCap:
    """Set the most vouchers of a type the boxes of an org may hold (V2)."""
    raise NotImplementedError


async def box_for_device(device_id: int) -> TailBox:
    """The tail box of a device, created on first use with the device's org (V1)."""
    raise NotImplementedError


async def receive_range(actor: Actor, org_id: int, voucher_type_id: int, first: str,
                        last: str, now: datetime | None = None) -> int:
    """Receive a serial range into an org's vault; malformed or duplicate serials are
    refused with the list and nothing is written (V1)."""
    raise NotImplementedError


async def receive_serials(actor: Actor, org_id: int, voucher_type_id: int,
                          serials: list[str], now: datetime | None = None) -> int:
    """Receive listed serials (e.g. from a file) into an org's vault, all or nothing (V1)."""
    raise NotImplementedError


async def allocate(actor: Actor, box_id: int, voucher_type_id: int, *,
                   serials: list[str] | None = None, count: int | None = None,
                   now: datetime | None = None, count_max_age: timedelta = timedelta(hours=24)
                   ) -> list[Voucher]:
    """Allocate serials, or a count of the lowest serials, from the vault of the box org
    chain to a box; refused when the box is frozen, the holder lacks an active
    qualification, the last count is missing/mismatched/too old (a new empty box needs
    none), or the org cap would be passed — each with its reason (V1, V2, V4, Q1).
    Concurrent allocations never pass the cap."""
    raise NotImplementedError


async def return_to_vault(actor: Actor, box_id: int, serials: list[str],
                          now: datetime | None = None) -> int:
    """Take serials from a box back into the vault (V1)."""
    raise NotImplementedError


async def reserve_for_case(actor: Actor, case_id: int, serial: str,
                           now: datetime | None = None) -> Voucher:
    """Reserve a serial of the agent's own box for his case of a voucher-issuing type; a
    serial is never reserved twice; a case holds at most one reservation (C3, V1)."""
    raise NotImplementedError


async def issue_for_case(actor: Actor, case_id: int, now: datetime | None = None) -> None:
    """On approval: the case's reserved serial is issued to the customer. Call inside the
    approval transaction (V1)."""
    raise NotImplementedError


async def release_for_case(actor: Actor, case_id: int, now: datetime | None = None) -> None:
    """On rejection or cancellation: the case's reserved serial goes back to the box. Call
    inside that transaction (V1)."""
    raise NotImplementedError


async def freeze_box_of_device(actor: Actor, device_id: int, reason: str,
                               now: datetime | None = None) -> None:
    """Freeze the tail box of a lost device (D3). Call inside the loss transaction."""
    raise NotImplementedError


async def unfreeze_box(actor: Actor, box_id: int, reason: str) -> TailBox:
    """An ops_admin unfreezes a box once the matter is settled (D3, V5)."""
    raise NotImplementedError


async def report_lost_serials(actor: Actor, serials: list[str], reason: str, *,
                              incident_id: int | None = None, lax_management: bool = False,
                              mass_loss_threshold: int = 10, now: datetime | None = None
                              ) -> VoidRequest:
    """Lost serials go void-pending at once under a void request of kind lost; a mass loss
    (count over the threshold) marks the incident major (Q4) and, through lax management,
    suspends the holder's qualifications (Q5) (V6)."""
    raise NotImplementedError


async def request_void(actor: Actor, serials: list[str], kind: VoidKind, reason: str,
                       now: datetime | None = None) -> VoidRequest:
    """Ask to void serials (mis-issued and recovered, expired in the vault) (V6)."""
    raise NotImplementedError


async def sign_void(actor: Actor, void_request_id: int, now: datetime | None = None
                    ) -> VoidRequest:
    """Sign as business dept head or operations head of the org chain; nobody signs twice,
    the requester cannot sign; the second signature voids the serials (V6)."""
    raise NotImplementedError


async def refuse_void(actor: Actor, void_request_id: int, note: str,
                      now: datetime | None = None) -> VoidRequest:
    """Refuse a pending void; the serials return to their former state (V6)."""
    raise NotImplementedError


async def expected_counts(box_id: int) -> dict[str, int]:
    """What the ledger says the box holds, per voucher type code (in_box + reserved) (V3)."""
    raise NotImplementedError


async def request_day_end_counts(now: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> int:
    """At closing time, ask every holder of a box that holds vouchers to count it, once per
    business day, in chat (V3); returns how many were asked."""
    raise NotImplementedError


async def answer_count(actor: Actor, count_id: int, counted: dict[str, int],
                       now: datetime | None = None) -> BoxCount:
    """The holder's count: a match is recorded; a first mismatch asks once more; a second
    opens a discrepancy incident and tells the supervisors (V3)."""
    raise NotImplementedError


async def sweep_unanswered_counts(now: datetime, remind_after: timedelta,
                                  escalate_after: timedelta) -> int:
    """Remind holders who did not answer, then escalate to the supervisors (V3, S1)."""
    raise NotImplementedError


async def hand_over(actor: Actor, box_id: int, new_holder_id: int, counted: dict[str, int],
                    now: datetime | None = None) -> BoxCount:
    """Hand a box to another holder: the count is taken, both confirm, the register is
    written (V3)."""
    raise NotImplementedError


async def my_balance(actor: Actor) -> dict[str, int]:
    """The acting agent's box balance per voucher type code, for /box."""
    raise NotImplementedError


async def balances(actor: Actor, *, org_id: int | None = None) -> list[Balance]:
    """Vault and box balances per type of the actor's org subtree (V1, V2)."""
    raise NotImplementedError


async def box_detail(actor: Actor, box_id: int) -> tuple[TailBox, list[Voucher],
                                                         list[VoucherMovement]]:
    """A box in scope, every serial in it and its movements (V1)."""
    raise NotImplementedError


async def journal(actor: Actor, *, kind: str | None = None, org_id: int | None = None,
                  serial: str | None = None, before_id: int | None = None, limit: int = 50
                  ) -> list[VoucherMovement]:
    """The movement journal of the actor's subtree, newest first, keyset-paged (V1)."""
    raise NotImplementedError


async def pending_voids(actor: Actor) -> list[VoidRequest]:
    """Void requests of the subtree still waiting for a signature (V6)."""
    raise NotImplementedError


async def reconciliation(actor: Actor, month: date) -> list[ReconciliationRow]:
    """Opening, receipts, allocations, issues, voids, losses and closing per org and type
    for one month (V1 to V6)."""
    raise NotImplementedError


async def export_reconciliation(actor: Actor, month: date, purpose: str, fmt: str
                                ) -> tuple[str, bytes]:
    """The report as CSV or XLSX (file name, bytes); the purpose is required and the export
    audited with the person responsible (S4)."""
    raise NotImplementedError


async def voucher_of(serial: str, voucher_type_id: int | None = None) -> Voucher | None:
    """The voucher with this serial (of this type when given), or None."""
    raise NotImplementedError
