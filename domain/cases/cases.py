"""Case capture: the gate, the draft wizard steps, submission and customer data (C1–C4, C9–C11)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.transactions import in_transaction

from domain.ledgers import devices, qualifications
from domain.models import (
    BusinessType,
    Case,
    CaseEvent,
    CaseEventKind,
    CasePhoto,
    CaseStatus,
    ChatBinding,
    Device,
    Org,
    PhotoKind,
    Role,
    SpecialApproval,
    SpecialApprovalStatus,
    Staff,
    StaffRole,
    Voucher,
    VoucherState,
    VoucherType,
)
from domain.models.cases import RETAKE_CUSTOMER
from domain.platform import audit, events, outbox
from domain.platform.access import Permission, can, require, require_scope, scope_prefix
from domain.platform.actors import Actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.chains import staff_in_chain
from domain.platform.chat import locale_of
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.events import CaseCancelled, CaseVoucherMoved
from domain.platform.identity import (
    mask_mobile,
    mask_resident_id,
    normalise_resident_id,
    normalise_serial,
    validate_customer_name,
    validate_mobile,
    validate_resident_id,
)
from domain.platform.images import PhotoLimits, inspect_photo
from domain.platform.intents import Action, Intent
from domain.platform.media import MediaStore
from domain.platform.privacy import FieldCipher
from domain.vouchers import case_vouchers, mis_issues

CASE_NO_PREFIX = "YD"
CASE_NO_DIGITS = 6
# A case number as it stands in any text, e.g. YD20261122-000123: the one definition of its format.
CASE_NO = re.compile(rf"{CASE_NO_PREFIX}[0-9]{{8}}-[0-9]{{{CASE_NO_DIGITS}}}", re.ASCII)
MAX_NAME_LENGTH = 255
MAX_CONTENT_TYPE_LENGTH = 100
REVIEWER_TEMPLATE = N_("New case %(case_no)s (%(business_type)s) from %(agent)s is waiting for "
                       "review, due by %(due)s.")
RESUBMITTED_TEMPLATE = N_("Case %(case_no)s (%(business_type)s) from %(agent)s was corrected and "
                          "submitted again as revision %(revision)s; it is waiting for review, "
                          "due by %(due)s.")
MISSING_VOUCHER = N_("Enter the serial of the voucher you hand over to the customer before "
                     "submitting.")
MISSING_CUSTOMER = N_("Enter the customer's name, ID number and mobile number before "
                      "submitting.")
MISSING_LOCATION = N_("Share the location of the visit before submitting.")
MISSING_RISK_HINT = N_("Confirm that you gave the customer the risk hints before submitting.")
ITEM_CUSTOMER = RETAKE_CUSTOMER
ITEM_LOCATION = "location"
ITEM_VOUCHER = "voucher"
ITEM_RISK = "risk"
OTHER_TABLET = N_("This draft was started with tablet %(started)s, but you now hold %(now)s. "
                  "Its photos and voucher belong to the other tablet: cancel the draft and "
                  "capture the case again.")
DUE_FORMAT = "%H:%M"
MISSING_PHOTO: dict[PhotoKind, str] = {
    PhotoKind.ID_FRONT: N_("The photo of the ID card portrait side is still missing."),
    PhotoKind.ID_BACK: N_("The photo of the ID card national emblem side is still missing."),
    PhotoKind.ONSITE_WITH_AGENT: N_(
        "The on-site photo of you with the customer is still missing."),
    PhotoKind.SIGNED_FORM: N_("The photo of the signed application form is still missing."),
    PhotoKind.OTHER: N_("The other required photo is still missing."),
}
RETAKE_PHOTO: dict[PhotoKind, str] = {
    PhotoKind.ID_FRONT: N_("Retake the photo of the ID card portrait side before you submit "
                           "the case again."),
    PhotoKind.ID_BACK: N_("Retake the photo of the ID card national emblem side before you "
                          "submit the case again."),
    PhotoKind.ONSITE_WITH_AGENT: N_("Retake the on-site photo of you with the customer before "
                                    "you submit the case again."),
    PhotoKind.SIGNED_FORM: N_("Retake the photo of the signed application form before you "
                              "submit the case again."),
    PhotoKind.OTHER: N_("Retake the other required photo before you submit the case again."),
}


@dataclass(frozen=True)
class WorkingHours:
    """Operating hours in business time: working weekdays (0 = Monday) and opening hours (C2)."""

    weekdays: frozenset[int] = field(default_factory=lambda: frozenset(range(5)))
    start: time = time(8, 30)
    end: time = time(17, 30)

    def covers(self, moment: datetime, zone: ZoneInfo) -> bool:
        """True when the moment falls on a working day within opening hours (C2)."""
        local = moment.astimezone(zone)
        return local.weekday() in self.weekdays and self.start <= local.time() < self.end


class LocationMode(StrEnum):
    """Whether the wizard asks for the shared location of the visit (setting)."""

    OFF = "off"
    OPTIONAL = "optional"
    REQUIRED = "required"


@dataclass(frozen=True)
class CaptureContext:
    """What the edges hand to capture: cipher (C10), media store (C9), limits (C7), hours (C2)."""

    cipher: FieldCipher
    media: MediaStore
    photo_limits: PhotoLimits
    hours: WorkingHours
    zone: ZoneInfo
    location_mode: LocationMode = LocationMode.OPTIONAL
    mis_issue_recovery_days: int = 7  # to take back the card of a closed case (V6)


@dataclass(frozen=True)
class MissingItem:
    """One thing that still stops a draft's submission: the wizard item and the reason."""

    item: str  # ITEM_CUSTOMER, ITEM_LOCATION, a photo kind, ITEM_VOUCHER or ITEM_RISK
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def refusal(self) -> DomainError:
        """The refusal of a submission for this missing item."""
        return DomainError(self.message, **self.params)


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


