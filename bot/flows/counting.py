"""The count dialogue: the number of each voucher type in a box asked in turn (V3, V5).

Day-end and hand-over counts (the voucher flow) and vault inspection counts (the inspection
flow) ask the same way; each flow names its own step and hands the complete count to its
own domain service. The step's data keeps the codes and names of the types to ask and what
was counted so far, so a side command or /resume of the step asks the same type again.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.flows.turn import Outcome, Turn, answer
from domain.models import VoucherType
from domain.platform.errors import N_

NUMBER = re.compile(r"[0-9]{1,7}", re.ASCII)
ASK = N_("How many %(type)s are in the box?")
HandIn = Callable[[Turn, dict[str, Any]], Awaitable[Outcome]]


@dataclass(frozen=True)
class CountDialogue:
    """The count dialogue of one flow: the step it waits in and what hands the count in."""

    step: str
    hand_in: HandIn

    async def begin(self, turn: Turn, intro: str, types: list[VoucherType],
                    data: dict[str, Any]) -> Outcome:
        """Ask for the first type, keeping the codes and names to ask in the step's data."""
        data = data | {"codes": [t.code for t in types],
                       "names": [t.name_in(turn.locale) for t in types], "counted": {}}
        if not types:
            return await self.hand_in(turn, data)
        return answer(self.step, "\n\n".join((intro, turn._(ASK, type=data["names"][0]))),
                      data=data)

    async def number_text(self, turn: Turn) -> Outcome:
        """The number of the type asked; then the next type, or the count is handed in."""
        data = turn.data
        position = len(data["counted"])
        text = turn.inbound.text.strip()
        if not NUMBER.fullmatch(text):
            return answer(self.step, turn._(
                "Send the number of %(type)s as a whole number, 0 or more.",
                type=data["names"][position]), data=data)
        data |= {"counted": data["counted"] | {data["codes"][position]: int(text)}}
        if len(data["counted"]) < len(data["codes"]):
            return answer(self.step, turn._(ASK, type=data["names"][position + 1]), data=data)
        return await self.hand_in(turn, data)

    async def number_again(self, turn: Turn) -> Outcome:
        """The number of the type being counted, asked again."""
        data = turn.data
        return answer(self.step, turn._(ASK, type=data["names"][len(data["counted"])]),
                      data=data)

    def again(self, turn: Turn, lead: str, data: dict[str, Any]) -> Outcome:
        """Start the count over from the first type, after the lead text."""
        return answer(self.step, "\n\n".join((lead, turn._(ASK, type=data["names"][0]))),
                      data=data | {"counted": {}})
