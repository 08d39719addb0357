"""The account flow: bind a chat account, say who it is, choose the language and channel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.flows.messages import Reply
from bot.flows.turn import Outcome, Step, Turn, answer
from domain.people import binding, channel_choice
from domain.people.channel_choice import CHANNEL_LABELS
from domain.people.duties import ROLE_LABELS
from domain.platform import chat
from domain.platform.errors import N_
from locales import translate

LANGUAGE_CALLBACK = "lang:"
CHANNEL_CALLBACK = "chan:"
PLEDGE_BUTTON = "pledge:"
Say = Callable[..., str]  # a msgid and its parameters in the reader's language
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}


async def start(turn: Turn) -> Outcome:
    """/start: bind with a deep-link code, greet a bound account, or ask for a code."""
    if turn.inbound.args:
        return await _bind(turn, turn.inbound.args[0])
    if turn.staff is not None:
        me = turn.account.identity()
        return answer(Step.IDLE, turn._("Welcome back, %(name)s. Send /help to see what I can do.",
                                         name=me.name))
    return answer(Step.AWAITING_BIND_CODE, turn._(
        "Welcome to FieldOps. Send the bind code your administrator gave you."))


async def bind(turn: Turn) -> Outcome:
    """/bind <code>: bind this chat account; without a code, ask for one."""
    if turn.inbound.args:
        return await _bind(turn, turn.inbound.args[0])
    return answer(Step.AWAITING_BIND_CODE, turn._("Send your bind code."))


async def bind_code_text(turn: Turn) -> Outcome:
    """A text while a bind code is awaited: take it as the code."""
    return await _bind(turn, turn.inbound.text)


async def _bind(turn: Turn, code: str) -> Outcome:
    inbound = turn.inbound
    staff = await binding.bind_chat(inbound.channel, inbound.external_user_id, inbound.chat_id,
                                    code)
    bound = Reply(turn._(
        "This chat is now bound to %(name)s (%(employee_no)s). Send /help to see what I can do.",
        name=staff.name, employee_no=staff.employee_no))
    return answer(Step.IDLE, bound, *await pledge_at_binding(turn._, staff.id))


async def pledge_at_binding(say: Say, staff_id: int) -> tuple[Reply, ...]:
    """What a newly bound chat is asked, in every channel (a bind code in Telegram, the first
    opening of the browser chat): the confidentiality pledge, while the staff member has not
    confirmed it (C10)."""
    return () if await binding.pledge_confirmed(staff_id) else (pledge_reply(say),)


def pledge_reply(say: Say) -> Reply:
    """The confidentiality pledge with its confirm button (C10); capture waits for it."""
    version = binding.PLEDGE_VERSION
    return Reply(say(binding.PLEDGE, version=version),
                 (((say("I confirm the pledge"), f"{PLEDGE_BUTTON}{version}"),),))


async def pledge_confirmed(turn: Turn) -> Outcome:
    """The pledge's confirm button: recorded with its date and text version (C10)."""
    me = turn.account.identity()
    version = turn.inbound.callback_data.removeprefix(PLEDGE_BUTTON)
    if not await binding.confirm_pledge(me.staff_id, turn.inbound.channel, version):
        return answer(Step.IDLE, turn._("You have already confirmed the confidentiality pledge."))
    return answer(Step.IDLE, turn._("Thank you: your confirmation of the confidentiality pledge "
                                    "is recorded. Send /new to capture a case."))


async def whoami(turn: Turn) -> Outcome:
    """/whoami: the bound staff member, his org and roles."""
    me = turn.account.identity()
    org = me.org_name_en if turn.locale == "en" and me.org_name_en else me.org_name
    roles = ", ".join(turn._(ROLE_LABELS[role]) for role in me.roles)
    return answer(Step.IDLE, turn._(
        "Name: %(name)s\nEmployee number: %(employee_no)s\nOrganisation: %(org)s\n"
        "Roles: %(roles)s", name=me.name, employee_no=me.employee_no, org=org, roles=roles))


async def language(turn: Turn) -> Outcome:
    """/language: offer the supported languages as buttons."""
    buttons = ((*((name, LANGUAGE_CALLBACK + code) for code, name in LANGUAGE_NAMES.items()),),)
    return answer(Step.IDLE, Reply(turn._("Choose your language."), buttons))


async def language_chosen(turn: Turn) -> Outcome:
    """A language button: keep the choice and confirm it in the new language."""
    locale = turn.inbound.callback_data.removeprefix(LANGUAGE_CALLBACK)
    if locale not in LANGUAGE_NAMES:
        return await stale_button(turn)
    await chat.choose_locale(turn.session, locale)
    return answer(Step.IDLE, translate(locale, N_("From now on I answer in %(language)s."),
                                       language=LANGUAGE_NAMES[locale]))


async def channel(turn: Turn) -> Outcome:
    """/channel: the channels this person is bound on as buttons, and where his
    notifications go now (issue 15)."""
    me = turn.account.identity()
    return answer(Step.IDLE, _channel_reply(turn, await channel_choice.channel_choice(
        me.staff_id)))


async def channel_chosen(turn: Turn) -> Outcome:
    """A channel button: notifications go to that channel from now on (issue 15)."""
    me = turn.account.identity()
    wanted = turn.inbound.callback_data.removeprefix(CHANNEL_CALLBACK)
    choice = await channel_choice.choose_own_channel(me.staff_id, wanted)
    return answer(Step.IDLE, turn._("Your notifications now go to %(channel)s.",
                                    channel=turn._(CHANNEL_LABELS[choice.effective])))


def _channel_reply(turn: Turn, choice: channel_choice.ChannelChoice) -> Reply:
    """Where notifications go now, what was chosen, and a button per bound channel."""
    chosen = turn._(CHANNEL_LABELS[choice.chosen]) if choice.chosen else turn._("none")
    text = turn._("Your notifications go to %(channel)s (your choice: %(chosen)s). If the "
                  "channel you choose is no longer bound, they go to Telegram, then WeCom, "
                  "then the browser chat. Choose a channel:",
                  channel=turn._(CHANNEL_LABELS[choice.effective]), chosen=chosen)
    buttons = tuple(((turn._(CHANNEL_LABELS[name]), CHANNEL_CALLBACK + name),)
                    for name in choice.bound)
    return Reply(text, buttons)


async def unknown_text(turn: Turn) -> Outcome:
    """Anything not understood: a short hint."""
    return answer(Step.IDLE, turn._("I did not understand that. Send /help to see what I can do."))


async def stale_button(turn: Turn) -> Outcome:
    """A button whose action no longer exists; the step and what it keeps stay as they are."""
    return answer(turn.step, turn._("This button is no longer valid."), data=turn.data)



Handler = Callable[[Turn], Awaitable[Outcome]]

COMMANDS: dict[str, Handler] = {
    "start": start,
    "bind": bind,
    "whoami": whoami,
    "language": language,
    "channel": channel,
}
CALLBACKS: dict[str, Handler] = {LANGUAGE_CALLBACK: language_chosen,
                                  PLEDGE_BUTTON: pledge_confirmed,
                                  CHANNEL_CALLBACK: channel_chosen}
STEPS: dict[str, Handler] = {
    Step.IDLE: unknown_text,
    Step.AWAITING_BIND_CODE: bind_code_text,
}