async def capture_gate(staff_id: int, business_type_id: int, now: datetime,
                       ctx: CaptureContext) -> Device:
    """Refuse capture unless an active, bound, qualified agent holding his tablet works in
    hours or is approved; the tablet he captures with (C2, Q1, Q6, D2, D3). Checked when a
    draft starts, when a voucher is reserved and when a case is submitted."""
    staff = await Staff.get_or_none(id=staff_id)
    if staff is None or not staff.active:
        raise DomainError(N_("Your staff account is deactivated. Contact your administrator."))
    if not await StaffRole.exists(staff_id=staff_id, role=Role.FIELD_AGENT):
        raise PermissionDenied(N_("Only field agents can capture cases."))
    if not await ChatBinding.exists(staff_id=staff_id):
        raise DomainError(N_("Bind your chat account before you capture cases."))
    if not await BusinessType.exists(id=business_type_id, active=True):
        raise DomainError(N_("This business type is not offered for new cases."))
    await qualifications.require_active(staff_id, business_type_id, now, ctx.zone)
    device = await devices.require_issued_device(staff_id)
    if not ctx.hours.covers(now, ctx.zone) and not await _approved_window(staff_id, now):
        raise DomainError(
            N_("Cases can be captured only in working hours (%(start)s to %(end)s on working "
               "days). Outside them, ask for a special approval first."),
            start=ctx.hours.start.strftime("%H:%M"), end=ctx.hours.end.strftime("%H:%M"),
        )
    return device


async def _gate_for(case: Case, now: datetime, ctx: CaptureContext) -> None:
    """The capture gate again for a case in progress; a draft keeps the tablet it was started
    with (D2): its photos and reserved voucher come from that tablet and its tail box. A
    returned case may be corrected with the tablet the agent holds now (C7, D2)."""
    device = await capture_gate(case.agent_id, case.business_type_id,  # type: ignore[attr-defined]
                                now, ctx)
    started = case.device_id  # type: ignore[attr-defined]
    if case.status == CaseStatus.DRAFT and started is not None and started != device.id:
        first = await Device.get(id=started)
        raise DomainError(OTHER_TABLET, started=first.asset_tag, now=device.asset_tag)


