"""/duty: a reviewer says in chat whether he is on duty (issue 14, "Fewer, better messages").

New cases, second approvals and the reminders of unclaimed cases go to the reviewers on
duty (`domain.cases.review_duty`); this module only shows the duty with its two buttons and
words the answers. The commands and buttons belong to the review flow's tables.
"""

from __future__ import annotations

from bot.flows.account import stale_button
from bot.flows.common import chat_actor
from bot.flows.messages import Reply
from bot.flows.turn import Outcome, Step, Turn, answer
from domain.cases import review_duty
from domain.platform.actors import Actor
from domain.platform.clock import TIME_OF_DAY, business_time
from domain.platform.errors import N_

PREFIX = "duty:"
CHOICES = {"on": True, "off": False}
ON_DUTY = N_("You are on duty today (%(day)s) since %(since)s, until 24:00 when your duty "
             "ends by itself. New cases of your orgs go to the reviewers on duty.")
OFF_DUTY = N_("You are off duty. New cases of your orgs go to the reviewers on duty; you are "
              "told of them only while no reviewer of their orgs is on duty.")


def duty_reply(turn: Turn, state: review_duty.DutyState) -> Reply:
    """The reviewer's duty in words, with the On duty and Off duty buttons (issue 14)."""
    buttons = (((turn._("On duty"), f"{PREFIX}on"), (turn._("Off duty"), f"{PREFIX}off")),)
    if not state.on_duty or state.since is None:
        return Reply(turn._(OFF_DUTY), buttons)
    zone = turn.ctx.capture.zone
    return Reply(turn._(ON_DUTY, day=business_time(state.since, zone, turn.locale, "yyyy-MM-dd"),
                        since=business_time(state.since, zone, turn.locale, TIME_OF_DAY)),
                 buttons)


async def change(turn: Turn, actor: Actor, on: bool) -> Outcome:
    """Go on or off duty and say where the reviewer stands now (issue 14)."""
    state = await review_duty.set_on_duty(actor, on, turn.ctx.capture.zone,
                                          channel=turn.inbound.channel)
    return answer(Step.IDLE, duty_reply(turn, state))


async def duty(turn: Turn) -> Outcome:
    """/duty: the reviewer's duty with its buttons; /duty on and /duty off change it."""
    actor = await chat_actor(turn)
    choice = turn.inbound.args[0].lower() if turn.inbound.args else ""
    if choice in CHOICES:
        return await change(turn, actor, CHOICES[choice])
    return answer(Step.IDLE, duty_reply(turn, await review_duty.duty_state(actor)))


async def pressed(turn: Turn) -> Outcome:
    """The On duty or Off duty button."""
    choice = turn.inbound.callback_data.removeprefix(PREFIX)
    if choice not in CHOICES:
        return await stale_button(turn)
    return await change(turn, await chat_actor(turn), CHOICES[choice])


COMMANDS = {"duty": duty}
CALLBACKS = {PREFIX: pressed}
