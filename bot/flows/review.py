"""The review flow: reviewers claim and decide cases of their orgs from chat (C6, C7, C8, S2).

Every decision goes through `domain.cases.review`, so chat and web follow the same rules;
this module only parses buttons, asks for reasons and notes, and words the answers.
Approve is offered only to a reviewer who opened the case's photos (C6, issue 16): until
then the case shows "View photos" (its page in the web admin, which shows the ID portrait
beside the on-site photo) and "I have looked" ("rv:case:<id>"), which shows the case again.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.flows import duty
from bot.flows.account import stale_button, unknown_text
from bot.flows.common import chat_actor, joined
from bot.flows.messages import Buttons, Reply
from bot.flows.turn import Outcome, Step, Turn, answer
from domain.cases import case_summaries, review, review_photos, review_queue, review_reasons
from domain.cases.business_types import PHOTO_KIND_LABELS
from domain.models import CaseStatus, ReasonKind, ReviewReason
from domain.platform.access import Permission, require
from domain.platform.actors import Actor
from domain.platform.clock import business_time
from domain.platform.errors import N_

Handler = Callable[[Turn], Awaitable[Outcome]]
PRESS = re.compile(r"rv:([a-z]+):([1-9][0-9]{0,8})(?::([A-Za-z0-9_.-]{1,32}))?", re.ASCII)
QUEUE_LIMIT = 10
PHOTOS_HINT = N_("Approve comes once you have opened the photos: View photos shows the ID "
                 "portrait beside the on-site photo on the case's page in the web admin. "
                 "Then press I have looked.")


class ReviewStep(StrEnum):
    """Steps of the review flow, stored in `ChatSession.step`."""

    RETURN_REASONS = "review_return_reasons"
    HOLD_NOTE = "review_hold_note"


@dataclass(frozen=True)
class Press:
    """A parsed review button: who pressed it, on which case, with which reason code."""

    actor: Actor
    case_id: int
    code: str


Action = Callable[[Turn, Press], Awaitable[Outcome]]


def button(action: Action, with_code: bool = False) -> Handler:
    """A callback handler: parse `rv:<verb>:<case id>[:<code>]`, check the binding, act."""

    async def handle(turn: Turn) -> Outcome:
        match = PRESS.fullmatch(turn.inbound.callback_data)
        if match is None or bool(match[3]) != with_code:
            return await stale_button(turn)
        return await action(turn, Press(await chat_actor(turn), int(match[2]), match[3] or ""))

    return handle


def action_buttons(turn: Turn, case_id: int, seen: bool) -> Buttons:
    """The decision buttons under a claimed case, with the link to its page in the admin;
    Approve only once the reviewer opened the photos, "View photos" until then (C6)."""
    first = (((turn._("Approve"), f"rv:approve:{case_id}"),) if seen else
             ((turn._("View photos"), f"/cases/{case_id}"),
              (turn._("I have looked"), f"rv:case:{case_id}")))
    return (
        first,
        ((turn._("Return"), f"rv:return:{case_id}"), (turn._("Reject"), f"rv:reject:{case_id}")),
        ((turn._("Hold"), f"rv:hold:{case_id}"), (turn._("Release"), f"rv:release:{case_id}")),
        ((turn._("Open in web"), f"/cases/{case_id}"),),
    )


async def decision_reply(turn: Turn, press: Press, *lead: str) -> Reply:
    """The case card with its decision buttons; until the reviewer opened the photos, a line
    saying where to see them (C6)."""
    seen = await review_photos.photos_viewed(press.actor, press.case_id)
    hint = () if seen else (turn._(PHOTOS_HINT),)
    return Reply("\n\n".join((*lead, await case_card(turn, press), *hint)),
                 action_buttons(turn, press.case_id, seen))


def local(turn: Turn, name_zh: str, name_en: str) -> str:
    """The Chinese or English name, whichever fits the reply language."""
    return name_zh if turn.locale.startswith("zh") or not name_en else name_en


async def case_card(turn: Turn, press: Press) -> str:
    """The case as the reviewer sees it in chat, ID and mobile masked (C10)."""
    summary = await case_summaries.case_summary(press.actor, press.case_id, turn.ctx.capture)
    due = summary.review_due_at
    return turn._(
        "Case %(case_no)s, revision %(revision)s\nBusiness type: %(business_type)s\n"
        "Customer: %(customer)s\nID number: %(id_number)s\nMobile: %(mobile)s\n"
        "Photos: %(photos)s\nReview due by: %(due)s",
        case_no=summary.case_no, revision=summary.revision,
        business_type=local(turn, summary.business_type_zh, summary.business_type_en),
        customer=summary.customer_name, id_number=summary.id_number_masked,
        mobile=summary.mobile_masked,
        photos=joined(turn, [turn._(PHOTO_KIND_LABELS[k]) for k in summary.photo_kinds]),
        due=business_time(due, turn.ctx.capture.zone, turn.locale) if due else "–")


async def open_case(press: Press) -> str:
    """Claim the case before a decision menu opens, so the domain refuses stale buttons (C8)."""
    return (await review.claim(press.actor, press.case_id)).case_no or ""


async def claim(turn: Turn, press: Press) -> Outcome:
    """Claim: take the case, then show it with the decision buttons (C8)."""
    text = turn._("You claimed case %(case_no)s.", case_no=await open_case(press))
    return answer(Step.IDLE, await decision_reply(turn, press, text))


async def show(turn: Turn, press: Press) -> Outcome:
    """Back: the case with its decision buttons again; any selection is dropped."""
    await open_case(press)
    return answer(Step.IDLE, await decision_reply(turn, press))


async def approve(turn: Turn, press: Press) -> Outcome:
    """Approve; on four-eyes types the first approval waits for a second reviewer (S2)."""
    case = await review.approve(press.actor, press.case_id, turn.ctx.capture)
    if case.status == CaseStatus.APPROVED:
        return answer(Step.IDLE, turn._("Case %(case_no)s approved. The agent is being told.",
                                        case_no=case.case_no))
    return answer(Step.IDLE, turn._(
        "First approval of case %(case_no)s recorded. A second reviewer must confirm it before "
        "it is approved.", case_no=case.case_no))


async def release(turn: Turn, press: Press) -> Outcome:
    """Release: give the case back to the queue (C8)."""
    case = await review.release(press.actor, press.case_id)
    return answer(Step.IDLE, Reply(
        turn._("Case %(case_no)s is back in the review queue.", case_no=case.case_no),
        (((turn._("Claim"), f"rv:claim:{case.id}"),),)))


def selection(turn: Turn, case_id: int) -> tuple[list[str], str]:
    """The return reasons ticked so far and the note, when the menu is for this case."""
    data = turn.data
    if turn.step != ReviewStep.RETURN_REASONS or data.get("case_id") != case_id:
        return [], ""
    return list(data.get("codes", [])), str(data.get("note", ""))


async def return_menu(turn: Turn, press: Press, codes: list[str], note: str) -> Outcome:
    """The return reasons as toggles (✓ when ticked), with note, send and back buttons (C7)."""
    case_no = await open_case(press)
    reasons = await review_reasons.active_reasons(ReasonKind.RETURN)
    ticks = tuple(((("✓ " if r.code in codes else "") + r.name_in(turn.locale),
                    f"rv:rt:{press.case_id}:{r.code}"),) for r in reasons)
    controls = (((turn._("Add a note"), f"rv:rn:{press.case_id}"),),
                ((turn._("Send return"), f"rv:rs:{press.case_id}"),
                 (turn._("Back"), f"rv:case:{press.case_id}")))
    text = turn._("Return case %(case_no)s: choose one or more reasons, add a note if needed, "
                  "then send.", case_no=case_no)
    if note:
        text = "\n".join((text, turn._("Note: %(note)s", note=note)))
    return answer(ReviewStep.RETURN_REASONS, Reply(text, ticks + controls),
                  data={"case_id": press.case_id, "codes": codes, "note": note})


async def start_return(turn: Turn, press: Press) -> Outcome:
    """Return: offer the active return reasons, none ticked yet (C7)."""
    return await return_menu(turn, press, [], "")


async def toggle_reason(turn: Turn, press: Press) -> Outcome:
    """A return reason button: tick it, or untick it when it was ticked (C7)."""
    if await reason(ReasonKind.RETURN, press.code) is None:
        return await stale_button(turn)
    ticked, note = selection(turn, press.case_id)
    codes = [c for c in ticked if c != press.code] if press.code in ticked else [*ticked,
                                                                                 press.code]
    return await return_menu(turn, press, codes, note)


async def ask_return_note(turn: Turn, press: Press) -> Outcome:
    """Add a note: the next text becomes the note for the agent (C7)."""
    codes, note = selection(turn, press.case_id)
    return answer(ReviewStep.RETURN_REASONS, turn._("Type the note for the agent."),
                  data={"case_id": press.case_id, "codes": codes, "note": note})


NoteAction = Callable[[Turn, Press, str], Awaitable[Outcome]]


def note_step(ask_again: str) -> Callable[[NoteAction], Handler]:
    """A text step about the case of the step: the typed note acted on, or asked for again
    (`ask_again`) when the text is empty."""

    def wrap(action: NoteAction) -> Handler:
        async def handle(turn: Turn) -> Outcome:
            press, note = await step_press(turn), turn.inbound.text.strip()
            if press is None:
                return await unknown_text(turn)
            if not note:
                return answer(turn.step, turn._(ask_again), data=turn.data)
            return await action(turn, press, note)

        handle.__doc__ = action.__doc__
        return handle

    return wrap


@note_step(N_("Type the note for the agent."))
async def return_note_text(turn: Turn, press: Press, note: str) -> Outcome:
    """A text while the return menu is open: keep it as the note and show the menu again."""
    codes, _ = selection(turn, press.case_id)
    return await return_menu(turn, press, codes, note)


async def send_return(turn: Turn, press: Press) -> Outcome:
    """Send return: return the case with the ticked reasons and the note (C7)."""
    codes, note = selection(turn, press.case_id)
    if not codes:
        await open_case(press)
        return answer(turn.step, turn._("Choose at least one return reason before sending."),
                      data=turn.data)
    case = await review.return_case(press.actor, press.case_id, codes, note, turn.ctx.capture)
    names = [r.name_in(turn.locale) for r in await review_reasons.active_reasons(ReasonKind.RETURN)
             if r.code in codes]
    return answer(Step.IDLE, turn._("Case %(case_no)s returned to the agent. Reasons: "
                                    "%(reasons)s", case_no=case.case_no,
                                    reasons=joined(turn, names)))


async def start_reject(turn: Turn, press: Press) -> Outcome:
    """Reject: offer the active rejection reasons as buttons (C6)."""
    case_no = await open_case(press)
    rows = tuple(((r.name_in(turn.locale), f"rv:rj:{press.case_id}:{r.code}"),)
                 for r in await review_reasons.active_reasons(ReasonKind.REJECT))
    return answer(Step.IDLE, Reply(
        turn._("Reject case %(case_no)s: choose the reason.", case_no=case_no),
        (*rows, ((turn._("Back"), f"rv:case:{press.case_id}"),))))


async def reject(turn: Turn, press: Press) -> Outcome:
    """A rejection reason button: reject the case with it (C6)."""
    chosen = await reason(ReasonKind.REJECT, press.code)
    if chosen is None:
        return await stale_button(turn)
    case = await review.reject(press.actor, press.case_id, chosen.code, "", turn.ctx.capture)
    return answer(Step.IDLE, turn._("Case %(case_no)s rejected. Reason: %(reason)s",
                                    case_no=case.case_no, reason=chosen.name_in(turn.locale)))


async def reason(kind: ReasonKind, code: str) -> ReviewReason | None:
    """The active reason of a kind with a code, or None."""
    return next((r for r in await review_reasons.active_reasons(kind) if r.code == code), None)


async def start_hold(turn: Turn, press: Press) -> Outcome:
    """Hold: ask for a short note on why the case waits (C6)."""
    case_no = await open_case(press)
    return answer(ReviewStep.HOLD_NOTE, Reply(
        turn._("Put case %(case_no)s on hold: send a short note on why (for example, the "
               "networked identity check system is down).", case_no=case_no),
        (((turn._("Back"), f"rv:case:{press.case_id}"),),)), data={"case_id": press.case_id})


@note_step(N_("Send the note as text."))
async def hold_note_text(turn: Turn, press: Press, note: str) -> Outcome:
    """The hold note: put the case on hold; operations and IT are alerted (C6, C8)."""
    case = await review.hold(press.actor, press.case_id, note, turn.ctx.capture)
    return answer(Step.IDLE, turn._(
        "Case %(case_no)s is on hold. Operations management and the IT department have been "
        "alerted.", case_no=case.case_no))


async def step_press(turn: Turn) -> Press | None:
    """The case a text step is about, as if its button had been pressed again."""
    case_id = turn.data.get("case_id")
    if not isinstance(case_id, int):
        return None
    return Press(await chat_actor(turn), case_id, "")


def queue_line(turn: Turn, item: review_queue.QueueItem) -> str:
    """One open case of the queue: number, type, agent, time left and who holds it (C8)."""
    minutes = abs(item.seconds_left) // 60
    parts = [item.case_no, local(turn, item.business_type_zh, item.business_type_en),
             item.agent_name,
             turn._("overdue by %(minutes)s min", minutes=minutes) if item.overdue
             else turn._("%(minutes)s min left", minutes=minutes)]
    if item.claimed_by_name:
        parts.append(turn._("claimed by %(name)s", name=item.claimed_by_name))
    if item.awaiting_second_approval:
        parts.append(turn._("awaiting second approval"))
    return " · ".join(parts)


async def queue(turn: Turn) -> Outcome:
    """/queue: the oldest open cases of the reviewer's orgs, each with a Claim button (C8)."""
    actor = await chat_actor(turn)
    require(actor, Permission.CASE_REVIEW)
    items = (await review_queue.review_queue(actor, review_queue.QueueFilters(),
                                             zone=turn.ctx.capture.zone))[:QUEUE_LIMIT]
    if not items:
        return answer(Step.IDLE, turn._("No open cases in your orgs."))
    lines = "\n".join(queue_line(turn, item) for item in items)
    rows = tuple(((turn._("Claim %(case_no)s", case_no=item.case_no),
                   f"rv:claim:{item.case_id}"),) for item in items)
    return answer(Step.IDLE, Reply(
        "\n".join((turn._("Open cases in your orgs, oldest first:"), lines)), rows))


