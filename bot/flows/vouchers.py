"""The voucher flow: /box shows the agent's tail box, counts are answered in chat and
/handover hands a box to another agent (V3).

"Count now" ("vc:count:<count id>") under the day-end request or reminder, and "Count and
confirm" ("vc:handover:<count id>") under a hand-over request, ask the number of each voucher
type in turn; the answer goes to `domain.vouchers.voucher_counts.answer_count`, which compares it
with the ledger without ever showing the ledger figure. /handover <employee number> lets the
holder count his box and name the new holder (`voucher_counts.hand_over`). /box shows no
figure while a count or an inspection waits for the holder (the count is blind) and lists the
cards of closed cases to take back from customers; "I took it back" ("vc:back:<mis-issue
id>") puts such a card back in the box (`mis_issues.take_back`, V6).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from bot.actions import translated
from bot.flows.account import stale_button
from bot.flows.common import chat_actor
from bot.flows.counting import CountDialogue
from bot.flows.messages import Reply
from bot.flows.turn import Outcome, Step, Turn, answer
from domain.models import BoxCount, CountKind, CountStatus
from domain.platform.actors import person_label
from domain.platform.clock import business_time
from domain.platform.errors import N_, DomainError
from domain.platform.intents import Action, SubjectType
from domain.vouchers import mis_issues, tail_boxes, voucher_counts

Handler = Callable[[Turn], Awaitable[Outcome]]
PREFIX = "vc:"
PRESS = re.compile(r"vc:(count|handover|back):([1-9][0-9]{0,9})", re.ASCII)
NOT_HANDED_OVER = N_("The hand-over was not registered.")


class CountStep(StrEnum):
    """Steps of a count, stored in `ChatSession.step`."""

    NUMBER = "count_number"


async def box_command(turn: Turn) -> Outcome:
    """/box: the balance per voucher type of the agent's boxes and any open count (V3)."""
    actor = await chat_actor(turn)
    texts: list[str] = []
    rows: list[tuple[tuple[str, str], ...]] = []
    for box in await voucher_counts.my_boxes(actor):
        figures = ([turn._("The figures are hidden until you have given your count.")]
                   if box.blind else [f"{voucher_type.name_in(turn.locale)}: {n}"
                                      for voucher_type, n in box.balance])
        texts.append("\n".join([turn._("Tail box %(box)s:", box=box.box_label), *figures]))
        for count in box.open_counts:
            texts.append(turn._("The day-end count of %(day)s is waiting for your count.",
                                day=voucher_counts.day_label(count.business_day)))
            rows.append((translated(turn._, SubjectType.BOX_COUNT, Action.COUNT, count.id),))
    for label, count in await voucher_counts.hand_overs_to_confirm(actor):
        texts.append(turn._("Tail box %(box)s is being handed over to you; count it to "
                            "confirm.", box=label))
        rows.append((translated(turn._, SubjectType.BOX_COUNT, Action.TAKE_OVER, count.id),))
    for mis in await mis_issues.cards_to_take_back(actor):
        texts.append(turn._("Take serial %(serial)s of case %(case)s back from the customer "
                            "by %(due)s.", serial=mis.voucher.serial,
                            case=mis.case.case_no or f"#{mis.case.id}" if mis.case else "-",
                            due=business_time(mis.recover_by, turn.ctx.capture.zone,
                                              turn.locale)))
        rows.append((translated(turn._, SubjectType.MIS_ISSUE, Action.TAKE_BACK, mis.id),))
    if not texts:
        return answer(Step.IDLE, turn._("You hold no tail box."))
    return answer(Step.IDLE, Reply("\n\n".join(texts), tuple(rows)))


async def handover_command(turn: Turn) -> Outcome:
    """/handover <employee number>: the holder counts his box for the named new holder (V3)."""
    if len(turn.inbound.args) != 1:
        return answer(Step.IDLE, turn._("Send /handover followed by the employee number of "
                                        "the new holder."))
    actor = await chat_actor(turn)
    box, taker = await voucher_counts.new_holder_by_number(actor, turn.inbound.args[0],
                                                           turn.ctx.capture.zone)
    types = await voucher_counts.types_to_count(await tail_boxes.expected_in_box(box.id))
    intro = turn._("Hand-over of tail box %(box)s to %(taker)s. Count the vouchers of each "
                   "type in the box.", box=box.device.asset_tag,
                   taker=person_label(taker))
    return await COUNT.begin(turn, intro, types, {"box": box.id, "to": taker.id,
                                                  "label": box.device.asset_tag})


