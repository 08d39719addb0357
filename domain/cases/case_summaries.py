"""Cases as their agent and the reviewers read them: the summary with customer data masked,
the unmasked data for holders of the reveal permission, look-up by ID number, the agent's
drafts and returned cases (C7, C10)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from domain.cases._case_rows import locked_case, photo_kinds, retaken_items
from domain.cases.capture_gate import CaptureContext
from domain.cases.cases import MissingItem, missing_items
from domain.models import (
    BusinessType,
    Case,
    CaseStatus,
    Device,
    Org,
    PhotoKind,
    Voucher,
    VoucherState,
    VoucherType,
)
from domain.models.cases import RETAKE_CUSTOMER
from domain.platform import audit
from domain.platform.access import Permission, can, require, require_scope, scope_prefix
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.identity import mask_mobile, mask_resident_id, normalise_resident_id
from domain.platform.privacy import FieldCipher, audited_refusal, charge_reveal


@dataclass(frozen=True)
class CaseSummary:
    """A case as the agent and the reviewer see it, ID and mobile masked (C10)."""

    case_id: int
    case_no: str | None
    status: CaseStatus
    revision: int
    business_type_code: str
    business_type_zh: str
    business_type_en: str
    customer_name: str
    id_number_masked: str
    mobile_masked: str
    latitude: float | None
    longitude: float | None
    photo_kinds: tuple[PhotoKind, ...]
    missing_photo_kinds: tuple[PhotoKind, ...]
    risk_hint_confirmed: bool
    submitted_at: datetime | None
    review_due_at: datetime | None
    retake_items: tuple[str, ...] = ()
    retaken_items: tuple[str, ...] = ()
    voucher_type_code: str | None = None  # None: the business type issues no voucher
    voucher_type_zh: str = ""
    voucher_type_en: str = ""
    voucher_serial: str = ""  # reserved or issued; a blank voucher serial is no customer data
    missing: tuple[MissingItem, ...] = ()  # what stops a draft's submission (C1, C4, C11, V1)
    answered_name: str = ""  # the name typed before the ID number and mobile were given
    answered_id_number: bool = False  # the ID number typed before the mobile was given
    location_skipped: bool = False
    device_asset_tag: str = ""  # the tablet the case was captured with (D2)
    agent_id: int | None = None  # the field agent who captured it (C3)

    @property
    def issues_voucher(self) -> bool:
        """True when the business type hands a voucher to the customer (V1)."""
        return self.voucher_type_code is not None


@dataclass(frozen=True)
class CustomerData:
    """The unmasked customer data of a case, shown only with the reveal permission (C10)."""

    name: str
    id_number: str
    mobile: str


@dataclass(frozen=True)
class CaseState:
    """Who captured a case, where it stands and its number: what decides whether its agent
    may still change it (C3)."""

    agent_id: int | None
    status: CaseStatus
    case_no: str | None


async def case_state(case_id: int) -> CaseState | None:
    """The state of a case in one short read (None when there is none), for the wizard's
    check before each step; not scoped: a case that is not the reader's own is read again
    through `case_summary` (C3, issue 14)."""
    row = await Case.filter(id=case_id).values_list("agent_id", "status", "case_no")
    if not row:
        return None
    agent_id, status, case_no = row[0]
    return CaseState(agent_id, CaseStatus(status), case_no)


async def open_drafts(actor: Actor) -> list[Case]:
    """The acting agent's drafts, most recently changed first, for /resume."""
    return await Case.filter(agent_id=actor.staff_id, status=CaseStatus.DRAFT).prefetch_related(
        "business_type").order_by("-updated_at", "-id")


async def returned_cases(actor: Actor) -> list[Case]:
    """The acting agent's cases returned for correction, latest return first, for /resume (C7)."""
    return await Case.filter(agent_id=actor.staff_id, status=CaseStatus.RETURNED
                             ).prefetch_related("business_type").order_by("-decided_at", "-id")