async def return_menu_again(turn: Turn) -> Outcome:
    """The return menu shown again with what is ticked and the note (C7)."""
    press = await step_press(turn)
    if press is None:
        return answer(Step.IDLE)
    codes, note = selection(turn, press.case_id)
    return await return_menu(turn, press, codes, note)


async def hold_note_again(turn: Turn) -> Outcome:
    """The hold note asked again (C6)."""
    press = await step_press(turn)
    if press is None:
        return answer(Step.IDLE)
    return await start_hold(turn, press)


COMMANDS: dict[str, Handler] = {"queue": queue, **duty.COMMANDS}
CALLBACKS: dict[str, Handler] = {
    "rv:claim:": button(claim),
    "rv:case:": button(show),
    "rv:approve:": button(approve),
    "rv:release:": button(release),
    "rv:return:": button(start_return),
    "rv:rt:": button(toggle_reason, with_code=True),
    "rv:rn:": button(ask_return_note),
    "rv:rs:": button(send_return),
    "rv:reject:": button(start_reject),
    "rv:rj:": button(reject, with_code=True),
    "rv:hold:": button(start_hold),
    **duty.CALLBACKS,
}
SIDE_PREFIXES = ("rv:claim:", "rv:return:", "rv:reject:", "rv:hold:", duty.PREFIX)
STEPS: dict[str, Handler] = {
    ReviewStep.RETURN_REASONS: return_note_text,
    ReviewStep.HOLD_NOTE: hold_note_text,
}
PROMPTS: dict[str, Handler] = {
    ReviewStep.RETURN_REASONS: return_menu_again,
    ReviewStep.HOLD_NOTE: hold_note_again,
}


def is_side_press(turn: Turn) -> bool:
    """Claim, Return, Reject or Hold while a menu waits for reasons or a note: they open a
    case or a menu afresh, so they are side actions and the menu stays as it stands; so is
    the On duty or Off duty button."""
    return turn.inbound.callback_data.startswith(SIDE_PREFIXES)
