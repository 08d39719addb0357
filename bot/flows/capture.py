"""The capture wizard in chat: /new, /resume, /cancel and retakes after a return (C1–C5, C7–C11).

A case goes through items in a fixed order: customer data (name, ID number, mobile), the
location of the visit (per setting), one photo per required kind, the serial of the voucher
handed over (for a business type that issues one), the risk hints and the summary. The
serial comes after the photos because the card is handed over once the papers are done and
before the card-safety hints; it is typed, or read from the caption of a photo of the card
(the photo itself is not kept: it is no case evidence). The serial stays reserved through a
return, so a retake never asks for it. Every answer is kept on the draft as it is given
(the name and ID number before the mobile completes them, a skipped location too), and the
wizard always asks for the first item not answered yet, so a fresh draft, one resumed with
/resume and a returned case (only its flagged items) run the same way. Every rule is
checked by `domain.cases.cases`, which also lists what still stops the submission; this
module parses input and words the answers, and `bot.flows.capture_steps` says which item
comes next and what each step shows. Buttons carry "cap:<action>:<case id>[:<arg>]"
("cap:new:<business type id>" before a draft exists).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from bot.flows.account import pledge_reply, stale_button
from bot.flows.capture_steps import (
    CAPTURE_STEPS,
    CUSTOMER,
    ITEM_LABELS,
    ITEM_STEPS,
    PREFIX,
    RISK,
    SCREENS,
    SUMMARY,
    CaptureStep,
    case_items,
    current_item,
    customer_step,
    next_item,
    position_of,
    previous_item,
    refuse_unless_open,
    submit_rows,
    type_name,
)
from bot.flows.common import chat_actor, joined
from bot.flows.devices import LOSS_STEPS, NOT_SENT
from bot.flows.messages import Buttons, Reply
from bot.flows.special import REQUEST_NOT_SENT, SpecialStep
from bot.flows.turn import Outcome, Step, Turn, answer
from domain.cases import capture_gate, case_summaries, cases
from domain.cases.capture_gate import LocationMode
from domain.cases.case_summaries import CaseSummary
from domain.models import Case, CaseStatus, PhotoKind
from domain.people import binding
from domain.platform import chat_privacy
from domain.platform.actors import Actor
from domain.platform.clock import SHORT_DATE_TIME, business_time, utcnow
from domain.platform.errors import N_, DomainError
from domain.platform.identity import normalise_serial
from domain.platform.images import MIB

log = logging.getLogger(__name__)
Handler = Callable[[Turn], Awaitable[Outcome]]
NEW_CASE = "cap:start"
PRESS = re.compile(r"cap:([a-z]+):([1-9][0-9]{0,8})(?::([a-z_]{1,32}))?", re.ASCII)
SERIAL_GAPS = re.compile(r"(?<=[0-9])[\s-]+(?=[0-9])")
SERIAL_RUN = re.compile(r"[0-9A-Za-z]*[0-9][0-9A-Za-z]*", re.ASCII)
NOTHING_TO_CANCEL = N_("There is nothing to cancel.")
SPECIAL_STEPS = frozenset(step.value for step in SpecialStep)
# The steps whose messages carry customer data: deleted from the chat once the case is
# submitted or the draft cancelled (C10).
CUSTOMER_DATA_STEPS = frozenset({CaptureStep.NAME, CaptureStep.ID_NUMBER, CaptureStep.MOBILE,
                                 CaptureStep.PHOTO})


# --- commands ---------------------------------------------------------------------------


def pledged(command: Handler) -> Handler:
    """A capture command or button answered with the confidentiality pledge until the agent
    has confirmed it (C10)."""

    async def run(turn: Turn) -> Outcome:
        actor = await chat_actor(turn)
        assert actor.staff_id is not None
        if not await binding.pledge_confirmed(actor.staff_id):
            return answer(Step.IDLE, pledge_reply(turn._))
        return await command(turn)

    run.__doc__ = command.__doc__
    return run


@pledged
async def new(turn: Turn) -> Outcome:
    """/new: the business types the gate lets the agent capture now, as buttons (C2)."""
    return await _type_choice(turn, await chat_actor(turn))


@pledged
async def resume(turn: Turn) -> Outcome:
    """/resume: the agent's returned cases and open drafts, as buttons."""
    actor = await chat_actor(turn)
    returned = await case_summaries.returned_cases(actor)
    drafts = await case_summaries.open_drafts(actor)
    if not returned and not drafts:
        return answer(Step.IDLE, turn._("You have no open drafts and no returned cases."))
    rows = tuple(((_list_label(turn, case), f"{PREFIX}resume:{case.id}"),)
                 for case in (*returned, *drafts))
    return answer(Step.IDLE, Reply(turn._("Which case do you want to continue?"), rows))


