"""Case capture: the draft wizard steps, submission and customer data (C1–C4, C9–C11);
the gate is in `capture_gate`, the reads in `case_summaries`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from domain.cases import review_duty
from domain.cases._case_rows import (
    case_for_change,
    own_case,
    photo_kinds,
    require_changeable,
    retaken_items,
)
from domain.cases.capture_gate import CaptureContext, LocationMode, capture_gate, gate_for
from domain.cases.case_numbers import next_case_no
from domain.cases.case_timeline import record_event
from domain.ledgers import idle_accounts
from domain.models import (
    BusinessType,
    Case,
    CaseEventKind,
    CasePhoto,
    CaseStatus,
    PhotoKind,
    Staff,
    Voucher,
    VoucherState,
)
from domain.models.cases import RETAKE_CUSTOMER
from domain.platform import audit, events, outbox
from domain.platform.actors import Actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.chat import locale_of
from domain.platform.clock import TIME_OF_DAY, business_time, utcnow
from domain.platform.errors import N_, DomainError, PermissionDenied
from domain.platform.events import CaseCancelled
from domain.platform.identity import (
    mask_mobile,
    mask_resident_id,
    normalise_serial,
    validate_customer_name,
    validate_mobile,
    validate_resident_id,
)
from domain.platform.images import PhotoInfo, inspect_off_loop
from domain.platform.intents import Action, Intent
from domain.vouchers import case_vouchers, mis_issues

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
class MissingItem:
    """One thing that still stops a draft's submission: the wizard item and the reason."""

    item: str  # ITEM_CUSTOMER, ITEM_LOCATION, a photo kind, ITEM_VOUCHER or ITEM_RISK
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def refusal(self) -> DomainError:
        """The refusal of a submission for this missing item."""
        return DomainError(self.message, **self.params)


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
        await idle_accounts.touch_activity(staff.id, moment)
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
        case = await case_for_change(actor, case_id, RETAKE_CUSTOMER)
        await _store_customer(actor, case, clean_name, clean_id, clean_mobile, ctx)
    return case


async def answer_customer_name(actor: Actor, case_id: int, name: str) -> Case:
    """Keep the customer's name typed in the wizard on the draft until the ID number and
    mobile follow, so /resume goes on where the agent left (C1)."""
    clean = validate_customer_name(name)
    async with in_transaction():
        case = await case_for_change(actor, case_id, RETAKE_CUSTOMER)
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
        case = await case_for_change(actor, case_id, RETAKE_CUSTOMER)
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
        case = await case_for_change(actor, case_id, RETAKE_CUSTOMER)
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
        case = await case_for_change(actor, case_id)
        case.location_skipped = True
        await case.save(update_fields=["location_skipped", "updated_at"])
        await _audit_answer(actor, case, "location_skipped")
    return case


