"""The special-approval flow: /special asks for an out-of-hours window, supervisors decide (C2).

The agent gives the window and a reason and confirms; `domain.cases.special` checks the
window, stores the request and tells the supervisors, whose "sp:approve:<id>" and
"sp:refuse:<id>" buttons land here too.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.flows.account import stale_button
from bot.flows.common import chat_actor, typed_date, typed_time
from bot.flows.confirming import ConfirmStep
from bot.flows.turn import Outcome, Step, Turn, answer
from domain.cases import special
from domain.models import SpecialApproval
from domain.platform.clock import DATE_TIME, TIME_OF_DAY, business_date, business_time, utcnow
from domain.platform.errors import N_, DomainError

Handler = Callable[[Turn], Awaitable[Outcome]]
PREFIX = "sp:"
WINDOW = re.compile(r"(?:(\d{4}-\d{1,2}-\d{1,2})\s+)?(\d{1,2}:\d{2})\s*[-–~]\s*(\d{1,2}:\d{2})",
                    re.ASCII)
DECISION = re.compile(r"sp:(approve|refuse):([1-9][0-9]{0,8})", re.ASCII)
WINDOW_PROMPT = N_("Which time window do you need? Send it as HH:MM-HH:MM for today, or as "
                   "YYYY-MM-DD HH:MM-HH:MM for another day, in business time. A window that "
                   "ends before it starts runs past midnight.")
REQUEST_NOT_SENT = N_("The request was not sent.")
REASON_PROMPT = N_("Why do you need to work outside working hours? Write the reason in a few "
                   "words.")


class SpecialStep(StrEnum):
    """Steps of the special-approval flow, stored in `ChatSession.step`."""

    WINDOW = "special_window"
    REASON = "special_reason"
    CONFIRM = "special_confirm"


async def special_command(turn: Turn) -> Outcome:
    """/special: ask a bound agent for the window he needs."""
    await chat_actor(turn)
    return answer(SpecialStep.WINDOW, turn._(WINDOW_PROMPT))


async def window_text(turn: Turn) -> Outcome:
    """The window as typed: parsed in business time, or refused with what is wrong."""
    zone = turn.ctx.capture.zone
    try:
        starts_at, ends_at = parse_window(turn.inbound.text, utcnow().astimezone(zone).date(),
                                          zone)
    except DomainError as refusal:
        return answer(SpecialStep.WINDOW, "\n\n".join(
            (turn._(refusal.key, **refusal.params), turn._(WINDOW_PROMPT))))
    return answer(SpecialStep.REASON, turn._(REASON_PROMPT), data={
        "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()})


async def reason_text(turn: Turn) -> Outcome:
    """The reason: kept, then the whole request is shown for confirmation."""
    reason = " ".join(turn.inbound.text.split())
    if not reason:
        return answer(SpecialStep.REASON, turn._(REASON_PROMPT), data=turn.data)
    if len(reason) > special.MAX_REASON_LENGTH:
        return answer(SpecialStep.REASON, turn._(
            "The reason may be at most %(max)s characters long.", max=special.MAX_REASON_LENGTH),
            data=turn.data)
    data = turn.data | {"reason": reason}
    text = turn._("Send this request for a special approval?\nWindow: %(window)s\n"
                  "Reason: %(reason)s", window=_window_of(turn, data), reason=reason)
    return CONFIRM.ask(turn, text, N_("Send request"), data)


async def pressed(turn: Turn) -> Outcome:
    """An "sp:" button: a supervisor's decision (send and cancel have their own routes)."""
    match = DECISION.fullmatch(turn.inbound.callback_data)
    if match is None:
        return await stale_button(turn)
    return await _decide(turn, int(match[2]), approve=match[1] == "approve")