async def cancel(turn: Turn) -> Outcome:
    """/cancel: cancel the draft being captured; a returned case just stays returned."""
    if turn.step in SPECIAL_STEPS:
        return answer(Step.IDLE, turn._(REQUEST_NOT_SENT))
    if turn.step in LOSS_STEPS:
        return answer(Step.IDLE, turn._(NOT_SENT))
    if turn.step not in CAPTURE_STEPS or "case" not in turn.data:
        return answer(Step.IDLE, turn._(NOTHING_TO_CANCEL))
    actor = await chat_actor(turn)
    try:
        summary = await _editable(turn, actor, int(turn.data["case"]))
        if summary.status == CaseStatus.RETURNED:
            return answer(Step.IDLE, turn._(
                "Stopped. Case %(case_no)s stays returned; send /resume to continue it.",
                case_no=summary.case_no))
        await cases.cancel(actor, summary.case_id, turn.ctx.capture)
        await _release(turn, actor, summary.case_id)
    except DomainError as refusal:
        return answer(Step.IDLE, turn._(refusal.key, **refusal.params))
    return answer(Step.IDLE, turn._("The draft was cancelled; nothing of it will be submitted."))


# --- buttons ----------------------------------------------------------------------------


@pledged
async def pressed(turn: Turn) -> Outcome:
    """A "cap:" button: "New case", or parsed and handled by its action; else stale."""
    if turn.inbound.callback_data == NEW_CASE:
        return await new(turn)
    match = PRESS.fullmatch(turn.inbound.callback_data)
    action = BUTTONS.get(match[1]) if match else None
    if match is None or action is None:
        return await stale_button(turn)
    return await action(turn, int(match[2]), match[3] or "")


async def _new_draft(turn: Turn, business_type_id: int, arg: str) -> Outcome:
    """A business type chosen: open the draft (the gate runs again) and ask for the name."""
    if turn.step != CaptureStep.BUSINESS_TYPE or arg:
        return await stale_button(turn)
    actor = await chat_actor(turn)
    case = await cases.start_draft(actor, business_type_id, turn.ctx.capture)
    summary = await _summary(turn, actor, case.id)
    return _ask(turn, summary, CUSTOMER, {}, turn._(
        "New case: %(business_type)s.", business_type=type_name(turn, summary)))


async def _resume_case(turn: Turn, case_id: int, arg: str) -> Outcome:
    """A case picked from /resume: continue at its first missing item."""
    actor = await chat_actor(turn)
    summary = await _editable(turn, actor, case_id)
    if summary.status == CaseStatus.RETURNED:
        return await _retake(turn, case_id, arg)
    return _ask(turn, summary, next_item(turn, summary), {},
                turn._("Let us continue this draft."))


async def _retake(turn: Turn, case_id: int, arg: str) -> Outcome:
    """The returned notification's button: list the flagged items and ask only for those."""
    actor = await chat_actor(turn)
    summary = await _editable(turn, actor, case_id)
    if summary.status != CaseStatus.RETURNED or arg:
        return await stale_button(turn)
    items = [turn._(ITEM_LABELS[item]) for item in summary.retake_items]
    lead = turn._("Case %(case_no)s was returned for correction. Please redo: %(items)s.",
                  case_no=summary.case_no, items=joined(turn, items))
    return _ask(turn, summary, next_item(turn, summary), {}, lead)