async def pressed(turn: Turn) -> Outcome:
    """A "vc:" button: start answering a day-end or hand-over count (V3)."""
    match = PRESS.fullmatch(turn.inbound.callback_data)
    if match is None:
        return await stale_button(turn)
    if match[1] == "back":
        return await _took_back(turn, int(match[2]))
    request = await voucher_counts.count_to_answer(await chat_actor(turn), int(match[2]))
    if request.count.kind == CountKind.HANDOVER:
        intro = turn._("Hand-over of tail box %(box)s from %(giver)s. Count the vouchers of "
                       "each type in the box.", box=request.box_label, giver=request.giver)
    else:
        intro = turn._("Day-end count of tail box %(box)s. Count the vouchers of each type "
                       "in the box.", box=request.box_label)
    return await COUNT.begin(turn, intro, request.types, {"count": request.count.id,
                                                          "label": request.box_label})


async def _took_back(turn: Turn, mis_issue_id: int) -> Outcome:
    """The holder took the card of a closed case back: it goes back into his box (V6)."""
    try:
        mis = await mis_issues.take_back(await chat_actor(turn), mis_issue_id)
    except DomainError as refusal:
        return answer(Step.IDLE, turn._(refusal.key, **refusal.params))
    await mis.fetch_related("voucher")
    return answer(Step.IDLE, turn._("Serial %(serial)s is back in your tail box.",
                                    serial=mis.voucher.serial))


async def _hand_in(turn: Turn, data: dict[str, Any]) -> Outcome:
    """Give the complete count to the domain and say what came of it."""
    actor = await chat_actor(turn)
    if "to" in data:
        try:
            await voucher_counts.hand_over(actor, data["box"], data["to"], data["counted"],
                                           zone=turn.ctx.capture.zone)
        except DomainError as refusal:
            return _refused(turn, refusal, data, NOT_HANDED_OVER)
        return answer(Step.IDLE, turn._(
            "Hand-over of tail box %(box)s registered. It is complete once the new holder "
            "confirms it with his own count.", box=data["label"]))
    try:
        count = await voucher_counts.answer_count(actor, data["count"], data["counted"])
    except DomainError as refusal:
        return answer(Step.IDLE, turn._(refusal.key, **refusal.params))
    return _result(turn, count, data)


def _refused(turn: Turn, refusal: DomainError, data: dict[str, Any], ending: str) -> Outcome:
    """A refused hand-over: count again after a mismatch, else stop with the reason."""
    reason = turn._(refusal.key, **refusal.params)
    if refusal.key == voucher_counts.HANDOVER_MISMATCH:
        return COUNT.again(turn, reason, data)
    return answer(Step.IDLE, "\n\n".join((reason, turn._(ending))))


def _result(turn: Turn, count: BoxCount, data: dict[str, Any]) -> Outcome:
    """What the holder is told after his count (V3): never the ledger figure."""
    if count.status == CountStatus.RETRY:
        return COUNT.again(turn, turn._("The count does not match the ledger. Count the box "
                                        "again carefully."), data)
    if count.status == CountStatus.DISCREPANCY:
        return answer(Step.IDLE, turn._(
            "The count still does not match the ledger. Incident #%(incident)s is open and your "
            "supervisors have been told.", incident=count.incident_id))  # type: ignore[attr-defined]
    if count.kind == CountKind.HANDOVER:
        return answer(Step.IDLE, turn._("Hand-over confirmed: you now hold tail box %(box)s.",
                                        box=data["label"]))
    return answer(Step.IDLE, turn._("Count recorded: tail box %(box)s matches the ledger.",
                                    box=data["label"]))


COUNT = CountDialogue(CountStep.NUMBER, _hand_in)

COMMANDS: dict[str, Handler] = {"box": box_command, "handover": handover_command}
CALLBACKS: dict[str, Handler] = {PREFIX: pressed}
STEPS: dict[str, Handler] = {CountStep.NUMBER: COUNT.number_text}
PROMPTS: dict[str, Handler] = {CountStep.NUMBER: COUNT.number_again}


def is_side_press(turn: Turn) -> bool:
    """Any "vc:" button while a count waits: the count step has none of its own."""
    return True
