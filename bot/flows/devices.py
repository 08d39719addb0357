"""The device flow: /loss reports a loss step by step (D3); the holder confirms a tablet (D1).

/loss asks what was lost (tablet, vouchers, customer papers), which item (for a tablet, a
button per tablet issued to the agent; otherwise free text), when ("now" or a time in
business time), where, and what happened, then shows the report with Report and Cancel
buttons; `domain.ledgers.incidents.report_loss` checks and stores it and alerts the org
chain. The fourth choice, a voucher handed to a customer by mistake, asks only for the
serial (and the case number, if any) and what happened, and records a mis-issue with
`domain.vouchers.mis_issues.record_mis_issue` (V6). /cancel during /loss is answered by the
capture flow's /cancel.

Every question carries Cancel, and from the second one on Back (to the question before,
the answers given kept); the time of the loss has a Now button (issue 16). Buttons carry
"dev:what:<kind>", "dev:item:<device id>", "dev:back:<step>", "dev:stop:<step>",
"dev:now:<step>" (the step they were shown on: a press on an older question is stale),
"dev:send", "dev:drop" and, under the issue message of the outbox, "dev:confirm:<device
id>".
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.flows.account import stale_button
from bot.flows.common import chat_actor, typed_date, typed_time
from bot.flows.confirming import CANCEL, ConfirmStep
from bot.flows.messages import Reply
from bot.flows.turn import Outcome, Step, Turn, answer
from domain.cases.case_numbers import CASE_NO
from domain.ledgers import devices, incidents
from domain.ledgers.incidents import LossReport
from domain.models import Role
from domain.platform.clock import business_time, utcnow
from domain.platform.errors import N_, DomainError, PermissionDenied
from domain.vouchers import mis_issues

Handler = Callable[[Turn], Awaitable[Outcome]]
PREFIX = "dev:"
PRESS = re.compile(r"dev:(confirm|what|item|back|stop|now):([a-z_]{1,24}|[1-9][0-9]{0,8})",
                   re.ASCII)
WHEN = re.compile(r"(?:(\d{4}-\d{1,2}-\d{1,2})\s+)?(\d{1,2}:\d{2})", re.ASCII)
NOW_WORDS = frozenset({"now", "现在", "刚才"})
MAX_TEXT = 200
MAX_DESCRIPTION = 1000
NOT_SENT = N_("The loss report was not sent.")
MIS_ISSUE = "misissue"
WHAT_LABELS: dict[str, str] = {
    "device": N_("Tablet"), "vouchers": N_("Vouchers"), "papers": N_("Customer papers"),
    MIS_ISSUE: N_("A voucher handed to a customer by mistake"),
}
WORDS = re.compile(r"[\s,，;；、]+")
MIS_ISSUE_NOT_SENT = N_("The mis-issue was not reported.")
WHAT_PROMPT = N_("What was lost?")
ITEM_PROMPTS: dict[str, str] = {
    "vouchers": N_("Which vouchers were lost? Give their serial numbers, or the voucher type "
                   "and how many."),
    "papers": N_("Which customer papers were lost? Say which customer and which papers, "
                 "without the full ID number."),
    MIS_ISSUE: N_("Which serial did the customer get by mistake? Add the case number if there "
                  "is one."),
}
WHEN_PROMPT = N_("When was it lost? Send now, or the time as HH:MM for today or as "
                 "YYYY-MM-DD HH:MM, in business time.")
PLACE_PROMPT = N_("Where was it lost? Describe the place in a few words.")
DESCRIPTION_PROMPT = N_("Describe briefly what happened.")


class LossStep(StrEnum):
    """Steps of the loss report, stored in `ChatSession.step`."""

    WHAT = "loss_what"
    ITEM = "loss_item"
    WHEN = "loss_when"
    PLACE = "loss_place"
    DESCRIPTION = "loss_description"
    CONFIRM = "loss_confirm"


LOSS_STEPS = frozenset(step.value for step in LossStep)


async def loss_command(turn: Turn) -> Outcome:
    """/loss: ask a bound field agent what was lost (D3)."""
    actor = await chat_actor(turn)
    if not actor.has(Role.FIELD_AGENT):
        raise PermissionDenied(N_("Only field agents can report a loss."))
    return answer(LossStep.WHAT, _what_question(turn))


async def what_text(turn: Turn) -> Outcome:
    """Text while the kinds are offered: ask again with the buttons."""
    return answer(LossStep.WHAT, _what_question(turn), data=turn.data)


async def item_text(turn: Turn) -> Outcome:
    """The lost vouchers or papers as typed; for a tablet, point at its buttons."""
    what = turn.data.get("what", "")
    if what == "device":
        return answer(LossStep.ITEM, turn._("Press the button of the lost tablet."),
                      data=turn.data)
    item = " ".join(turn.inbound.text.split())
    if not item or len(item) > MAX_TEXT:
        return _again(turn, LossStep.ITEM, MAX_TEXT, bool(item))
    if what == MIS_ISSUE:
        return _ask(turn, LossStep.DESCRIPTION, turn.data | {"item": item})
    return _ask(turn, LossStep.WHEN, turn.data | {"item": item})


async def when_text(turn: Turn) -> Outcome:
    """The time of the loss: now, HH:MM today or YYYY-MM-DD HH:MM in business time."""
    try:
        occurred_at = parse_when(turn.inbound.text, utcnow(), turn.ctx.capture.zone)
    except DomainError as refusal:
        return _ask(turn, LossStep.WHEN, turn.data, turn._(refusal.key, **refusal.params))
    return _ask(turn, LossStep.PLACE, turn.data | {"when": occurred_at.isoformat()})


async def place_text(turn: Turn) -> Outcome:
    """Where the loss happened, in a few words."""
    place = " ".join(turn.inbound.text.split())
    if not place or len(place) > MAX_TEXT:
        return _again(turn, LossStep.PLACE, MAX_TEXT, bool(place))
    return _ask(turn, LossStep.DESCRIPTION, turn.data | {"place": place})


async def description_text(turn: Turn) -> Outcome:
    """What happened; then the whole report is shown for confirmation."""
    description = " ".join(turn.inbound.text.split())
    if not description or len(description) > MAX_DESCRIPTION:
        return _again(turn, LossStep.DESCRIPTION, MAX_DESCRIPTION, bool(description))
    return _report(turn, turn.data | {"description": description})


def _report(turn: Turn, data: dict[str, str]) -> Outcome:
    """The whole loss report shown for confirmation, with Report, Cancel and Back (D3)."""
    if data["what"] == MIS_ISSUE:
        return _confirm_mis_issue(turn, data)
    what = WHAT_LABELS[data["what"]]
    text = turn._("Report this loss?\nLost: %(what)s\nItem: %(item)s\nWhen: %(when)s\n"
                  "Where: %(place)s\nWhat happened: %(description)s",
                  what=turn._(what), item=data["item"],
                  when=_when_label(turn, data["when"]), place=data["place"],
                  description=data["description"])
    return _with_back(turn, CONFIRM.ask(turn, text, N_("Report the loss"), data))


async def pressed(turn: Turn) -> Outcome:
    """A "dev:" button: receipt confirmation or a step of /loss (send and cancel have their
    own routes)."""
    data = turn.inbound.callback_data
    match = PRESS.fullmatch(data)
    if match is None:
        return await stale_button(turn)
    action, arg = match[1], match[2]
    if action == "confirm" and arg.isdigit():
        return await _confirm(turn, int(arg))
    if action in STEP_BUTTONS and arg == turn.step:
        return await STEP_BUTTONS[action](turn)
    if action == "what" and arg in WHAT_LABELS and turn.step == LossStep.WHAT:
        return await _what_chosen(turn, arg)
    if action == "item" and arg.isdigit() and turn.step == LossStep.ITEM:
        return await _tablet_chosen(turn, int(arg))
    return await stale_button(turn)


async def _confirm(turn: Turn, device_id: int) -> Outcome:
    """The holder confirms that he received the tablet; the step he is in stays (D1)."""
    device = await devices.confirm_receipt(await chat_actor(turn), device_id)
    return answer(turn.step, turn._("Receipt of tablet %(asset_tag)s confirmed.",
                                     asset_tag=device.asset_tag), data=turn.data)


async def _what_chosen(turn: Turn, what: str) -> Outcome:
    """Ask which item: the agent's tablets as buttons, or a typed description."""
    if what != "device":
        return _ask(turn, LossStep.ITEM, {"what": what})
    tablets = await devices.my_devices(await chat_actor(turn))
    if not tablets:
        return answer(Step.IDLE, "\n\n".join((turn._(
            "No tablet is issued to you, so there is none to report lost."), turn._(NOT_SENT))))
    rows = tuple(((f"{tablet.asset_tag} {tablet.model}", f"{PREFIX}item:{tablet.id}"),)
                 for tablet in tablets)
    return answer(LossStep.ITEM, Reply(turn._("Which tablet was lost?"),
                                       (*rows, _controls(turn, LossStep.ITEM))),
                  data={"what": what})


