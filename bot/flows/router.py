"""Route an inbound event to the step handler for its command, button or step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.flows import account
from bot.flows.messages import Inbound, Reply
from bot.flows.turn import Outcome, Step, Turn
from domain.errors import DomainError
from domain.services import binding, chat
from locales import DEFAULT_LOCALE

Handler = Callable[[Turn], Awaitable[Outcome]]

FLOW = "account"
COMMANDS: dict[str, Handler] = {
    "start": account.start,
    "bind": account.bind,
    "whoami": account.whoami,
    "language": account.language,
    "help": account.help_,
}
CALLBACKS: dict[str, Handler] = {
    account.LANGUAGE_CALLBACK + code: account.language_chosen for code in account.LANGUAGE_NAMES
}
STEP_TEXT: dict[Step, Handler] = {
    Step.IDLE: account.unknown_text,
    Step.AWAITING_BIND_CODE: account.bind_code_text,
}


class ChatRouter:
    """Turns inbound events into replies; all state lives in the chat session row."""

    def __init__(self, default_locale: str = DEFAULT_LOCALE) -> None:
        self.default_locale = default_locale

    async def handle(self, inbound: Inbound) -> list[Reply]:
        """Process an inbound event once; a redelivered one gets no replies."""
        if not await chat.claim_update(inbound.channel, inbound.update_id):
            return []
        turn = await self._turn(inbound)
        try:
            outcome = await _handler(turn)(turn)
        except DomainError as refusal:
            return [Reply(turn._(refusal.key, **refusal.params))]
        if outcome.step != turn.step or turn.session.flow != FLOW:
            await chat.save_step(turn.session, FLOW, outcome.step, {})
        return list(outcome.replies)

    async def _turn(self, inbound: Inbound) -> Turn:
        session = await chat.session_for(inbound.channel, inbound.external_user_id,
                                         inbound.chat_id)
        staff = await binding.bound_staff(inbound.channel, inbound.external_user_id)
        locale = chat.preferred_locale(session.locale, staff.locale if staff else None,
                                       inbound.language_code, self.default_locale)
        return Turn(inbound, session, staff, locale)


def _handler(turn: Turn) -> Handler:
    inbound = turn.inbound
    if inbound.callback_data or inbound.callback_id:
        return CALLBACKS.get(inbound.callback_data, account.stale_button)
    if inbound.command:
        return COMMANDS.get(inbound.command, account.unknown_text)
    return STEP_TEXT[turn.step]
