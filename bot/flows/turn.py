"""One turn of a conversation: the inbound event, its session, its language and the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.flows.messages import Inbound, Reply
from domain.models import ChatSession, Staff
from locales import translate


class Step(StrEnum):
    """Where a chat account stands; stored in `ChatSession.step`."""

    IDLE = "idle"
    AWAITING_BIND_CODE = "awaiting_bind_code"


@dataclass(frozen=True)
class Turn:
    """One inbound event with its chat session, bound staff member and reply language."""

    inbound: Inbound
    session: ChatSession
    staff: Staff | None
    locale: str

    @property
    def step(self) -> Step:
        """The step the session is in (idle when it holds no known step)."""
        try:
            return Step(self.session.step)
        except ValueError:
            return Step.IDLE

    def _(self, msgid: str, **params: Any) -> str:
        """Translate a msgid into the language of this turn."""
        return translate(self.locale, msgid, **params)


@dataclass(frozen=True)
class Outcome:
    """The step a turn leads to and what to answer."""

    step: Step
    replies: tuple[Reply, ...]


def answer(step: Step, *replies: Reply | str) -> Outcome:
    """An outcome from replies given as `Reply` objects or plain texts."""
    return Outcome(step, tuple(r if isinstance(r, Reply) else Reply(r) for r in replies))
