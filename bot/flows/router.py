"""Route an inbound event to the step handler for its command, button or step."""

from __future__ import annotations

from types import ModuleType

from bot.flows import account, capture, devices, inspections, review, special, vouchers
from bot.flows.context import FlowContext
from bot.flows.messages import Inbound, Reply
from bot.flows.turn import Step, Turn
from domain.errors import DomainError
from domain.services import binding, chat
from locales import DEFAULT_LOCALE

FLOWS: dict[str, ModuleType] = {
    "account": account, "capture": capture, "review": review, "special": special,
    "devices": devices, "vouchers": vouchers, "inspections": inspections,
}
COMMANDS: dict[str, account.Handler] = {
    name: handler for flow in FLOWS.values() for name, handler in flow.COMMANDS.items()
}
CALLBACKS: dict[str, account.Handler] = {
    prefix: handler for flow in FLOWS.values() for prefix, handler in flow.CALLBACKS.items()
}
STEPS: dict[str, account.Handler] = {
    step: handler for flow in FLOWS.values() for step, handler in flow.STEPS.items()
}
STEP_FLOW: dict[str, str] = {step: name for name, flow in FLOWS.items() for step in flow.STEPS}


class ChatRouter:
    """Turns inbound events into replies; all state lives in the chat session row."""

    def __init__(self, ctx: FlowContext, default_locale: str = DEFAULT_LOCALE) -> None:
        self.ctx = ctx
        self.default_locale = default_locale

    async def handle(self, inbound: Inbound) -> list[Reply]:
        """Process an inbound event once; a redelivered one gets no replies."""
        if not await chat.claim_update(inbound.channel, inbound.update_id):
            return []
        turn = await self._turn(inbound)
        try:
            outcome = await handler_for(turn)(turn)
        except DomainError as refusal:
            return [Reply(turn._(refusal.key, **refusal.params))]
        if outcome.step != turn.step or outcome.data != turn.data:
            await chat.save_step(turn.session, STEP_FLOW.get(outcome.step, "account"),
                                 outcome.step, outcome.data)
        return list(outcome.replies)

    async def _turn(self, inbound: Inbound) -> Turn:
        session = await chat.session_for(inbound.channel, inbound.external_user_id,
                                         inbound.chat_id)
        staff = await binding.bound_staff(inbound.channel, inbound.external_user_id)
        locale = chat.preferred_locale(session.locale, staff.locale if staff else None,
                                       inbound.language_code, self.default_locale)
        return Turn(inbound, session, staff, locale, self.ctx)


def handler_for(turn: Turn) -> account.Handler:
    """The handler of a button (longest matching prefix), a command, or the current step."""
    inbound = turn.inbound
    if inbound.callback_data or inbound.callback_id:
        prefixes = sorted((p for p in CALLBACKS if inbound.callback_data.startswith(p)),
                          key=len, reverse=True)
        return CALLBACKS[prefixes[0]] if prefixes else account.stale_button
    if inbound.command:
        return COMMANDS.get(inbound.command, account.unknown_text)
    return STEPS.get(turn.step, STEPS[Step.IDLE])