async def offered_business_types(staff_id: int, now: datetime, ctx: CaptureContext
                                 ) -> list[BusinessType]:
    """The active business types the gate lets the agent capture now; else the refusal (C2)."""
    offered = await BusinessType.filter(active=True).order_by("code")
    if not offered:
        raise DomainError(N_("No business type is offered for new cases yet."))
    open_types: list[BusinessType] = []
    refusal: DomainError | None = None
    for business_type in offered:
        try:
            await capture_gate(staff_id, business_type.id, now, ctx)
        except DomainError as refused:
            refusal = refusal or refused
            continue
        open_types.append(business_type)
    if refusal is not None and not open_types:
        raise refusal
    return open_types


async def _approved_window(staff_id: int, now: datetime) -> bool:
    """True when an approved special approval covers the moment (C2)."""
    return await SpecialApproval.exists(staff_id=staff_id, status=SpecialApprovalStatus.APPROVED,
                                        starts_at__lte=now, ends_at__gt=now)


async def start_draft(actor: Actor, business_type_id: int, ctx: CaptureContext,
                      now: datetime | None = None) -> Case:
    """Open a draft case for the acting field agent once the gate lets him through (C2, C3)."""
    if actor.staff_id is None:
        raise PermissionDenied(N_("Only field agents can capture cases."))
    moment = now or utcnow()
    async with in_transaction():
        device = await capture_gate(actor.staff_id, business_type_id, moment, ctx)
        staff = await Staff.get(id=actor.staff_id)
        case = await Case.create(business_type_id=business_type_id, agent_id=staff.id,
                                 org_id=staff.org_id, device=device)  # type: ignore[attr-defined]
        await qualifications.touch_activity(staff.id, moment)
        await record_event(actor, case, CaseEventKind.CREATED,
                           {"business_type_id": business_type_id})
    return case


async def set_customer(actor: Actor, case_id: int, name: str, id_number: str, mobile: str,
                       ctx: CaptureContext) -> Case:
    """Store the customer's name, ID number (C1) and own mobile (C4), encrypted and hashed (C10)."""
    today = utcnow().astimezone(ctx.zone).date()
    clean_name = validate_customer_name(name)
    clean_id = validate_resident_id(id_number, today)
    clean_mobile = validate_mobile(mobile)
    async with in_transaction():
        case = await _case_for_change(actor, case_id, RETAKE_CUSTOMER)
        await _store_customer(actor, case, clean_name, clean_id, clean_mobile, ctx)
    return case


async def answer_customer_name(actor: Actor, case_id: int, name: str) -> Case:
    """Keep the customer's name typed in the wizard on the draft until the ID number and
    mobile follow, so /resume goes on where the agent left (C1)."""
    clean = validate_customer_name(name)
    async with in_transaction():
        case = await _case_for_change(actor, case_id, RETAKE_CUSTOMER)
        case.customer_answers = {"name": clean}
        await case.save(update_fields=["customer_answers", "updated_at"])
        await _audit_answer(actor, case, "name")
    return case


async def answer_id_number(actor: Actor, case_id: int, id_number: str,
                           ctx: CaptureContext, now: datetime | None = None) -> Case:
    """Keep the ID number typed in the wizard on the draft, encrypted, until the mobile
    follows; the name is the one just answered, else the one stored (C1, C10)."""
    clean = validate_resident_id(id_number, (now or utcnow()).astimezone(ctx.zone).date())
    async with in_transaction():
        case = await _case_for_change(actor, case_id, RETAKE_CUSTOMER)
        name = case.customer_answers.get("name") or (
            case.customer_name if case.id_number_enc is not None else "")
        if not name:
            raise DomainError(N_("Enter the customer's name first."))
        case.customer_answers = {"name": name, "id": ctx.cipher.encrypt(clean)}
        await case.save(update_fields=["customer_answers", "updated_at"])
        await _audit_answer(actor, case, "id_number")
    return case