async def _back(turn: Turn, case_id: int, position: str) -> Outcome:
    """Back: to the step before the one this button was shown on."""
    if not _data_for(turn, case_id) or position_of(turn.step, turn.data) != position:
        return await stale_button(turn)
    actor = await chat_actor(turn)
    summary = await _editable(turn, actor, case_id)
    data = turn.data
    if turn.step == CaptureStep.ID_NUMBER:
        return _go(turn, summary, CaptureStep.NAME, data)
    if turn.step == CaptureStep.MOBILE:
        return _go(turn, summary, CaptureStep.ID_NUMBER, data)
    previous = previous_item(turn, summary, current_item(turn.step, data))
    if previous is None:
        return await _before_first(turn, actor, summary, data)
    return _ask(turn, summary, previous, data)


async def _before_first(turn: Turn, actor: Actor, summary: CaseSummary,
                        data: dict[str, Any]) -> Outcome:
    """Back from the first item: an untouched draft is discarded, else the summary shows."""
    untouched = summary.status == CaseStatus.DRAFT and not (
        summary.id_number_masked or summary.photo_kinds or summary.latitude is not None)
    if not untouched:
        return _ask(turn, summary, SUMMARY, data)
    await cases.cancel(actor, summary.case_id, turn.ctx.capture)
    await _release(turn, actor, summary.case_id)
    return await _type_choice(turn, actor, turn._("The empty draft was discarded."))


async def _skip_location(turn: Turn, case_id: int, arg: str) -> Outcome:
    """Skip: go on without a location where the setting makes it optional; the skip is kept
    on the draft, so /resume does not ask again."""
    optional = turn.ctx.capture.location_mode == LocationMode.OPTIONAL
    if turn.step != CaptureStep.LOCATION or turn.data.get("case") != case_id or not optional:
        return await stale_button(turn)
    actor = await chat_actor(turn)
    await _require_editable(turn, actor, case_id)
    await cases.skip_location(actor, case_id, turn.ctx.capture)
    return await _continue(turn, actor, case_id, turn.data)


async def _risk_hints_given(turn: Turn, case_id: int, arg: str) -> Outcome:
    """The risk-hint confirmation button (C11)."""
    actor = await chat_actor(turn)
    await cases.confirm_risk_hint(actor, case_id)
    return await _continue(turn, actor, case_id, _data_for(turn, case_id),
                           turn._("Risk hints confirmed."))


async def _change(turn: Turn, case_id: int, item: str) -> Outcome:
    """A change button under the summary: ask for that one item again."""
    actor = await chat_actor(turn)
    summary = await _editable(turn, actor, case_id)
    if item not in case_items(turn, summary) or item == RISK:
        return await stale_button(turn)
    data = _data_for(turn, case_id)
    if item == CUSTOMER:
        return _go(turn, summary, CaptureStep.NAME, data)
    return _ask(turn, summary, item, data)


async def _submit(turn: Turn, case_id: int, arg: str) -> Outcome:
    """Submit (or resubmit a returned case); a second tap is refused with the case number."""
    actor = await chat_actor(turn)
    case = await cases.submit(actor, case_id, turn.ctx.capture)
    await _release(turn, actor, case_id)
    assert case.review_due_at is not None
    due = business_time(case.review_due_at, turn.ctx.capture.zone, turn.locale)
    if case.revision > 1:
        return answer(Step.IDLE, turn._(
            "Case %(case_no)s was submitted again as revision %(revision)s. A reviewer will "
            "decide it by %(due)s; I will tell you the result here.",
            case_no=case.case_no, revision=case.revision, due=due))
    return answer(Step.IDLE, turn._(
        "Case %(case_no)s was submitted. A reviewer will decide it by %(due)s; I will tell "
        "you the result here.", case_no=case.case_no, due=due))


ButtonAction = Callable[[Turn, int, str], Awaitable[Outcome]]
BUTTONS: dict[str, ButtonAction] = {
    "new": _new_draft, "resume": _resume_case, "retake": _retake, "back": _back,
    "skip": _skip_location, "risk": _risk_hints_given, "edit": _change, "submit": _submit,
}


# --- steps ------------------------------------------------------------------------------

CaseHandler = Callable[[Turn, Actor, int], Awaitable[Outcome]]


