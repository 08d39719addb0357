"""Out-of-hours special approval in Telegram (issue 3, C2): /special, supervisors' buttons, gate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.flows.special import parse_window
from bot.telegram import TelegramBot
from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.cases.capture_gate import WorkingHours
from domain.models import PhotoKind, Role, SpecialApproval, SpecialApprovalStatus
from domain.platform.clock import utcnow
from locales import translate
from tests.bot_support import NOT_BOUND, bound_agent, dispatching
from tests.chat_driver import Chat, Said, running_bot
from tests.factories import operational, org_tree, person
from tests.fake_telegram import FakeTelegram

AGENT, SUPERVISOR, FAR_SUPERVISOR, STRANGER = 7201, 7202, 7203, 7204
ZONE = ZoneInfo("Asia/Shanghai")
NEVER = WorkingHours(weekdays=frozenset())
OUT_OF_HOURS = ("Cases can be captured only in working hours (%(start)s to %(end)s on working "
                "days). Outside them, ask for a special approval first.")
WINDOW_PROMPT = ("Which time window do you need? Send it as HH:MM-HH:MM for today, or as "
                 "YYYY-MM-DD HH:MM-HH:MM for another day, in business time. A window that "
                 "ends before it starts runs past midnight.")
BAD_WINDOW = ("I could not read this window. Send it as HH:MM-HH:MM, for example 19:00-21:00, "
              "or as YYYY-MM-DD HH:MM-HH:MM.")
REASON = "客户住院，只能晚上到病房办理"


def zh(msgid: str, **params: object) -> str:
    return translate("zh_CN", msgid, **params)


@dataclass
class Branch:
    """A field agent, a supervisor above him and one in another branch, all bound in chat."""

    agent: Chat
    supervisor: Chat
    far_supervisor: Chat


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(database_url: str, fake: FakeTelegram, tmp_path: Path
              ) -> AsyncIterator[TelegramBot]:
    """The bot with no working hours at all: every capture needs a special approval."""
    async with running_bot(fake, tmp_path / "media", hours=NEVER) as telegram:
        yield telegram


@pytest.fixture
async def branch(bot: TelegramBot, fake: FakeTelegram) -> Branch:
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O1")
    await business_types.create_business_type(ops, "DEBIT_CARD", BusinessTypeForm(
        "借记卡开户", "Debit card opening",
        frozenset({PhotoKind.ID_FRONT, PhotoKind.ONSITE_WITH_AGENT})))
    for org, role, no, user in (("outlet_a", Role.FIELD_AGENT, "F1", AGENT),
                                ("sub_a", Role.SUPERVISOR, "S1", SUPERVISOR),
                                ("branch_b", Role.SUPERVISOR, "S2", FAR_SUPERVISOR)):
        member, _ = await person(ids[org], role, no=no, name=f"员工{no}")
        await bound_agent(member, user)
        if role == Role.FIELD_AGENT:
            await operational(member)
    return Branch(Chat(fake, AGENT), Chat(fake, SUPERVISOR), Chat(fake, FAR_SUPERVISOR))


def window_from_now() -> tuple[str, str]:
    """A two-hour window starting this minute: as typed, and as the replies show it."""
    start = utcnow().astimezone(ZONE).replace(second=0, microsecond=0)
    end = start + timedelta(hours=2)
    shown_end = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M}", f"{start:%Y-%m-%d %H:%M}–{shown_end}"


async def request_window(agent: Chat) -> str:
    """/special with a window from now and a reason, sent; returns the window as shown."""
    typed, shown = window_from_now()
    assert (await agent.say("/special")).text == zh(WINDOW_PROMPT)
    await agent.say(typed)
    confirm = await agent.say(REASON)
    assert confirm.text == zh("Send this request for a special approval?\nWindow: %(window)s\n"
                              "Reason: %(reason)s", window=shown, reason=REASON)
    sent = await agent.press(confirm.buttons[zh("Send request")])
    assert sent.text == zh("Your request for %(window)s was sent to your supervisors. I will "
                           "tell you their decision here.", window=shown)
    return shown


async def delivered(bot: TelegramBot, chat: Chat, words: str) -> Said:
    """Run the outbox until a message containing `words` reached a chat; return it."""

    def found() -> Said | None:
        return next((Said.of(c) for c in chat.fake.sent(chat.user)
                     if words in c.params["text"]), None)

    async def arrived() -> bool:
        return found() is not None

    await dispatching(bot, arrived)
    message = found()
    assert message is not None
    return message


async def test_out_of_hours_capture_waits_for_an_approved_special_window(
    bot: TelegramBot, branch: Branch
) -> None:
    agent = branch.agent
    assert (await agent.say("/new")).text == zh(OUT_OF_HOURS, start="08:30", end="17:30")
    assert (await agent.say("/special")).text == zh(WINDOW_PROMPT)
    assert (await agent.say("tonight")).text == f"{zh(BAD_WINDOW)}\n\n{zh(WINDOW_PROMPT)}"
    assert (await agent.say("25:00-26:00")).text.startswith(
        zh("%(value)s is not a valid time of day.", value="25:00"))
    assert (await agent.say("2026-02-30 19:00-20:00")).text.startswith(
        zh("%(value)s is not a real date.", value="2026-02-30"))
    await agent.cancel()
    shown = await request_window(agent)
    request = await SpecialApproval.get()
    assert request.status == SpecialApprovalStatus.REQUESTED and request.reason == REASON
    assert (await agent.say("/new")).text == zh(OUT_OF_HOURS, start="08:30", end="17:30")

    asked = await delivered(bot, branch.supervisor, REASON)
    approved = await branch.supervisor.press(asked.buttons[zh("Approve")])
    assert approved.text == zh("You approved the special approval of %(agent)s for "
                               "%(window)s.", agent="员工F1", window=shown)
    await delivered(bot, agent, zh("Your special approval for %(starts)s to %(ends)s was "
                                   "approved by %(supervisor)s. You may capture cases in that "
                                   "window.", starts=shown[:16], ends=_ends(request),
                                   supervisor="S1 员工S1"))
    types = await agent.say("/new")
    assert types.text == zh("Which business do you capture? Choose the business type.")
    assert list(types.buttons) == ["借记卡开户"]
    assert (await branch.supervisor.press(asked.buttons[zh("Refuse")])).text == zh(
        "This special approval request has already been approved.")


def _ends(request: SpecialApproval) -> str:
    return request.ends_at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


async def test_only_supervisors_of_the_agents_chain_decide_and_a_refusal_keeps_the_gate_shut(
    bot: TelegramBot, branch: Branch, fake: FakeTelegram
) -> None:
    shown = await request_window(branch.agent)
    request = await SpecialApproval.get()
    far = await branch.far_supervisor.press(f"sp:approve:{request.id}")
    assert far.text == zh("No such special approval request.")
    assert (await Chat(fake, STRANGER).press(f"sp:approve:{request.id}")).text == zh(NOT_BOUND)
    for data in ("sp:approve:abc", "sp:maybe:1", "sp:send", "sp:approve:0"):
        assert (await branch.supervisor.press(data)).text == zh("This button is no longer valid.")
    refused = await branch.supervisor.press(f"sp:refuse:{request.id}")
    assert refused.text == zh("You refused the special approval of %(agent)s for %(window)s.",
                              agent="员工F1", window=shown)
    assert (await SpecialApproval.get()).status == SpecialApprovalStatus.REFUSED
    await delivered(bot, branch.agent, "S1 员工S1")
    assert (await branch.agent.say("/new")).text == zh(OUT_OF_HOURS, start="08:30",
                                                         end="17:30")


async def test_the_request_can_be_dropped_before_it_is_sent(bot: TelegramBot,
                                                             branch: Branch) -> None:
    typed, _ = window_from_now()
    await branch.agent.say("/special")
    await branch.agent.say(typed)
    confirm = await branch.agent.say(REASON)
    assert (await branch.agent.press(confirm.buttons[zh("Cancel")])).text == zh(
        "The request was not sent.")
    assert (await branch.agent.press(confirm.buttons[zh("Send request")])).text == zh(
        "This button is no longer valid.")
    await branch.agent.say("/special")
    assert (await branch.agent.cancel()).text == zh("The request was not sent.")
    assert not await SpecialApproval.exists()


def test_typed_windows_are_read_in_business_time() -> None:
    today = date(2026, 11, 23)
    assert parse_window("19:00-21:30", today, ZONE) == (
        datetime(2026, 11, 23, 11, 0, tzinfo=UTC), datetime(2026, 11, 23, 13, 30, tzinfo=UTC))
    assert parse_window("2026-11-24 22:00 - 01:00", today, ZONE) == (
        datetime(2026, 11, 24, 14, 0, tzinfo=UTC), datetime(2026, 11, 24, 17, 0, tzinfo=UTC))
    assert parse_window("7:05~8:00", today, ZONE)[0] == datetime(2026, 11, 22, 23, 5, tzinfo=UTC)