async def answer_mobile(actor: Actor, case_id: int, mobile: str, ctx: CaptureContext) -> Case:
    """The mobile completes the customer data with the name and ID number answered before,
    or those already stored when only the mobile is changed: all three are stored on the
    case (C1, C4, C10)."""
    clean = validate_mobile(mobile)
    async with in_transaction():
        case = await _case_for_change(actor, case_id, RETAKE_CUSTOMER)
        answers = case.customer_answers
        if {"name", "id"} <= answers.keys():
            name, id_number = answers["name"], ctx.cipher.decrypt(answers["id"])
        elif case.id_number_enc is not None and case.status == CaseStatus.DRAFT:
            name, id_number = case.customer_name, ctx.cipher.decrypt(case.id_number_enc)
        else:
            raise DomainError(N_("Enter the customer's name and ID number first."))
        await _store_customer(actor, case, name, id_number, clean, ctx)
    return case


async def _store_customer(actor: Actor, case: Case, name: str, id_number: str, mobile: str,
                          ctx: CaptureContext) -> None:
    """Write checked customer data on the case, encrypted and hashed, on its timeline (C10)."""
    case.customer_name = name
    case.id_number_enc = ctx.cipher.encrypt(id_number)
    case.id_number_hash = ctx.cipher.lookup_hash(id_number)
    case.mobile_enc = ctx.cipher.encrypt(mobile)
    case.mobile_hash = ctx.cipher.lookup_hash(mobile)
    case.customer_answers = {}
    await case.save()
    await record_event(actor, case, CaseEventKind.CUSTOMER_SET, {
        "id_number": mask_resident_id(id_number), "mobile": mask_mobile(mobile)})


async def _audit_answer(actor: Actor, case: Case, step: str) -> None:
    """Audit one answer of the wizard kept on the draft, without the customer data (S3)."""
    await audit.record(actor, "case.answer_kept", "case", case.id,
                       org_id=case.org_id, detail={"step": step})  # type: ignore[attr-defined]


async def skip_location(actor: Actor, case_id: int, ctx: CaptureContext) -> Case:
    """Record on the draft that the agent skipped the optional location (C3)."""
    if ctx.location_mode != LocationMode.OPTIONAL:
        raise DomainError(MISSING_LOCATION)
    async with in_transaction():
        case = await _case_for_change(actor, case_id)
        case.location_skipped = True
        await case.save(update_fields=["location_skipped", "updated_at"])
        await _audit_answer(actor, case, "location_skipped")
    return case