async def _tablet_chosen(turn: Turn, device_id: int) -> Outcome:
    """One of the agent's issued tablets, by its button."""
    if turn.data.get("what") != "device":
        return await stale_button(turn)
    tablets = await devices.my_devices(await chat_actor(turn))
    tablet = next((t for t in tablets if t.id == device_id), None)
    if tablet is None:
        return await stale_button(turn)
    return _ask(turn, LossStep.WHEN, turn.data | {"item": tablet.asset_tag})


def _confirm_mis_issue(turn: Turn, data: dict[str, str]) -> Outcome:
    """The mis-issue as it will be reported, with Report and Cancel buttons (V6)."""
    text = turn._("Report this mis-issue?\nSerial and case: %(item)s\nWhat happened: "
                  "%(description)s", item=data["item"], description=data["description"])
    return _with_back(turn, CONFIRM.ask(turn, text, N_("Report the mis-issue"), data))


async def _send_mis_issue(turn: Turn) -> Outcome:
    """Record the serial of the agent's box handed out by mistake; a refusal ends the dialog
    with the reason (V6)."""
    item = turn.data["item"]
    case_numbers = CASE_NO.findall(item)
    serials = [word for word in WORDS.split(CASE_NO.sub(" ", item)) if word]
    try:
        if len(serials) != 1 or len(case_numbers) > 1:
            raise DomainError(N_("Give exactly one serial, the voucher the customer got by "
                                 "mistake, and at most one case number."))
        mis_issue = await mis_issues.record_mis_issue(
            await chat_actor(turn), serials[0], turn.data["description"],
            case_no=case_numbers[0] if case_numbers else "", zone=turn.ctx.capture.zone,
            recovery_days=turn.ctx.capture.mis_issue_recovery_days)
    except DomainError as refusal:
        return answer(Step.IDLE, "\n\n".join((turn._(refusal.key, **refusal.params),
                                              turn._(MIS_ISSUE_NOT_SENT))))
    due = business_time(mis_issue.recover_by, turn.ctx.capture.zone, turn.locale)
    return answer(Step.IDLE, turn._(
        "Mis-issue of serial %(serial)s recorded as incident #%(incident)s. Recover the "
        "voucher from the customer by %(due)s and hand it to operations management, who "
        "have been told.", serial=serials[0],
        incident=mis_issue.incident_id, due=due))  # type: ignore[attr-defined]