async def _send(turn: Turn) -> Outcome:
    """Store the request; a window the domain refuses is asked for again (C2)."""
    actor = await chat_actor(turn)
    data = turn.data
    try:
        approval = await special.request_special(
            actor, datetime.fromisoformat(data["starts_at"]),
            datetime.fromisoformat(data["ends_at"]), data["reason"], zone=turn.ctx.capture.zone)
    except DomainError as refusal:
        return answer(SpecialStep.WINDOW, "\n\n".join(
            (turn._(refusal.key, **refusal.params), turn._(WINDOW_PROMPT))))
    return answer(Step.IDLE, turn._(
        "Your request for %(window)s was sent to your supervisors. I will tell you their "
        "decision here.", window=window_label(approval.starts_at, approval.ends_at,
                                             turn.ctx.capture.zone)))


async def _decide(turn: Turn, approval_id: int, *, approve: bool) -> Outcome:
    """A supervisor's decision; the domain checks his scope and refuses a second one (C2)."""
    actor = await chat_actor(turn)
    approval = await special.decide_special(actor, approval_id, approve,
                                            zone=turn.ctx.capture.zone)
    params = {"agent": approval.staff.name, "window": _label(turn, approval)}
    text = (turn._("You approved the special approval of %(agent)s for %(window)s.", **params)
            if approve else
            turn._("You refused the special approval of %(agent)s for %(window)s.", **params))
    return answer(turn.step, text, data=turn.data)


def parse_window(text: str, today: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A typed window "HH:MM-HH:MM" (today) or "YYYY-MM-DD HH:MM-HH:MM", as UTC times (C2)."""
    match = WINDOW.fullmatch(text.strip())
    if match is None:
        raise DomainError(N_("I could not read this window. Send it as HH:MM-HH:MM, for "
                             "example 19:00-21:00, or as YYYY-MM-DD HH:MM-HH:MM."))
    day = typed_date(match[1]) if match[1] else today
    start, end = typed_time(match[2]), typed_time(match[3])
    starts_at = datetime.combine(day, start, tzinfo=zone)
    ends_at = datetime.combine(day + timedelta(days=int(end <= start)), end, tzinfo=zone)
    return starts_at.astimezone(UTC), ends_at.astimezone(UTC)


def window_label(starts_at: datetime, ends_at: datetime, zone: ZoneInfo) -> str:
    """A window in business time, e.g. 2026-11-23 19:00–21:00."""
    same_day = business_date(starts_at, zone) == business_date(ends_at, zone)
    end = business_time(ends_at, zone, pattern=TIME_OF_DAY if same_day else DATE_TIME)
    return f"{business_time(starts_at, zone)}–{end}"


def _window_of(turn: Turn, data: dict[str, str]) -> str:
    return window_label(datetime.fromisoformat(data["starts_at"]),
                        datetime.fromisoformat(data["ends_at"]), turn.ctx.capture.zone)


def _label(turn: Turn, approval: SpecialApproval) -> str:
    return window_label(approval.starts_at, approval.ends_at, turn.ctx.capture.zone)


async def window_again(turn: Turn) -> Outcome:
    """The window asked again."""
    return answer(SpecialStep.WINDOW, turn._(WINDOW_PROMPT), data=turn.data)


async def reason_again(turn: Turn) -> Outcome:
    """The reason asked again, keeping the window."""
    return answer(SpecialStep.REASON, turn._(REASON_PROMPT), data=turn.data)


CONFIRM = ConfirmStep(SpecialStep.CONFIRM, PREFIX, N_("Press Send request or Cancel."),
                      REQUEST_NOT_SENT, _send)

COMMANDS: dict[str, Handler] = {"special": special_command}
CALLBACKS: dict[str, Handler] = {PREFIX: pressed, **CONFIRM.callbacks}
STEPS: dict[str, Handler] = {
    SpecialStep.WINDOW: window_text,
    SpecialStep.REASON: reason_text,
    SpecialStep.CONFIRM: CONFIRM.text,
}
PROMPTS: dict[str, Handler] = {
    SpecialStep.WINDOW: window_again,
    SpecialStep.REASON: reason_again,
    SpecialStep.CONFIRM: CONFIRM.text,
}