async def set_location(actor: Actor, case_id: int, latitude: float, longitude: float) -> Case:
    """Record where the case was captured, as shared from the agent's phone (C3)."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise DomainError(N_("This location is not valid. Please share it again."))
    async with in_transaction():
        case = await _case_for_change(actor, case_id)
        case.latitude, case.longitude = latitude, longitude
        await case.save()
        await record_event(actor, case, CaseEventKind.LOCATION_SET,
                   {"latitude": latitude, "longitude": longitude})
    return case


async def add_photo(actor: Actor, case_id: int, kind: PhotoKind, data: bytes, original_name: str,
                    content_type: str, ctx: CaptureContext) -> CasePhoto:
    """Check and store a photo as a new row, never replacing (C7, C9).

    A draft's photo belongs to its current revision; the retake of a flagged item on a
    returned case belongs to the next revision, so the returned revision stays as it was.
    """
    async with in_transaction():
        case = await _case_for_change(actor, case_id, kind.value)
        business_type = await BusinessType.get(id=case.business_type_id)  # type: ignore[attr-defined]
        if kind.value not in business_type.required_photo_kinds:
            raise DomainError(N_("This business type does not need a photo of this kind."),
                              kind=kind.value)
        info = await asyncio.to_thread(inspect_photo, data, ctx.photo_limits)
        sha256 = await ctx.media.aput(data)
        revision = case.revision + 1 if case.status == CaseStatus.RETURNED else case.revision
        photo = await CasePhoto.create(
            case=case, kind=kind, revision=revision, sha256=sha256, width=info.width,
            height=info.height, original_name=original_name[:MAX_NAME_LENGTH],
            content_type=content_type[:MAX_CONTENT_TYPE_LENGTH], uploaded_at=utcnow(),
        )
        await _touch(case)
        await record_event(actor, case, CaseEventKind.PHOTO_ADDED, {
            "photo_id": photo.id, "kind": kind.value, "sha256": sha256, "revision": revision})
    return photo


async def set_voucher(actor: Actor, case_id: int, serial: str, ctx: CaptureContext,
                      now: datetime | None = None) -> Voucher:
    """Reserve the serial of the agent's own box he hands over with his draft, once the
    capture gate lets him through again; a change releases the serial held before, in the
    same transaction (C2, Q1, D2, D3, C3, V1)."""
    serial = normalise_serial(serial)
    async with in_transaction():
        case = await _case_for_change(actor, case_id)
        await _gate_for(case, now or utcnow(), ctx)
        held = await _reserved_voucher(case.id)
        if held is not None and held.serial == serial:
            return held
        if held is not None:
            await case_vouchers.release_for_case(actor, case.id, now)
        voucher = await case_vouchers.reserve_for_case(actor, case.id, serial, now)
        await _touch(case)
    return voucher


async def _reserved_voucher(case_id: int) -> Voucher | None:
    """The serial a case holds reserved, if any (V1)."""
    return await Voucher.filter(case_id=case_id, state=VoucherState.RESERVED).first()


async def confirm_risk_hint(actor: Actor, case_id: int) -> Case:
    """Record that the agent gave the customer the risk hints (C11)."""
    async with in_transaction():
        case = await _case_for_change(actor, case_id)
        case.risk_hint_confirmed_at = utcnow()
        await case.save()
        await record_event(actor, case, CaseEventKind.RISK_HINT_CONFIRMED, {})
    return case


async def submit(actor: Actor, case_id: int, ctx: CaptureContext,
                 now: datetime | None = None) -> Case:
    """Submit a complete draft, or a returned case once every flagged item is redone (C3, C7, C8).

    A first submission gets its case number; a resubmission becomes revision n+1. Either
    way the review deadline starts again and the reviewers of the org chain are told.
    """
    moment = now or utcnow()
    async with in_transaction():
        case = await _own_case(actor, case_id)
        business_type = await BusinessType.get(id=case.business_type_id)  # type: ignore[attr-defined]
        if case.status == CaseStatus.RETURNED:
            await _check_retaken(case)
            await _gate_for(case, moment, ctx)
            case.revision += 1
        else:
            _require_changeable(case, None)
            await _gate_for(case, moment, ctx)
            await _check_complete(case, business_type, ctx)
            case.case_no = await _next_case_no(moment, ctx.zone)
        _start_review_clock(case, business_type, moment)
        await case.save()
        await qualifications.touch_activity(case.agent_id, moment)  # type: ignore[attr-defined]
        assert case.review_due_at is not None
        await record_event(actor, case, CaseEventKind.SUBMITTED, {
            "case_no": case.case_no, "revision": case.revision,
            "review_due_at": case.review_due_at.isoformat()}, at=moment)
        await _notify_reviewers(case, business_type, actor, ctx.zone)
    return case


def _start_review_clock(case: Case, business_type: BusinessType, moment: datetime) -> None:
    """Put the case in the queue with a fresh deadline and no review state left over (C8, S1)."""
    case.status = CaseStatus.SUBMITTED
    case.submitted_at = moment
    case.review_due_at = moment + timedelta(minutes=business_type.review_sla_minutes)
    case.claimed_by_id = None  # type: ignore[attr-defined]
    case.claimed_at = None
    case.first_approved_by_id = None  # type: ignore[attr-defined]
    case.retake_items = []
    case.decided_at = None
    case.sla_reminded_at = None
    case.escalated_at = None
    case.escalation_count = 0


async def cancel(actor: Actor, case_id: int, ctx: CaptureContext | None = None) -> Case:
    """Cancel a draft; the serial handed at capture is to be taken back from the customer;
    submitted cases go through review instead (DESIGN.md section 4, V1, V6)."""
    async with in_transaction():
        case = await _case_for_change(actor, case_id)
        case.status = CaseStatus.CANCELLED
        await case.save()
        await record_event(actor, case, CaseEventKind.CANCELLED, {})
        await events.publish(CaseCancelled(
            actor, case.id, utcnow(),
            ctx.mis_issue_recovery_days if ctx else mis_issues.MIS_ISSUE_RECOVERY_DAYS,
            ctx.zone if ctx else DEFAULT_ZONE))
    return case


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
    case = await visible_case(actor, case_id)
    business_type = await BusinessType.get(id=case.business_type_id)  # type: ignore[attr-defined]
    kinds = await _photo_kinds(case)
    required = [PhotoKind(k) for k in business_type.required_photo_kinds]
    retaken = await _retaken_items(case)
    if case.status == CaseStatus.RETURNED:
        missing = tuple(PhotoKind(i) for i in case.retake_items
                        if i != RETAKE_CUSTOMER and i not in retaken)
    else:
        missing = tuple(k for k in required if k not in kinds)
    customer = _decrypted(case, ctx.cipher)
    device = await Device.get_or_none(id=case.device_id)  # type: ignore[attr-defined]
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
        missing=tuple(await missing_items(case, business_type, ctx)
                      if case.status == CaseStatus.DRAFT else ()),
        answered_name=case.customer_answers.get("name", ""),
        answered_id_number="id" in case.customer_answers,
        location_skipped=case.location_skipped,
        device_asset_tag=device.asset_tag if device else "",
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
    """Unmasked customer data for holders of the reveal permission, audited (C10)."""
    require(actor, Permission.CUSTOMER_DATA_REVEAL)
    async with in_transaction():
        case = await _case(case_id)
        require_scope(actor, await Org.get(id=case.org_id))  # type: ignore[attr-defined]
        customer = _decrypted(case, ctx.cipher)
        if customer is None:
            raise DomainError(N_("No customer data has been entered for this case yet."))
        await audit.record(actor, "case.customer_reveal", "case", case.id,
                           org_id=case.org_id,  # type: ignore[attr-defined]
                           detail={"case_no": case.case_no})
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


async def _case(case_id: int) -> Case:
    """Load a case, locking its row on PostgreSQL so concurrent changes queue up."""
    case = await Case.filter(id=case_id).select_for_update().first()
    if case is None:
        raise NotFound(N_("No such case."))
    return case


async def _own_case(actor: Actor, case_id: int) -> Case:
    """The actor's own case, locked for the change (C3)."""
    case = await _case(case_id)
    if case.agent_id != actor.staff_id:  # type: ignore[attr-defined]
        raise PermissionDenied(N_("Only the field agent who captured this case may change it."))
    return case


