"""/help: the commands of the user's roles, each with a button that runs it (issue 16).

What each role is offered (DESIGN §1; the commands of `bot.flows.router`), besides what
every bound user has (Who am I, Language, Notifications → /whoami, /language, /channel):

| role | buttons (command) | listed only (needs an argument or an open flow) |
|---|---|---|
| field agent | New case (/new), Resume (/resume), My box (/box), | /handover, /cancel |
|  | Report a loss (/loss), Special approval (/special), | |
|  | Inspect (/inspect) | |
| reviewer | Review queue (/queue), Duty (/duty) | |
| supervisor | Inspect (/inspect) | |
| any other role | the common ones; told that his work is in the web admin | |
| not bound | Bind this chat (/bind), Language (/language) | |

A person with several roles gets the union, in the order of the table; a reviewer who is
no field agent sees none of the agent's commands. A command button carries
"cmd:<command>", and the router reads its press as the command typed (`as_typed`): inside an
open flow it is a side command like a typed one, and the command itself checks the role.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bot.flows.messages import Buttons, Inbound, Reply
from bot.flows.turn import Outcome, Step, Turn, answer
from domain.models import Role
from domain.platform.errors import N_

Handler = Callable[[Turn], Awaitable[Outcome]]
PREFIX = "cmd:"
PER_ROW = 2


@dataclass(frozen=True)
class Command:
    """A command as /help lists it: its line, its button label ("" for none: it needs an
    argument or an open flow) and the roles it is offered to (empty: every bound user)."""

    name: str
    line: str
    label: str = ""
    roles: frozenset[Role] = frozenset()


_AGENT, _REVIEWER = frozenset({Role.FIELD_AGENT}), frozenset({Role.REVIEWER})
COMMANDS_BY_ROLE: tuple[Command, ...] = (
    Command("new", N_("/new – capture a new case"), N_("New case"), _AGENT),
    Command("resume", N_("/resume – continue a draft or a returned case"), N_("Resume"),
            _AGENT),
    Command("box", N_("/box – show the vouchers in your tail box and any count to do"),
            N_("My box"), _AGENT),
    Command("loss", N_("/loss – report a lost tablet, vouchers or customer papers"),
            N_("Report a loss"), _AGENT),
    Command("special", N_("/special – ask for a special approval to work outside working "
                          "hours"), N_("Special approval"), _AGENT),
    Command("inspect", N_("/inspect – vault inspections waiting for you"), N_("Inspect"),
            frozenset({Role.FIELD_AGENT, Role.SUPERVISOR})),
    Command("handover", N_("/handover <employee no.> – hand your tail box over to another "
                           "agent"), roles=_AGENT),
    Command("cancel", N_("/cancel – stop what you are doing (a draft, a loss report)"),
            roles=_AGENT),
    Command("queue", N_("/queue – open cases of your orgs"), N_("Review queue"), _REVIEWER),
    Command("duty", N_("/duty – say whether you are on duty"), N_("Duty"), _REVIEWER),
    Command("whoami", N_("/whoami – show who this chat is bound to"), N_("Who am I")),
    Command("language", N_("/language – choose the language"), N_("Language")),
    Command("channel", N_("/channel – choose the chat your notifications go to"),
            N_("Notifications")),
    Command("help", N_("/help – show this help")),
)
UNBOUND: tuple[Command, ...] = (
    Command("bind", N_("/bind <code> – bind this chat to your staff account with the code "
                       "your administrator gave you"), N_("Bind this chat")),
    Command("language", N_("/language – choose the language"), N_("Language")),
    Command("help", N_("/help – show this help")),
)
CHAT_ROLES = frozenset({Role.FIELD_AGENT, Role.REVIEWER, Role.SUPERVISOR})
BUTTON_COMMANDS = frozenset(c.name for c in (*COMMANDS_BY_ROLE, *UNBOUND) if c.label)


def offered(roles: frozenset[Role] | None) -> tuple[Command, ...]:
    """The commands offered to a bound user with these roles, or to an unbound one (None)."""
    if roles is None:
        return UNBOUND
    return tuple(c for c in COMMANDS_BY_ROLE if not c.roles or c.roles & roles)


def command_buttons(turn: Turn, commands: tuple[Command, ...]) -> Buttons:
    """A button per command that has one, `PER_ROW` to a row."""
    pairs = [(turn._(c.label), f"{PREFIX}{c.name}") for c in commands if c.label]
    return tuple(tuple(pairs[i:i + PER_ROW]) for i in range(0, len(pairs), PER_ROW))


async def help_(turn: Turn) -> Outcome:
    """/help: the commands of the user's roles, with a button for each that needs no
    argument; an unbound user is shown how to bind."""
    roles = turn.account.roles if turn.staff is not None else None
    commands = offered(roles)
    lines = [turn._("Commands:"), *(turn._(c.line) for c in commands)]
    if roles is None:
        lines.insert(1, turn._("This chat is not bound to a staff account yet."))
    elif not roles & CHAT_ROLES:
        lines.append(turn._("Your work is in the web admin; here you receive its notices."))
    return answer(Step.IDLE, Reply("\n".join(lines), command_buttons(turn, commands)))


def as_typed(inbound: Inbound) -> Inbound:
    """A press of a /help button as its command typed; any other event as it is."""
    name = inbound.callback_data.removeprefix(PREFIX)
    if not inbound.callback_data.startswith(PREFIX) or name not in BUTTON_COMMANDS:
        return inbound
    return replace(inbound, command=name, args=(), text=f"/{name}", callback_data="",
                   callback_id="")


COMMANDS: dict[str, Handler] = {"help": help_}
