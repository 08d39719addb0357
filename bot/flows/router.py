"""Route an inbound event to the step handler for its command, button or step.

Each update is handled in one database transaction: its processed mark
(`chat.claim_update`), everything the handler's services write (their own transactions
nest as savepoints), and the step the chat moves to commit together or not at all. A
handler that raises, or a process that dies mid-update, leaves neither a mark nor half an
effect, and the same update delivered again is then handled, once. Telegram delivers again
an update whose webhook delivery was not answered, and in polling mode one not yet confirmed:
`bot.telegram.polling` confirms an update only after it was handled (Telegram itself is the
durable inbox). On SQLite the transaction holds the database for the length of one update,
so a photo or file that the open step reads (a flow's `DOWNLOADS`) is downloaded and checked
as a photo (in the process pool) before it opens, and the step is handed the verdict.

A command sent while a flow waits for an answer (a side command: /box, /help, /whoami…),
a button of another flow pressed then, or a side press of the open flow (its
`is_side_press`: a button that would start it afresh, such as "New case" inside /new, or
that acts beside its steps) is answered and the open step is asked again: a flow ends only
when it finishes or when /cancel is confirmed (asked only once the flow holds an answer). A
command or button that would start another flow, or the open one afresh, is refused until
then, and what its handler wrote is undone.

The flows' tables are merged once, at start-up (`Routes.of`): a command, button prefix or
step that two flows claim, a button prefix lying inside another flow's, or a step that
cannot be asked again stops the process with a `RouteClash` naming both flows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, TypeVar

from tortoise.transactions import in_transaction

from bot.flows import account, capture, devices, inspections, menu, review, scan, special, vouchers
from bot.flows.context import FlowContext
from bot.flows.messages import Inbound, Reply
from bot.flows.turn import Outcome, Step, Turn, answer
from domain.people import binding, chat_accounts
from domain.platform import chat, chat_limits
from domain.platform.chat_limits import Admission, InboundLimit
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError
from domain.platform.images import PhotoInfo, inspect_off_loop
from locales import DEFAULT_LOCALE, translate

V = TypeVar("V")
CANCEL = "cancel"
CANCEL_PREFIX = "chat:cancel:"
FINISH_FIRST = N_("Finish this step first, or send /cancel to stop it.")
STOPPED = N_("Stopped. Nothing of it was recorded.")
STOP_QUESTION = N_("Stop what you are doing?")
CANCEL_QUESTIONS: dict[str, str] = {
    "capture": N_("Cancel the case draft?"),
    "devices": N_("Cancel the loss report?"),
    "special": N_("Cancel the request for a special approval?"),
    "vouchers": N_("Stop the count? You can start it again from its button."),
    "inspections": N_("Stop the count? You can start it again from its button."),
    "review": N_("Stop deciding this case? It stays claimed by you."),
}


class RouteClash(Exception):
    """Two flows claim the same command, button prefix or step (or one flow's button prefix
    lies inside another's), or a step cannot be asked again."""


def merged(kind: str, tables: Iterable[tuple[str, Mapping[str, V]]]) -> dict[str, V]:
    """One routing table from the flows' tables; a key two of them claim is refused."""
    table: dict[str, V] = {}
    owners: dict[str, str] = {}
    for owner, entries in tables:
        for key, value in entries.items():
            if key in table:
                raise RouteClash(f"{kind} {key!r} is claimed by both {owners[key]} and {owner}")
            table[key], owners[key] = value, owner
    return table


def refuse_nested(prefixes: Iterable[tuple[str, Mapping[str, V]]]) -> None:
    """Refuse a button prefix of one flow that starts with another flow's: the longer one
    would take over part of the other flow's buttons."""
    owned = [(prefix, owner) for owner, entries in prefixes for prefix in entries]
    for prefix, owner in owned:
        for inner, inner_owner in owned:
            if inner_owner != owner and inner != prefix and inner.startswith(prefix):
                raise RouteClash(f"button prefix {inner!r} of {inner_owner} lies inside "
                                 f"{prefix!r} of {owner}")


@dataclass(frozen=True)
class Routes:
    """The flows' tables merged: each command, button prefix and step has one handler and
    one flow it belongs to."""

    commands: dict[str, account.Handler]
    callbacks: dict[str, account.Handler]
    steps: dict[str, account.Handler]
    prompts: dict[str, account.Handler]
    step_flow: dict[str, str]
    callback_flow: dict[str, str]
    side_presses: dict[str, Callable[[Turn], bool]]
    downloads: frozenset[str]

    @classmethod
    def of(cls, flows: Mapping[str, Any], unprompted: Collection[str] = (),
           own_buttons: Mapping[str, account.Handler] | None = None) -> Routes:
        """Merge the COMMANDS, CALLBACKS, STEPS and PROMPTS of named flows (and the router's
        own buttons, which belong to whatever flow is open); a name two of them claim, a
        nested button prefix, or a step (other than `unprompted`) that cannot be asked again
        is refused with a RouteClash naming them."""

        def tables(attribute: str) -> list[tuple[str, Mapping[str, account.Handler]]]:
            return [(name, getattr(flow, attribute, {})) for name, flow in flows.items()]

        buttons = [*tables("CALLBACKS"), ("the router", own_buttons or {})]
        refuse_nested(buttons)
        routes = cls(merged("command", tables("COMMANDS")), merged("button prefix", buttons),
                     merged("step", tables("STEPS")), merged("prompt", tables("PROMPTS")),
                     {step: name for name, table in tables("STEPS") for step in table},
                     {prefix: name for name, table in tables("CALLBACKS") for prefix in table},
                     {name: flow.is_side_press for name, flow in flows.items()
                      if hasattr(flow, "is_side_press")},
                     frozenset(step for flow in flows.values()
                               for step in getattr(flow, "DOWNLOADS", ())))
        if unasked := routes.steps.keys() - routes.prompts.keys() - set(unprompted):
            raise RouteClash(f"steps without a prompt to ask them again: {sorted(unasked)}")
        return routes


async def cancel_pressed(turn: Turn) -> Outcome:
    """Yes or No under the /cancel question: end the open flow, or ask its step again."""
    choice, _, step = turn.inbound.callback_data.removeprefix(CANCEL_PREFIX).partition(":")
    if step != turn.step or step not in PROMPTS or choice not in ("yes", "no"):
        return await account.stale_button(turn)
    if choice == "no":
        return await PROMPTS[step](turn)
    return await end_flow(turn)


async def end_flow(turn: Turn) -> Outcome:
    """End the open flow: its own /cancel where it has one, else just stop."""
    if STEP_FLOW[turn.step] in FLOW_CANCELS:
        return await COMMANDS[CANCEL](turn)
    return answer(Step.IDLE, turn._(STOPPED))


FLOWS: dict[str, ModuleType] = {
    "account": account, "capture": capture, "review": review, "special": special,
    "devices": devices, "vouchers": vouchers, "inspections": inspections,
    "scan": scan, "menu": menu,
}
# The flows whose steps /cancel (capture.cancel) knows how to end; the others just stop.
FLOW_CANCELS = frozenset({"capture", "devices", "special"})
# Built once at start-up: a clash between two flows stops the process before it serves.
# Every step of a flow can be asked again; the account flow's bind-code step is left by
# any command (its /start and /bind answer it).
ROUTES = Routes.of(FLOWS, unprompted=account.STEPS.keys(),
                   own_buttons={CANCEL_PREFIX: cancel_pressed})
COMMANDS, CALLBACKS, STEPS = ROUTES.commands, ROUTES.callbacks, ROUTES.steps
PROMPTS, STEP_FLOW, CALLBACK_FLOW = ROUTES.prompts, ROUTES.step_flow, ROUTES.callback_flow


@dataclass(frozen=True)
class Handled:
    """The replies to an update, and whether customer-data messages of its chat became due
    for deletion (C10)."""

    replies: list[Reply]
    released: bool = False


class ChatRouter:
    """Turns inbound events into replies; all state lives in the chat session row."""

    def __init__(self, ctx: FlowContext, default_locale: str = DEFAULT_LOCALE) -> None:
        self.ctx = ctx
        self.default_locale = default_locale

    async def handle(self, inbound: Inbound) -> list[Reply]:
        """Process an inbound event once, in one transaction; a redelivered one gets no
        replies."""
        return (await self.handle_update(inbound)).replies

    async def over_limit(self, inbound: Inbound, limit: InboundLimit | None
                         ) -> list[Reply] | None:
        """None while the sender is within the inbound limit (issue 13); past it the update
        is marked processed unhandled and the replies to send are returned: "slow down" for
        the first one, nothing for the rest."""
        if limit is None:
            return None
        admission = await chat_limits.admit(inbound.channel, inbound.external_user_id, limit,
                                            utcnow())
        if admission is Admission.HANDLE:
            return None
        if await chat.claim_update(inbound.channel, inbound.identity) \
                and admission is Admission.WARN:
            return [Reply(translate(await self.locale_of(inbound), chat_limits.SLOW_DOWN))]
        return []

    async def locale_of(self, inbound: Inbound) -> str:
        """The language the chat user reads, as the flows would answer him."""
        session = await chat.session_for(inbound.channel, inbound.external_user_id,
                                         inbound.chat_id)
        staff = await binding.bound_staff(inbound.channel, inbound.external_user_id)
        return chat.preferred_locale(session.locale, staff.locale if staff else None,
                                     inbound.language_code, self.default_locale)

    async def handle_update(self, inbound: Inbound) -> Handled:
        """`handle`, telling also whether customer-data messages of the chat became due for
        deletion (C10). Writes only what changed: the step when it moved, the client's
        language code when it is new (issue 14)."""
        inbound = await self._prefetched(inbound)
        async with in_transaction():
            if not await chat.claim_update(inbound.channel, inbound.identity):
                return Handled([])
            turn = await self._turn(inbound)
            outcome = await outcome_of(turn)
            if outcome.step != turn.step or outcome.data != turn.data:
                await chat.save_step(turn.session, STEP_FLOW.get(outcome.step, "account"),
                                     outcome.step, outcome.data)
            code = inbound.language_code
            if code and (turn.staff is None or code[:16] != turn.account.language_code):
                await binding.note_language_code(inbound.channel, inbound.external_user_id,
                                                 code)
        return Handled(list(outcome.replies), bool(turn.released))

    async def _prefetched(self, inbound: Inbound) -> Inbound:
        """The event with its attachment downloaded and checked as a photo before the
        update's transaction opens (on SQLite it holds the database, and other chats would
        wait for the check, issue 14), when the chat stands on a step that reads one and the
        announced size is within the photo limit (a larger one is refused unread)."""
        upload = inbound.attachment
        limits = self.ctx.capture.photo_limits
        if upload is None or (upload.size is not None and upload.size > limits.max_bytes):
            return inbound
        session = await chat.session_for(inbound.channel, inbound.external_user_id,
                                         inbound.chat_id)
        if session.step not in ROUTES.downloads:
            return inbound
        upload = await upload.prefetched()
        try:
            content = await upload.fetch()
        except Exception:  # the download failed: the flow reads the failure and says so
            return replace(inbound, attachment=upload)
        try:
            verdict: PhotoInfo | DomainError = await inspect_off_loop(
                content, limits, self.ctx.capture.photo_checks)
        except DomainError as refusal:
            verdict = refusal
        return replace(inbound, attachment=replace(upload, checked=verdict))

    async def _turn(self, inbound: Inbound) -> Turn:
        # session, binding, staff, org and roles in one statement, read under the chat's
        # lock: a concurrent update of the chat waits (issue 14)
        account = await chat_accounts.chat_account(inbound.channel, inbound.external_user_id,
                                                   inbound.chat_id)
        staff = account.staff
        locale = chat.preferred_locale(account.session.locale, staff.locale if staff else None,
                                       inbound.language_code, self.default_locale)
        # a /help button runs its command as if typed (issue 16)
        return Turn(menu.as_typed(inbound), account, locale, self.ctx)


async def outcome_of(turn: Turn) -> Outcome:
    """Run the handler of the turn; a refusal keeps the step and says why."""
    if is_aside(turn):
        if turn.inbound.command == CANCEL:
            return ask_to_cancel(turn) if turn.data else await end_flow(turn)
        return await side_action(turn)
    try:
        return await handler_for(turn)(turn)
    except DomainError as refusal:
        return answer(turn.step, turn._(refusal.key, **refusal.params), data=turn.data)


class FlowStarted(Exception):
    """A side action would start a flow (another one, or the open one afresh)."""


async def side_action(turn: Turn) -> Outcome:
    """A side command or button while a flow waits: answered, then the open step asked
    again; one that would start a flow, or the open one afresh, is refused and what its
    handler wrote is undone (a savepoint), so the open flow keeps its place."""
    try:
        async with in_transaction():
            try:
                outcome = await handler_for(turn)(turn)
            except DomainError as refusal:
                outcome = answer(Step.IDLE, turn._(refusal.key, **refusal.params))
            if outcome.step != Step.IDLE and (outcome.step, outcome.data) != (turn.step,
                                                                              turn.data):
                raise FlowStarted
    except FlowStarted:
        return await back_to_open_step(turn, (Reply(turn._(FINISH_FIRST)),))
    if outcome.step == Step.IDLE:
        return await back_to_open_step(turn, outcome.replies)
    return outcome


def is_aside(turn: Turn) -> bool:
    """A command, a button of another flow, or a side press of the open flow (one that
    would start it afresh or acts beside its steps), while a flow waits for an answer."""
    if turn.step not in PROMPTS:
        return False
    if turn.inbound.command:
        return True
    prefix = button_prefix(turn.inbound)
    if prefix is None:
        return False
    flow = STEP_FLOW[turn.step]
    if CALLBACK_FLOW.get(prefix, flow) != flow:
        return True
    side_press = ROUTES.side_presses.get(flow)
    return side_press is not None and side_press(turn)


async def back_to_open_step(turn: Turn, said: tuple[Reply, ...]) -> Outcome:
    """What a side action said, then the open step asked again, in the language chosen
    meanwhile if it was."""
    locale = chat.preferred_locale(turn.session.locale, None, None, turn.locale)
    again = await PROMPTS[turn.step](replace(turn, locale=locale))
    return Outcome(again.step, (*said, *again.replies), again.data)


def ask_to_cancel(turn: Turn) -> Outcome:
    """/cancel inside a flow that holds answers: ask before they are thrown away; the step
    stays open (a flow that holds nothing yet ends at once)."""
    question = CANCEL_QUESTIONS.get(STEP_FLOW[turn.step], STOP_QUESTION)
    buttons = (((turn._("Yes"), f"{CANCEL_PREFIX}yes:{turn.step}"),
                (turn._("No"), f"{CANCEL_PREFIX}no:{turn.step}")),)
    return answer(turn.step, Reply(turn._(question), buttons), data=turn.data)


def button_prefix(inbound: Inbound) -> str | None:
    """The longest button prefix the data of a press starts with (None for no button)."""
    if not (inbound.callback_data or inbound.callback_id):
        return None
    return max((p for p in CALLBACKS if inbound.callback_data.startswith(p)), key=len,
               default=None)


def handler_for(turn: Turn) -> account.Handler:
    """The handler of a button (longest matching prefix), a command, or the current step."""
    inbound = turn.inbound
    if inbound.callback_data or inbound.callback_id:
        prefix = button_prefix(inbound)
        return CALLBACKS[prefix] if prefix else account.stale_button
    if inbound.command:
        return COMMANDS.get(inbound.command, account.unknown_text)
    if turn.step == Step.IDLE and scan.label_code(inbound.text):
        return scan.scanned_address  # a scanned label: no step waits for this text
    return STEPS.get(turn.step, STEPS[Step.IDLE])