def _require_changeable(case: Case, item: str | None) -> None:
    """Refuse changes except to a draft, or to a flagged item of a returned case (C3, C7)."""
    if case.status == CaseStatus.DRAFT:
        return
    if case.status == CaseStatus.RETURNED:
        if item is not None and item in case.retake_items:
            return
        raise DomainError(N_("Case %(case_no)s was returned for correction: only the flagged "
                             "items can be redone."), case_no=case.case_no)
    if case.status == CaseStatus.CANCELLED:
        raise DomainError(N_("This draft was cancelled and can no longer be changed."))
    raise DomainError(N_("Case %(case_no)s has already been submitted and can no longer "
                         "be changed."), case_no=case.case_no)


async def _case_for_change(actor: Actor, case_id: int, item: str | None = None) -> Case:
    """The actor's own draft, or his returned case when `item` was flagged; stale taps refused."""
    case = await _own_case(actor, case_id)
    _require_changeable(case, item)
    return case


async def visible_case(actor: Actor, case_id: int) -> Case:
    """A case its own agent or a case viewer of its org subtree may read (C10)."""
    case = await Case.get_or_none(id=case_id).prefetch_related("org")
    if case is None:
        raise NotFound(N_("No such case."))
    if case.agent_id == actor.staff_id:  # type: ignore[attr-defined]
        return case
    if not can(actor, Permission.CASE_VIEW):
        raise PermissionDenied(N_("You do not have permission for this action."))
    require_scope(actor, case.org)
    return case