async def _send(turn: Turn) -> Outcome:
    """Report the loss; a refusal ends the dialog with the reason (D3)."""
    data = turn.data
    if data["what"] == MIS_ISSUE:
        return await _send_mis_issue(turn)
    report = LossReport(what=data["what"], item=data["item"],
                        occurred_at=datetime.fromisoformat(data["when"]),
                        place=data["place"], description=data["description"])
    try:
        incident = await incidents.report_loss(await chat_actor(turn), report,
                                               rules=turn.ctx.incidents,
                                               zone=turn.ctx.capture.zone)
    except DomainError as refusal:
        return answer(Step.IDLE, "\n\n".join((turn._(refusal.key, **refusal.params),
                                              turn._(NOT_SENT))))
    told = turn._("Loss reported as incident #%(incident)s. Your supervisors, the IT "
                  "department and operations management have been told.", incident=incident.id)
    if data["what"] != "device":
        return answer(Step.IDLE, told)
    return answer(Step.IDLE, told + "\n" + turn._(
        "The tablet is marked lost. You cannot capture cases until an administrator closes "
        "the incident or issues you another tablet."))


def parse_when(text: str, now: datetime, zone: ZoneInfo) -> datetime:
    """A typed time of loss as UTC: now, HH:MM today or YYYY-MM-DD HH:MM in business time."""
    clean = text.strip().lower()
    if clean in NOW_WORDS:
        return now.astimezone(UTC)
    match = WHEN.fullmatch(clean)
    if match is None:
        raise DomainError(N_("I could not read this time. Send now, HH:MM for today or "
                             "YYYY-MM-DD HH:MM."))
    day = typed_date(match[1]) if match[1] else now.astimezone(zone).date()
    moment = datetime.combine(day, typed_time(match[2]), tzinfo=zone)
    if moment > now + timedelta(minutes=1):
        raise DomainError(N_("The time of the loss cannot be in the future."))
    return moment.astimezone(UTC)


def _what_question(turn: Turn) -> Reply:
    """The question what was lost, one button per kind, and Cancel (nothing before it to go
    back to)."""
    kinds = tuple(((turn._(label), f"{PREFIX}what:{what}"),) for what, label in WHAT_LABELS.items())
    return Reply(turn._(WHAT_PROMPT), (*kinds, _controls(turn, LossStep.WHAT)))


def _again(turn: Turn, step: LossStep, limit: int, too_long: bool) -> Outcome:
    """Ask for the same answer again, saying it was too long when it was."""
    lead = [turn._("Please keep it to at most %(max)s characters.", max=limit)] if too_long \
        else []
    return _ask(turn, step, turn.data, *lead)


