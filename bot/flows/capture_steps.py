"""The capture wizard's items and steps: where a case stands and what each step shows.

A case goes through items in a fixed order (customer data, location, one photo per kind,
the voucher serial, the risk hints, then the summary); each item is asked by one step. The
capture flow (`bot.flows.capture`) parses the answers; this module says which item comes
next, and words each step's question with its buttons (C1–C5, C10, C11).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from bot.flows.common import joined
from bot.flows.messages import APART, Buttons, Reply
from bot.flows.turn import Turn
from domain.cases.business_types import PHOTO_KIND_LABELS
from domain.cases.capture_gate import LocationMode
from domain.cases.case_summaries import CaseSummary
from domain.cases.cases import ITEM_LOCATION, ITEM_RISK, ITEM_VOUCHER
from domain.cases.review_reasons import RETAKE_ITEM_LABELS
from domain.models import CaseStatus, PhotoKind
from domain.models.cases import RETAKE_CUSTOMER
from domain.platform.errors import N_, DomainError, PermissionDenied

PREFIX = "cap:"
CUSTOMER = RETAKE_CUSTOMER
LOCATION = ITEM_LOCATION
VOUCHER = ITEM_VOUCHER
RISK = ITEM_RISK
SUMMARY = "summary"
ITEM_LABELS: dict[str, str] = RETAKE_ITEM_LABELS | {LOCATION: N_("Location of the visit"),
                                                    VOUCHER: N_("Voucher serial")}
PHOTO_PROMPTS: dict[PhotoKind, str] = {
    PhotoKind.ID_FRONT: N_("Send a photo of the ID card portrait side (the side with the "
                           "customer's picture)."),
    PhotoKind.ID_BACK: N_("Send a photo of the ID card national emblem side."),
    PhotoKind.ONSITE_WITH_AGENT: N_("Send an on-site photo of you together with the customer."),
    PhotoKind.SIGNED_FORM: N_("Send a photo of the application form the customer signed."),
    PhotoKind.OTHER: N_("Send the other photo this business needs."),
}
RISK_PROMPT = N_("Give the customer the risk hints now:\n"
                 "• use only your own mobile number for this business\n"
                 "• keep your card and its PIN to yourself and never lend them\n"
                 "• never tell anyone your e-banking password or SMS codes\n"
                 "Press the button once you have done so.")
SHARP_PHOTO = N_("Send it as a photo or as a file, sharp and well lit.")


class CaptureStep(StrEnum):
    """Steps of the capture wizard, stored in `ChatSession.step`."""

    BUSINESS_TYPE = "capture_business_type"
    NAME = "capture_name"
    ID_NUMBER = "capture_id_number"
    MOBILE = "capture_mobile"
    LOCATION = "capture_location"
    PHOTO = "capture_photo"
    VOUCHER = "capture_voucher"
    RISK_HINT = "capture_risk_hint"
    SUMMARY = "capture_summary"


ITEM_STEPS = {CUSTOMER: CaptureStep.NAME, LOCATION: CaptureStep.LOCATION,
              VOUCHER: CaptureStep.VOUCHER, RISK: CaptureStep.RISK_HINT,
              SUMMARY: CaptureStep.SUMMARY}
STEP_ITEMS = {step: item for item, step in ITEM_STEPS.items()}
CAPTURE_STEPS = frozenset(step.value for step in CaptureStep)


# --- where the wizard stands ------------------------------------------------------------


def case_items(turn: Turn, summary: CaseSummary) -> list[str]:
    """The items of the case in order: all of a draft, or the flagged ones of a returned case."""
    if summary.status == CaseStatus.RETURNED:
        order = (CUSTOMER, *(kind.value for kind in PhotoKind))
        return [item for item in order if item in summary.retake_items]
    kinds = [kind.value for kind in PhotoKind
             if kind in summary.photo_kinds or kind in summary.missing_photo_kinds]
    located = [LOCATION] if turn.ctx.capture.location_mode != LocationMode.OFF else []
    handed = [VOUCHER] if summary.issues_voucher else []
    return [CUSTOMER, *located, *kinds, *handed, RISK]


def answered(turn: Turn, summary: CaseSummary, item: str) -> bool:
    """Whether an item was answered (a skipped optional location counts as answered)."""
    if summary.status == CaseStatus.RETURNED:
        return item in summary.retaken_items
    if item == CUSTOMER:
        return bool(summary.id_number_masked)
    if item == LOCATION:
        optional = turn.ctx.capture.location_mode == LocationMode.OPTIONAL
        return summary.latitude is not None or (optional and summary.location_skipped)
    if item == RISK:
        return summary.risk_hint_confirmed
    if item == VOUCHER:
        return bool(summary.voucher_serial)
    return PhotoKind(item) not in summary.missing_photo_kinds


def next_item(turn: Turn, summary: CaseSummary) -> str:
    """The first item not answered yet, or the summary when every one is."""
    return next((item for item in case_items(turn, summary) if not answered(turn, summary, item)),
                SUMMARY)


def customer_step(summary: CaseSummary) -> CaptureStep:
    """The first step of the customer's data still to answer: the name, the ID number, or
    the mobile (also when only the mobile of a draft's complete data is to change)."""
    if summary.answered_id_number or (summary.status == CaseStatus.DRAFT
                                      and summary.id_number_masked):
        return CaptureStep.MOBILE
    return CaptureStep.ID_NUMBER if summary.answered_name else CaptureStep.NAME


def previous_item(turn: Turn, summary: CaseSummary, item: str) -> str | None:
    """The item before `item` in the wizard's order (None before the first)."""
    items = case_items(turn, summary)
    if item == SUMMARY:
        return items[-1] if items else None
    position = items.index(item) if item in items else 0
    return items[position - 1] if position else None


def current_item(step: str, data: dict[str, Any]) -> str:
    """The item a step asks for (a photo step asks for the kind it keeps)."""
    return str(data.get("kind")) if step == CaptureStep.PHOTO else STEP_ITEMS[step]


def refuse_unless_open(own: bool, status: CaseStatus, case_no: str | None) -> None:
    """Refuse a change unless the case is the agent's own draft or returned case (C3)."""
    if own and status in (CaseStatus.DRAFT, CaseStatus.RETURNED):
        return
    if status == CaseStatus.CANCELLED:
        raise DomainError(N_("This draft was cancelled and can no longer be changed."))
    if status in (CaseStatus.DRAFT, CaseStatus.RETURNED):
        raise PermissionDenied(N_("Only the field agent who captured this case may change it."))
    raise DomainError(N_("Case %(case_no)s has already been submitted and can no longer be "
                         "changed."), case_no=case_no)


def position_of(step: str, data: dict[str, Any]) -> str:
    """Where the wizard stands, as put on Back buttons: the step, or the photo kind."""
    return str(data.get("kind")) if step == CaptureStep.PHOTO else step


# --- what each step shows ---------------------------------------------------------------


def _name_screen(turn: Turn, summary: CaseSummary, data: dict[str, Any]) -> Reply:
    return Reply(turn._("Enter the customer's full name as printed on the ID card."))


def _id_number_screen(turn: Turn, summary: CaseSummary, data: dict[str, Any]) -> Reply:
    return Reply(turn._("Enter the customer's 18-character resident ID number."))


def _mobile_screen(turn: Turn, summary: CaseSummary, data: dict[str, Any]) -> Reply:
    return Reply(turn._("Enter the customer's own mobile number."))


def _location_screen(turn: Turn, summary: CaseSummary, data: dict[str, Any]) -> Reply:
    if turn.ctx.capture.location_mode == LocationMode.REQUIRED:
        return Reply(turn._("Share the location of the visit: attachment menu, then Location."))
    return Reply(turn._("Share the location of the visit (attachment menu, then Location), "
                        "or press Skip."),
                 (((turn._("Skip"), f"{PREFIX}skip:{summary.case_id}"),),))


def _photo_screen(turn: Turn, summary: CaseSummary, data: dict[str, Any]) -> Reply:
    prompt = turn._(PHOTO_PROMPTS[PhotoKind(data["kind"])])
    return Reply("\n".join((prompt, turn._(SHARP_PHOTO))))


def _voucher_screen(turn: Turn, summary: CaseSummary, data: dict[str, Any]) -> Reply:
    return Reply(turn._("Enter the serial of the %(voucher_type)s you hand over to the "
                        "customer, or send a photo of it with the serial in the caption.",
                        voucher_type=voucher_name(turn, summary)))


def _risk_screen(turn: Turn, summary: CaseSummary, data: dict[str, Any]) -> Reply:
    return Reply(turn._(RISK_PROMPT),
                 (((turn._("I gave the risk hints"), f"{PREFIX}risk:{summary.case_id}"),),))


def _summary_screen(turn: Turn, summary: CaseSummary, data: dict[str, Any]) -> Reply:
    """The case as it stands, ID and mobile masked (C10), with a change button per item."""
    missing = _missing(turn, summary, data)
    lines = [*_summary_lines(turn, summary), ""]
    lines += [turn._("Still missing:"), *(f"• {text}" for text in missing)] if missing else [
        turn._("Everything is there. Check it and press Submit.")]
    changes = [(turn._("Change: %(item)s", item=turn._(ITEM_LABELS[item])),
                f"{PREFIX}edit:{summary.case_id}:{item}")
               for item in case_items(turn, summary) if item != RISK]
    rows = tuple(tuple(changes[i:i + 2]) for i in range(0, len(changes), 2))
    return Reply("\n".join(lines), rows)


def submit_rows(turn: Turn, summary: CaseSummary) -> Buttons:
    """Submit alone on the last row, set apart from the change buttons and Back (issue 16)."""
    return APART, ((turn._("Submit"), f"{PREFIX}submit:{summary.case_id}"),)


def _summary_lines(turn: Turn, summary: CaseSummary) -> list[str]:
    """Business type, customer, location and photos of the summary."""
    business_type = type_name(turn, summary)
    title = (turn._("Case %(case_no)s (%(business_type)s), returned for correction",
                    case_no=summary.case_no, business_type=business_type)
             if summary.status == CaseStatus.RETURNED else
             turn._("Summary: %(business_type)s", business_type=business_type))
    lines = [title, turn._("Customer: %(name)s", name=summary.customer_name or "–"),
             turn._("ID number: %(id_number)s", id_number=summary.id_number_masked or "–"),
             turn._("Mobile: %(mobile)s", mobile=summary.mobile_masked or "–")]
    if turn.ctx.capture.location_mode != LocationMode.OFF:
        where = ("–" if summary.latitude is None or summary.longitude is None
                 else f"{summary.latitude:.5f}, {summary.longitude:.5f}")
        lines.append(turn._("Location: %(location)s", location=where))
    photos = [turn._(PHOTO_KIND_LABELS[kind]) for kind in summary.photo_kinds]
    lines.append(turn._("Photos: %(photos)s", photos=joined(turn, photos)))
    if summary.issues_voucher:
        lines.append(turn._("%(voucher_type)s handed over: %(serial)s",
                            voucher_type=voucher_name(turn, summary),
                            serial=summary.voucher_serial or "–"))
    return lines


def _missing(turn: Turn, summary: CaseSummary, data: dict[str, Any]) -> list[str]:
    """What still stops the submission, as the domain lists it (C11 and the rest)."""
    if summary.status == CaseStatus.RETURNED:
        pending = [item for item in case_items(turn, summary) if not answered(turn, summary, item)]
        return [turn._("Redo: %(item)s", item=turn._(ITEM_LABELS[item])) for item in pending]
    return [turn._(missing.message, **missing.params) for missing in summary.missing]


SCREENS: dict[CaptureStep, Callable[[Turn, CaseSummary, dict[str, Any]], Reply]] = {
    CaptureStep.NAME: _name_screen,
    CaptureStep.ID_NUMBER: _id_number_screen,
    CaptureStep.MOBILE: _mobile_screen,
    CaptureStep.LOCATION: _location_screen,
    CaptureStep.PHOTO: _photo_screen,
    CaptureStep.VOUCHER: _voucher_screen,
    CaptureStep.RISK_HINT: _risk_screen,
    CaptureStep.SUMMARY: _summary_screen,
}


def type_name(turn: Turn, summary: CaseSummary) -> str:
    """The case's business type in the reply language."""
    return summary.business_type_zh if turn.locale.startswith("zh") else summary.business_type_en


def voucher_name(turn: Turn, summary: CaseSummary) -> str:
    """The voucher type the case's business issues, in the reply language."""
    return summary.voucher_type_zh if turn.locale.startswith("zh") else summary.voucher_type_en