def _decrypted(case: Case, cipher: FieldCipher) -> CustomerData | None:
    """The customer data of a case in clear, or None before it was entered (C10)."""
    if case.id_number_enc is None or case.mobile_enc is None:
        return None
    return CustomerData(case.customer_name, cipher.decrypt(case.id_number_enc),
                        cipher.decrypt(case.mobile_enc))


async def _photo_kinds(case: Case) -> set[PhotoKind]:
    """Photo kinds the current revision has, kept from earlier revisions or retaken (C9)."""
    kinds = await CasePhoto.filter(case_id=case.id, revision__lte=case.revision).values_list(
        "kind", flat=True)
    return {PhotoKind(k) for k in kinds}


async def _retaken_items(case: Case) -> set[str]:
    """Flagged items of a returned case already redone: retaken photos, corrected data (C7)."""
    if case.status != CaseStatus.RETURNED:
        return set()
    done = {PhotoKind(k).value for k in await CasePhoto.filter(
        case_id=case.id, revision=case.revision + 1).values_list("kind", flat=True)}
    returned = await CaseEvent.filter(case_id=case.id, kind=CaseEventKind.RETURNED
                                      ).order_by("-id").first()
    if returned is not None and await CaseEvent.exists(
            case_id=case.id, kind=CaseEventKind.CUSTOMER_SET, id__gt=returned.id):
        done.add(RETAKE_CUSTOMER)
    return {item for item in case.retake_items if item in done}


async def _check_retaken(case: Case) -> None:
    """Refuse a resubmission until every flagged item has been redone (C7)."""
    done = await _retaken_items(case)
    for item in case.retake_items:
        if item in done:
            continue
        if item == RETAKE_CUSTOMER:
            raise DomainError(N_("Correct the customer's data before you submit the case "
                                 "again."), item=item)
        raise DomainError(RETAKE_PHOTO[PhotoKind(item)], kind=item)


async def missing_items(case: Case, business_type: BusinessType,
                        ctx: CaptureContext) -> list[MissingItem]:
    """What still stops a draft's submission, in the wizard's order: customer data (C1, C4),
    the location where the setting requires it, required photos (C5), the reserved voucher
    serial (V1) and the risk hints (C11). The wizard lists these; submit refuses the first."""
    missing: list[MissingItem] = []
    if case.id_number_enc is None or case.mobile_enc is None:
        missing.append(MissingItem(ITEM_CUSTOMER, MISSING_CUSTOMER))
    if ctx.location_mode == LocationMode.REQUIRED and case.latitude is None:
        missing.append(MissingItem(ITEM_LOCATION, MISSING_LOCATION))
    present = await _photo_kinds(case)
    missing += [MissingItem(kind.value, MISSING_PHOTO[kind], {"kind": kind.value})
                for kind in (PhotoKind(k) for k in business_type.required_photo_kinds)
                if kind not in present]
    if business_type.voucher_type_code and await _reserved_voucher(case.id) is None:
        missing.append(MissingItem(ITEM_VOUCHER, MISSING_VOUCHER))
    if case.risk_hint_confirmed_at is None:
        missing.append(MissingItem(ITEM_RISK, MISSING_RISK_HINT))
    return missing