def _on_case(handler: CaseHandler) -> Handler:
    """A step handler for the session's case; a case no longer editable ends the wizard. The
    handler reads the case's summary once, after its change (issue 14)."""

    async def run(turn: Turn) -> Outcome:
        actor = await chat_actor(turn)
        case_id = int(turn.data.get("case", 0))
        try:
            await _require_editable(turn, actor, case_id)
        except DomainError as refusal:
            return answer(Step.IDLE, turn._(refusal.key, **refusal.params))
        if turn.step in CUSTOMER_DATA_STEPS and turn.inbound.message_id:
            await chat_privacy.note_customer_message(
                case_id, turn.inbound.channel, turn.inbound.chat_id,
                turn.inbound.message_id, utcnow())
        return await handler(turn, actor, case_id)

    run.__doc__ = handler.__doc__
    return run


async def type_text(turn: Turn) -> Outcome:
    """Text while the business types are offered: point at the buttons."""
    return await _type_choice(turn, await chat_actor(turn),
                              turn._("Please choose with the buttons."))


@_on_case
async def name_text(turn: Turn, actor: Actor, case_id: int) -> Outcome:
    """The customer's name (C1): checked and kept on the draft, then the ID number is asked."""
    try:
        await cases.answer_customer_name(actor, case_id, turn.inbound.text)
    except DomainError as refusal:
        return await _again(turn, actor, case_id, CaptureStep.NAME, _said(turn, refusal))
    return await _again(turn, actor, case_id, CaptureStep.ID_NUMBER)


@_on_case
async def id_number_text(turn: Turn, actor: Actor, case_id: int) -> Outcome:
    """The ID number (C1): kept on the draft encrypted (C10), or the precise fault is named
    and the number asked again."""
    try:
        await cases.answer_id_number(actor, case_id, turn.inbound.text, turn.ctx.capture)
    except DomainError as refusal:
        return await _again(turn, actor, case_id, CaptureStep.ID_NUMBER, _said(turn, refusal))
    return await _again(turn, actor, case_id, CaptureStep.MOBILE)


@_on_case
async def mobile_text(turn: Turn, actor: Actor, case_id: int) -> Outcome:
    """The customer's own mobile (C4): with name and ID number, stored on the case."""
    try:
        await cases.answer_mobile(actor, case_id, turn.inbound.text, turn.ctx.capture)
    except DomainError as refusal:
        return await _again(turn, actor, case_id, CaptureStep.MOBILE, _said(turn, refusal))
    return await _continue(turn, actor, case_id, turn.data, turn._("Customer data saved."))


@_on_case
async def location_shared(turn: Turn, actor: Actor, case_id: int) -> Outcome:
    """A shared location of the visit; anything else is asked again."""
    if turn.inbound.location is None:
        return await _again(turn, actor, case_id, CaptureStep.LOCATION,
                            turn._("Please share the location from the attachment menu."))
    latitude, longitude = turn.inbound.location
    await cases.set_location(actor, case_id, latitude, longitude)
    return await _continue(turn, actor, case_id, turn.data, turn._("Location saved."))


