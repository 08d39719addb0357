"""One turn of a conversation: the inbound event, its session, its language and the outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.flows.context import FlowContext
from bot.flows.messages import Inbound, Reply
from domain.models import ChatSession, Staff
from domain.people.chat_accounts import ChatAccount
from locales import translate


class Step(StrEnum):
    """Steps of the account flow; other flows name theirs in their own module.

    A session's step is stored as its string value in `ChatSession.step`; step values are
    unique across flows so that the router finds the handler from the value alone.
    """

    IDLE = "idle"
    AWAITING_BIND_CODE = "awaiting_bind_code"


@dataclass(frozen=True)
class Turn:
    """One inbound event with its chat account (session, bound staff member and his roles,
    read in one statement) and reply language.

    `released` collects the cases whose customer-data messages the turn released for
    deletion (C10), so the channel deletes them once it has answered; the copies a side
    action makes share it.
    """

    inbound: Inbound
    account: ChatAccount
    locale: str
    ctx: FlowContext
    released: list[int] = field(default_factory=list)

    @property
    def session(self) -> ChatSession:
        """The chat account's flow session."""
        return self.account.session

    @property
    def staff(self) -> Staff | None:
        """The staff member bound to the chat account (org loaded), or None."""
        return self.account.staff

    @property
    def step(self) -> str:
        """The step the session is in (idle when it holds none)."""
        return self.session.step or Step.IDLE

    @property
    def data(self) -> dict[str, Any]:
        """What the current step keeps between turns (for example the draft case id)."""
        return dict(self.session.data or {})

    def _(self, msgid: str, **params: Any) -> str:
        """Translate a msgid into the language of this turn."""
        return translate(self.locale, msgid, **params)


@dataclass(frozen=True)
class Outcome:
    """The step a turn leads to, what that step keeps, and what to answer."""

    step: str
    replies: tuple[Reply, ...]
    data: dict[str, Any] = field(default_factory=dict)


def answer(step: str, *replies: Reply | str, data: dict[str, Any] | None = None) -> Outcome:
    """An outcome from replies given as `Reply` objects or plain texts."""
    return Outcome(step, tuple(r if isinstance(r, Reply) else Reply(r) for r in replies),
                   data or {})