async def _check_complete(case: Case, business_type: BusinessType,
                          ctx: CaptureContext) -> None:
    """Refuse submission while anything is missing, naming the first item (C1, C4, C5, C11,
    V1)."""
    missing = await missing_items(case, business_type, ctx)
    if missing:
        raise missing[0].refusal()


def case_no_prefix(day: date) -> str:
    """The number prefix of the cases first submitted on a business day, e.g. YD20261122-."""
    return f"{CASE_NO_PREFIX}{day:%Y%m%d}-"


async def _next_case_no(moment: datetime, zone: ZoneInfo) -> str:
    """The next case number of the business day, e.g. YD20261122-000123, from an atomic upsert."""
    local_day = moment.astimezone(zone).date()
    day = f"{local_day:%Y%m%d}"
    connection = connections.get("default")
    mark = "$1" if connection.capabilities.dialect == "postgres" else "?"
    rows = await connection.execute_query_dict(
        f'INSERT INTO "case_counter" ("day", "last_no") VALUES ({mark}, 1) '
        'ON CONFLICT ("day") DO UPDATE SET "last_no" = "case_counter"."last_no" + 1 '
        'RETURNING "last_no"', [day],
    )
    return f"{case_no_prefix(local_day)}{rows[0]['last_no']:0{CASE_NO_DIGITS}d}"


def reviewer_intent(kind: str, case: Case) -> Intent:
    """A notice of this revision of a case offering reviewers to claim, approve, return or
    open it (C8)."""
    return Intent.of(kind, case.id, Action.CLAIM, Action.APPROVE, Action.RETURN, Action.OPEN,
                     revision=case.revision)


async def _notify_reviewers(case: Case, business_type: BusinessType, actor: Actor,
                            zone: ZoneInfo) -> None:
    """Queue a note with decision buttons for each reviewer of the org chain (C3, C8)."""
    org = await Org.get(id=case.org_id)  # type: ignore[attr-defined]
    assert case.review_due_at is not None
    template = REVIEWER_TEMPLATE if case.revision == 1 else RESUBMITTED_TEMPLATE
    params = {"case_no": case.case_no, "agent": actor.label, "revision": case.revision,
              "due": case.review_due_at.astimezone(zone).strftime(DUE_FORMAT)}
    for reviewer in await staff_in_chain(org, Role.REVIEWER):
        if reviewer.id == case.agent_id:  # type: ignore[attr-defined]
            continue
        await outbox.enqueue(
            reviewer.id, template,
            params | {"business_type": business_type.name_in(locale_of(reviewer))},
            intent=reviewer_intent("case.submitted", case),
            idempotency_key=f"case:{case.id}:r{case.revision}:submitted:{reviewer.id}",
        )


async def _touch(case: Case) -> None:
    """Move the draft's updated_at so /resume lists it first."""
    await case.save(update_fields=["updated_at"])


async def record_event(actor: Actor, case: Case, kind: CaseEventKind, detail: dict[str, Any],
                       at: datetime | None = None) -> None:
    """Append the timeline entry and the audit row of one change (C9, S3)."""
    await CaseEvent.create(case=case, at=at or utcnow(), actor_id=actor.staff_id,
                           actor_label=actor.label, kind=kind, detail=detail)
    await audit.record(actor, f"case.{kind.value}", "case", case.id,
                       org_id=case.org_id, detail=detail)  # type: ignore[attr-defined]


async def record_voucher_step(event: CaseVoucherMoved) -> None:
    """The serial a case holds moved: the entry on the case's timeline (C3, C9)."""
    await record_event(event.actor, await Case.get(id=event.case_id), event.kind,
                       {"serial": event.serial, "voucher_type": event.voucher_type_code},
                       at=event.at)