async def set_location(actor: Actor, case_id: int, latitude: float, longitude: float) -> Case:
    """Record where the case was captured, as shared from the agent's phone (C3)."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise DomainError(N_("This location is not valid. Please share it again."))
    async with in_transaction():
        case = await case_for_change(actor, case_id)
        case.latitude, case.longitude = latitude, longitude
        await case.save()
        await record_event(actor, case, CaseEventKind.LOCATION_SET,
                   {"latitude": latitude, "longitude": longitude})
    return case


async def add_photo(actor: Actor, case_id: int, kind: PhotoKind, data: bytes, original_name: str,
                    content_type: str, ctx: CaptureContext,
                    checked: PhotoInfo | DomainError | None = None) -> CasePhoto:
    """Check and store a photo as a new row, never replacing (C7, C9).

    A draft's photo belongs to its current revision; the retake of a flagged item on a
    returned case belongs to the next revision, so the returned revision stays as it was.
    `checked` is the checks' verdict on `data` when they ran before the caller's transaction
    (the bot checks a photo before the update's transaction opens, issue 14).
    """
    async with in_transaction():
        case = await case_for_change(actor, case_id, kind.value)
        business_type = await BusinessType.get(id=case.business_type_id)  # type: ignore[attr-defined]
        if kind.value not in business_type.required_photo_kinds:
            raise DomainError(N_("This business type does not need a photo of this kind."),
                              kind=kind.value)
        if isinstance(checked, DomainError):
            raise checked
        info = checked or await inspect_off_loop(data, ctx.photo_limits, ctx.photo_checks)
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
        case = await case_for_change(actor, case_id)
        await gate_for(case, now or utcnow(), ctx)
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
        case = await case_for_change(actor, case_id)
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
        case = await own_case(actor, case_id)
        business_type = await BusinessType.get(id=case.business_type_id)  # type: ignore[attr-defined]
        if case.status == CaseStatus.RETURNED:
            await _check_retaken(case)
            await gate_for(case, moment, ctx)
            case.revision += 1
        else:
            require_changeable(case, None)
            await gate_for(case, moment, ctx)
            await _check_complete(case, business_type, ctx)
            case.case_no = await next_case_no(moment, ctx.zone)
        _start_review_clock(case, business_type, moment)
        await case.save()
        await idle_accounts.touch_activity(case.agent_id, moment)  # type: ignore[attr-defined]
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
        case = await case_for_change(actor, case_id)
        case.status = CaseStatus.CANCELLED
        await case.save()
        await record_event(actor, case, CaseEventKind.CANCELLED, {})
        await events.publish(CaseCancelled(
            actor, case.id, utcnow(),
            ctx.mis_issue_recovery_days if ctx else mis_issues.MIS_ISSUE_RECOVERY_DAYS,
            ctx.zone if ctx else DEFAULT_ZONE))
    return case


async def _check_retaken(case: Case) -> None:
    """Refuse a resubmission until every flagged item has been redone (C7)."""
    done = await retaken_items(case)
    for item in case.retake_items:
        if item in done:
            continue
        if item == RETAKE_CUSTOMER:
            raise DomainError(N_("Correct the customer's data before you submit the case "
                                 "again."), item=item)
        raise DomainError(RETAKE_PHOTO[PhotoKind(item)], kind=item)


async def missing_items(case: Case, business_type: BusinessType, ctx: CaptureContext,
                        present: set[PhotoKind] | None = None) -> list[MissingItem]:
    """What still stops a draft's submission, in the wizard's order: customer data (C1, C4),
    the location where the setting requires it, required photos (C5), the reserved voucher
    serial (V1) and the risk hints (C11). The wizard lists these; submit refuses the first.
    `present`: the photo kinds of the case when the caller has read them already."""
    missing: list[MissingItem] = []
    if case.id_number_enc is None or case.mobile_enc is None:
        missing.append(MissingItem(ITEM_CUSTOMER, MISSING_CUSTOMER))
    if ctx.location_mode == LocationMode.REQUIRED and case.latitude is None:
        missing.append(MissingItem(ITEM_LOCATION, MISSING_LOCATION))
    if present is None:
        present = await photo_kinds(case)
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


def reviewer_intent(kind: str, case: Case) -> Intent:
    """A notice of this revision of a case offering reviewers to claim, return or open it
    (C8); Approve waits until the reviewer opened the photos (C6, issue 16)."""
    return Intent.of(kind, case.id, Action.CLAIM, Action.RETURN, Action.OPEN,
                     revision=case.revision)


async def _notify_reviewers(case: Case, business_type: BusinessType, actor: Actor,
                            zone: ZoneInfo) -> None:
    """Queue a note with decision buttons for the on-duty reviewers of the org chain, every
    reviewer of the chain when none is on duty (C3, C8, issue 14)."""
    assert case.review_due_at is not None
    template = REVIEWER_TEMPLATE if case.revision == 1 else RESUBMITTED_TEMPLATE
    params = {"case_no": case.case_no, "agent": actor.label, "revision": case.revision,
              "due": business_time(case.review_due_at, zone, pattern=TIME_OF_DAY)}
    for reviewer in await review_duty.reviewers_to_tell(case, now=case.submitted_at):
        await outbox.enqueue(
            reviewer.id, template,
            params | {"business_type": business_type.name_in(locale_of(reviewer))},
            intent=reviewer_intent("case.submitted", case),
            idempotency_key=f"case:{case.id}:r{case.revision}:submitted:{reviewer.id}",
        )


async def _touch(case: Case) -> None:
    """Move the draft's updated_at so /resume lists it first."""
    await case.save(update_fields=["updated_at"])