async def case_summary(actor: Actor, case_id: int, ctx: CaptureContext) -> CaseSummary:
    """A case with customer ID and mobile masked, for its agent or reviewers in scope (C10).

    For a returned case the missing photos are the flagged ones not yet retaken (C7).
    """
    case = await visible_case(actor, case_id, "business_type", "device")
    business_type: BusinessType = case.business_type
    kinds = await photo_kinds(case)
    required = [PhotoKind(k) for k in business_type.required_photo_kinds]
    retaken = await retaken_items(case)
    if case.status == CaseStatus.RETURNED:
        missing = tuple(PhotoKind(i) for i in case.retake_items
                        if i != RETAKE_CUSTOMER and i not in retaken)
    else:
        missing = tuple(k for k in required if k not in kinds)
    customer = _decrypted(case, ctx.cipher)
    device: Device | None = case.device
    return CaseSummary(
        case_id=case.id, case_no=case.case_no, status=case.status, revision=case.revision,
        business_type_code=business_type.code, business_type_zh=business_type.name_zh,
        business_type_en=business_type.name_en, customer_name=case.customer_name,
        id_number_masked=mask_resident_id(customer.id_number) if customer else "",
        mobile_masked=mask_mobile(customer.mobile) if customer else "",
        latitude=case.latitude, longitude=case.longitude,
        photo_kinds=tuple(k for k in required if k in kinds),
        missing_photo_kinds=missing,
        risk_hint_confirmed=case.risk_hint_confirmed_at is not None,
        submitted_at=case.submitted_at, review_due_at=case.review_due_at,
        retake_items=tuple(case.retake_items),
        retaken_items=tuple(i for i in case.retake_items if i in retaken),
        missing=tuple(await missing_items(case, business_type, ctx, kinds)
                      if case.status == CaseStatus.DRAFT else ()),
        answered_name=case.customer_answers.get("name", ""),
        answered_id_number="id" in case.customer_answers,
        location_skipped=case.location_skipped,
        device_asset_tag=device.asset_tag if device else "",
        agent_id=case.agent_id,  # type: ignore[attr-defined]
        **await _voucher_fields(case, business_type),
    )


async def _voucher_fields(case: Case, business_type: BusinessType) -> dict[str, Any]:
    """The voucher type the case hands over and its reserved or issued serial (V1)."""
    code = business_type.voucher_type_code
    if not code:
        return {}
    voucher_type = await VoucherType.get_or_none(code=code)
    held = await Voucher.filter(case_id=case.id, state__in=(
        VoucherState.RESERVED, VoucherState.ISSUED)).order_by("-id").first()
    return {"voucher_type_code": code,
            "voucher_type_zh": voucher_type.name_zh if voucher_type else code,
            "voucher_type_en": voucher_type.name_en if voucher_type else code,
            "voucher_serial": held.serial if held else ""}


async def reveal_customer(actor: Actor, case_id: int, ctx: CaptureContext) -> CustomerData:
    """Unmasked customer data for holders of the reveal permission, audited and within the
    holder's hourly rate; a refusal is audited too (C10, S2)."""
    async with audited_refusal(actor, "case.customer_reveal", "case", case_id):
        require(actor, Permission.CUSTOMER_DATA_REVEAL)
        async with in_transaction():
            case = await locked_case(case_id)
            require_scope(actor, await Org.get(id=case.org_id))  # type: ignore[attr-defined]
            customer = _decrypted(case, ctx.cipher)
            if customer is None:
                raise DomainError(N_("No customer data has been entered for this case yet."))
            await audit.record(actor, "case.customer_reveal", "case", case.id,
                               org_id=case.org_id,  # type: ignore[attr-defined]
                               detail={"case_no": case.case_no})
            await charge_reveal(actor, ctx.reveal_limits)
    return customer


async def find_by_id_number(actor: Actor, id_number: str, ctx: CaptureContext) -> list[Case]:
    """Cases of one customer in the actor's scope, found through the keyed hash (C10)."""
    require(actor, Permission.CASE_VIEW)
    digest = ctx.cipher.lookup_hash(normalise_resident_id(id_number))
    async with in_transaction():
        rows = await Case.filter(id_number_hash=digest,
                                 org__path__startswith=scope_prefix(actor)).order_by("id")
        await audit.record(actor, "case.customer_lookup", "case", org_id=actor.org_id,
                           detail={"found": [row.id for row in rows]})
    return rows


async def visible_case(actor: Actor, case_id: int, *related: str) -> Case:
    """A case its own agent or a case viewer of its org subtree may read (C10), read with
    its `related` rows in the same statement."""
    missing = N_("No such case.")
    case = await Case.filter(id=case_id).select_related(*related).first()
    if case is None:
        raise NotFound(missing)
    if case.agent_id == actor.staff_id:  # type: ignore[attr-defined]
        return case
    if not can(actor, Permission.CASE_VIEW):
        raise PermissionDenied(N_("You do not have permission for this action."))
    await case.fetch_related("org")
    require_scope(actor, case.org, missing)
    return case


def _decrypted(case: Case, cipher: FieldCipher) -> CustomerData | None:
    """The customer data of a case in clear, or None before it was entered (C10)."""
    if case.id_number_enc is None or case.mobile_enc is None:
        return None
    return CustomerData(case.customer_name, cipher.decrypt(case.id_number_enc),
                        cipher.decrypt(case.mobile_enc))