@_on_case
async def photo_received(turn: Turn, actor: Actor, case_id: int) -> Outcome:
    """A photo or file of the asked kind: checked and stored, or refused with the reason (C7).
    The router has checked it before the update's transaction (issue 14)."""
    upload, limits = turn.inbound.attachment, turn.ctx.capture.photo_limits
    if upload is None:
        return await _again(turn, actor, case_id, CaptureStep.PHOTO,
                            turn._("A photo is expected here."))
    if upload.size is not None and upload.size > limits.max_bytes:
        return await _again(turn, actor, case_id, CaptureStep.PHOTO, turn._(
            "The photo is too large: at most %(limit)d MB is allowed.",
            limit=limits.max_bytes // MIB))
    try:
        content = await upload.fetch()
    except Exception:  # any channel's download failure: the agent can simply send it again
        log.warning("download of %s for case %s failed", upload.name, case_id, exc_info=True)
        return await _again(turn, actor, case_id, CaptureStep.PHOTO,
                            turn._("I could not download this file. Please send it again."))
    try:
        await cases.add_photo(actor, case_id, PhotoKind(turn.data["kind"]), content,
                              upload.name, upload.content_type, turn.ctx.capture,
                              upload.checked)
    except DomainError as refusal:
        return await _again(turn, actor, case_id, CaptureStep.PHOTO, _said(turn, refusal))
    return await _continue(turn, actor, case_id, turn.data, turn._("Photo received."))


@_on_case
async def voucher_received(turn: Turn, actor: Actor, case_id: int) -> Outcome:
    """The serial handed over, typed or in a photo's caption: reserved from the agent's own
    box, or refused with the reason and asked again (V1)."""
    serial = read_serial(turn.inbound.text)
    if not serial:
        fault = (N_("Write the serial in the caption of the photo, or type it.")
                 if turn.inbound.attachment else N_("I found no serial in your message."))
        return await _again(turn, actor, case_id, CaptureStep.VOUCHER, turn._(fault))
    try:
        voucher = await cases.set_voucher(actor, case_id, serial, turn.ctx.capture)
    except DomainError as refusal:
        return await _again(turn, actor, case_id, CaptureStep.VOUCHER, _said(turn, refusal))
    return await _continue(turn, actor, case_id, turn.data, turn._(
        "Serial %(serial)s is reserved for this case.", serial=voucher.serial))


def read_serial(text: str) -> str:
    """The serial in a typed text or a caption: the longest run of letters and digits that
    holds a digit, once full-width digits are read as digits and spaces and dashes between
    digit groups are removed (V1)."""
    return max(SERIAL_RUN.findall(SERIAL_GAPS.sub("", normalise_serial(text))), key=len,
               default="")


@_on_case
async def risk_text(turn: Turn, actor: Actor, case_id: int) -> Outcome:
    """Text while the risk hints are shown: show them again."""
    return await _again(turn, actor, case_id, CaptureStep.RISK_HINT)


@_on_case
async def summary_text(turn: Turn, actor: Actor, case_id: int) -> Outcome:
    """Text while the summary is shown: show it again."""
    return await _again(turn, actor, case_id, CaptureStep.SUMMARY)


async def _continue(turn: Turn, actor: Actor, case_id: int, data: dict[str, Any],
                    *lead: str) -> Outcome:
    """After a change: ask for the first item still missing."""
    summary = await _summary(turn, actor, case_id)
    return _ask(turn, summary, next_item(turn, summary), data, *lead)


async def _again(turn: Turn, actor: Actor, case_id: int, step: CaptureStep,
                 *lead: str) -> Outcome:
    """Stay on or move to a step of the wizard, with the case as it stands now."""
    return _go(turn, await _summary(turn, actor, case_id), step, turn.data, *lead)


def _ask(turn: Turn, summary: CaseSummary, item: str, data: dict[str, Any],
         *lead: str) -> Outcome:
    """Ask for one item; the customer's data at its first step not answered yet."""
    step = customer_step(summary) if item == CUSTOMER else ITEM_STEPS.get(item, CaptureStep.PHOTO)
    if step == CaptureStep.PHOTO:
        data = data | {"kind": item}
    return _go(turn, summary, step, data, *lead)


def _go(turn: Turn, summary: CaseSummary, step: CaptureStep, data: dict[str, Any],
        *lead: str) -> Outcome:
    """Move to a step: its prompt after any lead texts, its buttons and a Back button; on
    the summary, Submit last, set apart from the others (issue 16)."""
    data = data | {"case": summary.case_id}
    screen = SCREENS[step](turn, summary, data)
    back = ((turn._("« Back"), f"{PREFIX}back:{summary.case_id}:{position_of(step, data)}"),)
    final = submit_rows(turn, summary) if step == CaptureStep.SUMMARY else ()
    return answer(step, Reply("\n\n".join((*lead, screen.text)),
                              (*screen.buttons, back, *final)), data=data)


# --- small helpers ----------------------------------------------------------------------


async def _type_choice(turn: Turn, actor: Actor, *lead: str) -> Outcome:
    """The active business types the gate lets the agent capture now, or the gate's refusal."""
    assert actor.staff_id is not None
    open_types = await capture_gate.offered_business_types(actor.staff_id, utcnow(),
                                                           turn.ctx.capture)
    rows: Buttons = tuple(((row.name_in(turn.locale), f"{PREFIX}new:{row.id}"),)
                          for row in open_types)
    text = turn._("Which business do you capture? Choose the business type.")
    return answer(CaptureStep.BUSINESS_TYPE, Reply("\n\n".join((*lead, text)), rows))


async def _summary(turn: Turn, actor: Actor, case_id: int) -> CaseSummary:
    """The masked summary of a case (C10)."""
    return await case_summaries.case_summary(actor, case_id, turn.ctx.capture)


async def _editable(turn: Turn, actor: Actor, case_id: int) -> CaseSummary:
    """The agent's own draft or returned case; otherwise refused with the reason (C3)."""
    summary = await _summary(turn, actor, case_id)
    refuse_unless_open(summary.agent_id == actor.staff_id, summary.status, summary.case_no)
    return summary


async def _require_editable(turn: Turn, actor: Actor, case_id: int) -> None:
    """`_editable` without the summary: the agent's own case is judged on one row read, any
    other gets the summary's refusal (C3, issue 14)."""
    state = await case_summaries.case_state(case_id)
    if state is None or state.agent_id != actor.staff_id:
        await _editable(turn, actor, case_id)
        return
    refuse_unless_open(True, state.status, state.case_no)


async def _release(turn: Turn, actor: Actor, case_id: int) -> None:
    """The case left the wizard: the agent's messages with its customer data are to go, at
    once once the turn is answered (C10)."""
    assert actor.staff_id is not None
    await chat_privacy.release_case_messages(case_id, actor.staff_id, utcnow())
    turn.released.append(case_id)


def _data_for(turn: Turn, case_id: int) -> dict[str, Any]:
    """The session data when the wizard stands on this case, else a fresh start."""
    own = turn.step in CAPTURE_STEPS and turn.data.get("case") == case_id
    return turn.data if own else {}


def _said(turn: Turn, refusal: DomainError) -> str:
    return turn._(refusal.key, **refusal.params)


def _list_label(turn: Turn, case: Case) -> str:
    """One line of the /resume list: returned cases by number, drafts by customer and time."""
    business_type = case.business_type.name_in(turn.locale)
    if case.status == CaseStatus.RETURNED:
        return turn._("%(case_no)s %(business_type)s – returned",
                      case_no=case.case_no, business_type=business_type)
    changed = business_time(case.updated_at, turn.ctx.capture.zone, turn.locale,
                            SHORT_DATE_TIME)
    return turn._("Draft %(business_type)s – %(customer)s – %(changed)s",
                  business_type=business_type,
                  customer=case.customer_name or case.customer_answers.get("name") or "–",
                  changed=changed)


COMMANDS: dict[str, Handler] = {"new": new, "resume": resume, "cancel": cancel}
CALLBACKS: dict[str, Handler] = {PREFIX: pressed}
# The photo step reads the bytes of what is sent: the router downloads them beforehand.
DOWNLOADS = frozenset({CaptureStep.PHOTO.value})
STEPS: dict[str, Handler] = {
    CaptureStep.BUSINESS_TYPE: type_text,
    CaptureStep.NAME: name_text,
    CaptureStep.ID_NUMBER: id_number_text,
    CaptureStep.MOBILE: mobile_text,
    CaptureStep.LOCATION: location_shared,
    CaptureStep.PHOTO: photo_received,
    CaptureStep.VOUCHER: voucher_received,
    CaptureStep.RISK_HINT: risk_text,
    CaptureStep.SUMMARY: summary_text,
}


def is_side_press(turn: Turn) -> bool:
    """"New case", or another case than the open one picked from /resume or a return
    notice: pressed while the wizard is open, it would start the wizard afresh."""
    if turn.inbound.callback_data == NEW_CASE:
        return True
    match = PRESS.fullmatch(turn.inbound.callback_data)
    return (match is not None and match[1] in ("resume", "retake")
            and int(match[2]) != turn.data.get("case"))


async def _types_again(turn: Turn) -> Outcome:
    """The business types offered again."""
    return await _type_choice(turn, await chat_actor(turn))


@_on_case
async def _step_again(turn: Turn, actor: Actor, case_id: int) -> Outcome:
    """The open step of the case shown again, as it stands."""
    return await _again(turn, actor, case_id, CaptureStep(turn.step))


PROMPTS: dict[str, Handler] = {step: _step_again for step in CaptureStep} | {
    CaptureStep.BUSINESS_TYPE: _types_again}
