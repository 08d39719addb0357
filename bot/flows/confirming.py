"""The confirm step: what a request will send, shown with a Send and a Cancel button.

The loss report (devices flow) and the request for a special approval (special flow) end
the same way: the whole request is shown, "<prefix>send" hands it to the flow's send
handler, "<prefix>drop" forgets it, text meanwhile points at the buttons, and a press on
either button once the step has passed is stale.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.flows.account import stale_button
from bot.flows.messages import Reply
from bot.flows.turn import Outcome, Step, Turn, answer
from domain.platform.chat_privacy import masked_text
from domain.platform.errors import N_

Handler = Callable[[Turn], Awaitable[Outcome]]
CANCEL = N_("Cancel")


@dataclass(frozen=True)
class ConfirmStep:
    """The confirm step of one flow: its step, its button prefix, its texts and its sender.

    `hint` points at the buttons; `dropped` is said when Cancel is pressed.
    """

    step: str
    prefix: str
    hint: str
    dropped: str
    send: Handler

    def ask(self, turn: Turn, text: str, send_label: str, data: dict[str, Any]) -> Outcome:
        """Show the request with its Send button (labelled `send_label`) and Cancel; an ID
        or mobile number the agent typed into it is shown masked, in any form (C10)."""
        buttons = (((turn._(send_label), f"{self.prefix}send"),
                    (turn._(CANCEL), f"{self.prefix}drop")),)
        return answer(self.step, Reply(masked_text(text), buttons), data=data)

    async def text(self, turn: Turn) -> Outcome:
        """Text while the buttons are shown, or the step asked again: point at them."""
        return answer(self.step, turn._(self.hint), data=turn.data)

    @property
    def callbacks(self) -> dict[str, Handler]:
        """The routes of the Send and Cancel buttons, for the flow's CALLBACKS table."""
        return {f"{self.prefix}send": self.pressed, f"{self.prefix}drop": self.pressed}

    async def pressed(self, turn: Turn) -> Outcome:
        """Send or Cancel: send the request or forget it; stale once the step has passed."""
        if turn.step != self.step:
            return await stale_button(turn)
        if turn.inbound.callback_data == f"{self.prefix}send":
            return await self.send(turn)
        return answer(Step.IDLE, turn._(self.dropped))