def _ask(turn: Turn, step: LossStep, data: dict[str, str], *lead: str) -> Outcome:
    """A typed answer's question after any lead texts, with Now for the time of the loss and
    Back and Cancel (issue 16)."""
    prompt = ITEM_PROMPTS[data["what"]] if step == LossStep.ITEM else TYPED_PROMPTS[step]
    now = (((turn._("Now"), f"{PREFIX}now:{step}"),),) if step == LossStep.WHEN else ()
    return answer(step, Reply("\n\n".join((*lead, turn._(prompt))),
                              (*now, _controls(turn, step))), data=data)


def _controls(turn: Turn, step: LossStep) -> tuple[tuple[str, str], ...]:
    """Back (from the second question on) and Cancel, for the question of `step`."""
    back = ((turn._("« Back"), f"{PREFIX}back:{step}"),) if step != LossStep.WHAT else ()
    return (*back, (turn._(CANCEL), f"{PREFIX}stop:{step}"))


def _with_back(turn: Turn, outcome: Outcome) -> Outcome:
    """The confirmation with a Back button under Report and Cancel."""
    reply = outcome.replies[0]
    back = ((turn._("« Back"), f"{PREFIX}back:{LossStep.CONFIRM}"),)
    return replace(outcome, replies=(Reply(reply.text, (*reply.buttons, back)),))


async def _now(turn: Turn) -> Outcome:
    """Now: the loss happened at this moment (D3)."""
    return _ask(turn, LossStep.PLACE, turn.data | {"when": utcnow().isoformat()})


async def _stop(turn: Turn) -> Outcome:
    """Cancel: nothing of the report is sent."""
    return answer(Step.IDLE, turn._(not_sent(turn.data)))


async def _back(turn: Turn) -> Outcome:
    """Back: the question before the open one, the answers given kept."""
    data, step = turn.data, LossStep(turn.step)
    if step == LossStep.CONFIRM:
        return _ask(turn, LossStep.DESCRIPTION, data)
    if step == LossStep.DESCRIPTION and data.get("what") == MIS_ISSUE:
        return await _item_again(turn)
    if step == LossStep.ITEM:
        return answer(LossStep.WHAT, _what_question(turn), data=data)
    before = {LossStep.WHEN: LossStep.ITEM, LossStep.PLACE: LossStep.WHEN,
              LossStep.DESCRIPTION: LossStep.PLACE}[step]
    if before == LossStep.ITEM:
        return await _item_again(turn)
    return _ask(turn, before, data)


def not_sent(data: dict[str, str]) -> str:
    """What is said when the report is dropped: of a mis-issue, or of a loss."""
    return MIS_ISSUE_NOT_SENT if data.get("what") == MIS_ISSUE else NOT_SENT


def _when_label(turn: Turn, when: str) -> str:
    return business_time(datetime.fromisoformat(when), turn.ctx.capture.zone, turn.locale)


CONFIRM = ConfirmStep(LossStep.CONFIRM, PREFIX, N_("Press Report the loss or Cancel."),
                      NOT_SENT, _send)
TYPED_PROMPTS: dict[str, str] = {LossStep.WHEN: WHEN_PROMPT, LossStep.PLACE: PLACE_PROMPT,
                                 LossStep.DESCRIPTION: DESCRIPTION_PROMPT}
STEP_BUTTONS: dict[str, Handler] = {"back": _back, "stop": _stop, "now": _now}

COMMANDS: dict[str, Handler] = {"loss": loss_command}
CALLBACKS: dict[str, Handler] = {PREFIX: pressed, **CONFIRM.callbacks}
STEPS: dict[str, Handler] = {
    LossStep.WHAT: what_text,
    LossStep.ITEM: item_text,
    LossStep.WHEN: when_text,
    LossStep.PLACE: place_text,
    LossStep.DESCRIPTION: description_text,
    LossStep.CONFIRM: CONFIRM.text,
}


async def _item_again(turn: Turn) -> Outcome:
    """Which item was lost, asked again (the agent's tablets as buttons again), the answers
    given kept."""
    what = turn.data.get("what", "")
    if what == "device":
        asked = await _what_chosen(turn, what)
        return replace(asked, data=turn.data | asked.data) if asked.step == LossStep.ITEM \
            else asked
    return _ask(turn, LossStep.ITEM, turn.data)


def _asked(step: LossStep) -> Handler:
    """A step that re-asks its question with its buttons, keeping what was answered."""

    async def again(turn: Turn) -> Outcome:
        return _ask(turn, step, turn.data)

    return again


PROMPTS: dict[str, Handler] = {
    LossStep.WHAT: what_text,
    LossStep.ITEM: _item_again,
    LossStep.WHEN: _asked(LossStep.WHEN),
    LossStep.PLACE: _asked(LossStep.PLACE),
    LossStep.DESCRIPTION: _asked(LossStep.DESCRIPTION),
    LossStep.CONFIRM: CONFIRM.text,
}
