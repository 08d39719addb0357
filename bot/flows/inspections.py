"""The inspection flow: vault inspections counted in chat, and /inspect (V5).

When the second person starts an inspection, the holder gets a message with "Count now"
("insp:count:<id>"); the bot then asks the number of each voucher type in turn, the way a
day-end count does, and hands the figures to `inspections.record_count`, which never shows
the other person's figure or the ledger's. /inspect lists what waits for the actor: counts
he owes, and for supervisors the inspections still to be started, with "Start the
inspection" ("insp:start:<id>") buttons.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from bot.actions import button, translated
from bot.flows.account import stale_button
from bot.flows.common import chat_actor
from bot.flows.counting import CountDialogue
from bot.flows.messages import Reply
from bot.flows.turn import Outcome, Step, Turn, answer
from domain.models import Inspection, InspectionResult, InspectionStatus
from domain.oversight import inspection_reports, inspections
from domain.platform.actors import person_label
from domain.platform.clock import business_time
from domain.platform.errors import DomainError
from domain.platform.intents import Action, SubjectType

Handler = Callable[[Turn], Awaitable[Outcome]]
PREFIX = "insp:"
PRESS = re.compile(r"insp:(count|start):([1-9][0-9]{0,9})", re.ASCII)


class InspectionStep(StrEnum):
    """Steps of an inspection count, stored in `ChatSession.step`."""

    NUMBER = "inspection_number"


def _due(turn: Turn, row: Inspection) -> str:
    return business_time(row.due_at, turn.ctx.capture.zone, turn.locale)


async def inspect_command(turn: Turn) -> Outcome:
    """/inspect: the inspections waiting for the actor, each with its button (V5)."""
    actor = await chat_actor(turn)
    texts: list[str] = []
    rows: list[tuple[tuple[str, str], ...]] = []
    for row in await inspection_reports.awaiting(actor):
        box = row.box.device.asset_tag
        if row.status == InspectionStatus.IN_PROGRESS:
            texts.append(turn._("Inspection #%(id)s of tail box %(box)s, due %(due)s: your "
                                "count is awaited.", id=row.id, box=box, due=_due(turn, row)))
            label, data = button(SubjectType.INSPECTION, Action.COUNT, row.id)
            rows.append(((f"{turn._(label)} #{row.id}", data),))
        else:
            texts.append(turn._("Inspection #%(id)s of tail box %(box)s (holder %(holder)s), "
                                "due %(due)s: not started yet.", id=row.id, box=box,
                                holder=person_label(row.holder), due=_due(turn, row)))
            label, data = button(SubjectType.INSPECTION, Action.START, row.id)
            rows.append(((f"{turn._(label)} #{row.id}", data),))
    if not texts:
        return answer(Step.IDLE, turn._("No vault inspection is waiting for you."))
    return answer(Step.IDLE, Reply("\n\n".join(texts), tuple(rows)))


async def pressed(turn: Turn) -> Outcome:
    """An "insp:" button: start an inspection, or begin counting one (V5)."""
    match = PRESS.fullmatch(turn.inbound.callback_data)
    if match is None:
        return await stale_button(turn)
    actor = await chat_actor(turn)
    inspection_id = int(match[2])
    if match[1] == "start":
        row = await inspections.start_inspection(actor, inspection_id)
        await row.fetch_related("box__device")
        return answer(Step.IDLE, Reply(turn._(
            "Inspection #%(id)s of tail box %(box)s started: the holder has been asked for his "
            "count. Count the box yourself too.", id=row.id, box=row.box.device.asset_tag),
            ((translated(turn._, SubjectType.INSPECTION, Action.COUNT, row.id),),)))
    request = await inspections.count_request(actor, inspection_id)
    intro = turn._("Vault inspection of tail box %(box)s. Count the vouchers of each type in "
                   "the box.", box=request.box_label)
    return await COUNT.begin(turn, intro, request.types, {"inspection": inspection_id,
                                                          "label": request.box_label})


async def _hand_in(turn: Turn, data: dict[str, Any]) -> Outcome:
    """Give the complete count to the domain and say what came of it."""
    try:
        row = await inspections.record_count(await chat_actor(turn), data["inspection"],
                                             data["counted"])
    except DomainError as refusal:
        return answer(Step.IDLE, turn._(refusal.key, **refusal.params))
    return answer(Step.IDLE, _result(turn, row, data["label"]))


def _result(turn: Turn, row: Inspection, box: str) -> str:
    """What the counting person is told: never a figure (V5)."""
    if row.status != InspectionStatus.COMPLETED:
        return turn._("Your count of tail box %(box)s is recorded. The result follows once the "
                      "other person has counted too.", box=box)
    if row.result == InspectionResult.OK:
        return turn._(inspections.COMPLETED_OK, box=box)
    return turn._(inspections.COMPLETED_DISCREPANCY, box=box,
                  incident=row.incident_id)  # type: ignore[attr-defined]


COUNT = CountDialogue(InspectionStep.NUMBER, _hand_in)

COMMANDS: dict[str, Handler] = {"inspect": inspect_command}
CALLBACKS: dict[str, Handler] = {PREFIX: pressed}
STEPS: dict[str, Handler] = {InspectionStep.NUMBER: COUNT.number_text}
PROMPTS: dict[str, Handler] = {InspectionStep.NUMBER: COUNT.number_again}


def is_side_press(turn: Turn) -> bool:
    """Any "insp:" button while a count waits: the count step has none of its own."""
    return True
