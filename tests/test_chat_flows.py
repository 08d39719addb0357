"""The chat router (issue 11): side commands return to the open step, /cancel asks first,
clashing routes are refused, an update is handled in one transaction, and updates are told
apart by what they carry, not by a reusable update id."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.flows import Inbound, account, router
from bot.flows.router import CANCEL_PREFIX, RouteClash
from bot.flows.turn import Outcome, Step, Turn, answer
from bot.telegram import TelegramBot
from bot.webchat import WebChat
from domain.models import Case, CaseStatus, ChatBinding, ChatSession, ProcessedUpdate, Staff
from domain.platform import chat
from tests.chat_driver import Chat, running_bot
from tests.chat_support import ALL_HOURS, BrowserChat, RouterChat, bind, button, chat_router
from tests.factories import flow_context
from tests.fake_telegram import FakeTelegram
from tests.review_support import Desk, build_desk, submitted_case

AGENT = "tgF001"
NAME_PROMPT = "Enter the customer's full name as printed on the ID card."
ID_PROMPT = "Enter the customer's 18-character resident ID number."
TYPE = "Debit card opening"
FINISH_FIRST = "Finish this step first, or send /cancel to stop it."


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Desk:
    return await build_desk(tmp_path)


@pytest.fixture
async def agent(desk: Desk, tmp_path: Path) -> RouterChat:
    """The desk's field agent in chat, answered in English."""
    chat_ = RouterChat(chat_router(tmp_path, "en"), AGENT)
    await chat_.press("lang:en")
    return chat_


async def at_name_step(agent: RouterChat) -> None:
    """/new and the business type chosen: the customer's name is asked."""
    types = await agent.say("/new")
    [asked] = await agent.press(button(types, TYPE))
    assert NAME_PROMPT in asked.text


async def step_of(user: str) -> str:
    return (await ChatSession.get(channel="telegram", external_user_id=user)).step


async def test_side_commands_answer_and_the_open_step_is_asked_again(agent: RouterChat
                                                                     ) -> None:
    await at_name_step(agent)
    box, again = await agent.say("/box")
    assert box.text == "You hold no tail box." and NAME_PROMPT in again.text
    [asked] = await agent.say("张三")
    assert ID_PROMPT in asked.text
    helped, again = await agent.say("/help")
    assert helped.text.startswith("Commands:") and ID_PROMPT in again.text
    me, again = await agent.say("/whoami")
    assert me.text.startswith("Name: ") and ID_PROMPT in again.text
    [asked] = await agent.say("11010519491231002X")
    assert asked.text == "Enter the customer's own mobile number."


async def test_a_button_starting_another_flow_inside_one_leaves_nothing_behind(
    desk: Desk, tmp_path: Path
) -> None:
    reviewer = RouterChat(chat_router(tmp_path, "en"), "tgR001")
    await bind(await Staff.get(id=desk.reviewer.staff_id), "tgR001")
    case = await submitted_case(desk)
    await reviewer.press("lang:en")
    await reviewer.say("/special")
    refused, again = await reviewer.press(f"rv:return:{case.id}")
    assert (refused.text, again.text.split(" Send")[0]) == (
        FINISH_FIRST, "Which time window do you need?")
    assert (await Case.get(id=case.id)).claimed_by_id is None  # type: ignore[attr-defined]
    assert await step_of("tgR001") == "special_window"


async def test_a_command_starting_another_flow_waits_until_the_open_one_ends(
    agent: RouterChat
) -> None:
    await at_name_step(agent)
    for command in ("/loss", "/special"):
        refused, again = await agent.say(command)
        assert refused.text == FINISH_FIRST and NAME_PROMPT in again.text
    assert await step_of(AGENT) == "capture_name"


async def test_a_button_of_another_flow_answers_and_the_step_is_asked_again_in_its_language(
    agent: RouterChat
) -> None:
    await at_name_step(agent)
    switched, again = await agent.press("lang:zh_CN")
    assert switched.text == "此后我将使用中文回复。"
    assert again.text == "请输入客户身份证上的姓名。"
    assert await step_of(AGENT) == "capture_name"


async def test_cancel_asks_first_no_keeps_the_draft_yes_cancels_it(agent: RouterChat,
                                                                  desk: Desk) -> None:
    await at_name_step(agent)
    [question] = await agent.say("/cancel")
    assert question.text == "Cancel the case draft?"
    [again] = await agent.press(button([question], "No"))
    assert NAME_PROMPT in again.text
    assert (await Case.get(agent_id=desk.agent.staff_id)).status == CaseStatus.DRAFT
    [question] = await agent.say("/cancel")
    [done] = await agent.press(button([question], "Yes"))
    assert done.text == "The draft was cancelled; nothing of it will be submitted."
    assert (await Case.get(agent_id=desk.agent.staff_id)).status == CaseStatus.CANCELLED
    [stale] = await agent.press(button([question], "Yes"))
    assert stale.text == "This button is no longer valid."
    [idle] = await agent.say("/cancel")
    assert idle.text == "There is nothing to cancel." and not idle.buttons


async def test_cancel_asks_only_once_a_flow_holds_an_answer(agent: RouterChat) -> None:
    await agent.say("/special")
    [done] = await agent.say("/cancel")
    assert done.text == "The request was not sent." and not done.buttons
    await agent.say("/special")
    await agent.say("19:00-21:00")
    [question] = await agent.say("/cancel")
    assert question.text == "Cancel the request for a special approval?"
    [done] = await agent.press(f"{CANCEL_PREFIX}yes:special_reason")
    assert done.text == "The request was not sent."
    assert await step_of(AGENT) == Step.IDLE


async def test_cancel_of_a_flow_without_its_own_cancel_stops_it_and_keeps_the_claim(
    desk: Desk, tmp_path: Path
) -> None:
    reviewer = RouterChat(chat_router(tmp_path, "en"), "tgR001")
    await bind(await Staff.get(id=desk.reviewer.staff_id), "tgR001")
    case = await submitted_case(desk)
    await reviewer.press(f"rv:claim:{case.id}")
    await reviewer.press(f"rv:return:{case.id}")
    [question] = await reviewer.say("/cancel")
    assert question.text == "Stop deciding this case? It stays claimed by you."
    [done] = await reviewer.press(button([question], "Yes"))
    assert done.text == "Stopped. Nothing of it was recorded."
    assert await step_of("tgR001") == Step.IDLE
    assert (await Case.get(id=case.id)).claimed_by_id == desk.reviewer.staff_id  # type: ignore[attr-defined]


async def _handler(turn: Turn) -> Outcome:
    return answer(Step.IDLE)


def _flow(**tables: dict[str, object]) -> SimpleNamespace:
    """A flow module as the router reads it: its tables only."""
    return SimpleNamespace(**{name.upper(): table for name, table in tables.items()})


@pytest.mark.parametrize(("mine", "refusal"), [
    (_flow(commands={"box": _handler}), "command 'box' is claimed by both vouchers and mine"),
    (_flow(steps={"count_number": _handler}, prompts={"count_number": _handler}),
     "step 'count_number' is claimed by both vouchers and mine"),
    (_flow(callbacks={"vc:": _handler}), "button prefix 'vc:' is claimed by both vouchers and "
                                         "mine"),
    (_flow(callbacks={"vc:count:": _handler}), "button prefix 'vc:count:' of mine lies inside "
                                               "'vc:' of vouchers"),
    (_flow(callbacks={"chat:": _handler}), "button prefix 'chat:cancel:' of the router lies "
                                           "inside 'chat:' of mine"),
    (_flow(steps={"mine_step": _handler}), "steps without a prompt to ask them again: "
                                           "['mine_step']"),
])
def test_the_router_refuses_two_flows_that_clash(mine: SimpleNamespace, refusal: str) -> None:
    def routes(**flows: object) -> router.Routes:
        return router.Routes.of(router.FLOWS | flows, unprompted=account.STEPS.keys(),
                                own_buttons={CANCEL_PREFIX: _handler})

    assert routes(mine=_flow(commands={"mine": _handler})).commands.keys() >= {"box", "mine"}
    with pytest.raises(RouteClash) as refused:
        routes(mine=mine)
    assert str(refused.value) == refusal


def test_every_step_of_the_flows_can_be_asked_again() -> None:
    assert router.STEPS.keys() - router.PROMPTS.keys() <= {"idle", "awaiting_bind_code"}


async def test_an_update_that_fails_midway_leaves_no_mark_and_is_handled_once_redelivered(
    agent: RouterChat, desk: Desk, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture
) -> None:
    crashes = [False, True]

    async def half_done(turn: Turn) -> Outcome:
        await chat.choose_locale(turn.session, "zh_CN")
        if crashes.pop():
            raise ConnectionError("the process dies here")
        return answer(Step.IDLE, "done")

    monkeypatch.setitem(router.COMMANDS, "halfdone", half_done)
    update = Inbound.message("telegram", "900", AGENT, AGENT, "/halfdone", message_id="900")
    with pytest.raises(ConnectionError):
        await agent.deliver(update)
    assert not await ProcessedUpdate.exists(update_id=update.identity)
    assert (await Staff.get(id=desk.agent.staff_id)).locale == "en"
    assert [reply.text for reply in await agent.deliver(update)] == ["done"]
    assert (await Staff.get(id=desk.agent.staff_id)).locale == "zh_CN"
    with caplog.at_level(logging.WARNING):
        assert await agent.deliver(update) == []
    assert f"duplicate telegram update {update.identity}" in caplog.text
    assert await ProcessedUpdate.filter(update_id=update.identity).count() == 1


async def test_a_restarted_update_counter_never_drops_a_new_message(agent: RouterChat) -> None:
    first = Inbound.message("telegram", "7", AGENT, AGENT, "/help", message_id="31")
    after_reset = Inbound.message("telegram", "7", AGENT, AGENT, "/whoami", message_id="4077")
    press = Inbound.button("telegram", "7", AGENT, AGENT, "lang:en", "5551")
    assert (await agent.deliver(first))[0].text.startswith("Commands:")
    assert (await agent.deliver(after_reset))[0].text.startswith("Name: ")
    assert (await agent.deliver(press))[0].text == "From now on I answer in English."
    assert await agent.deliver(first) == []


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(desk: Desk, fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[TelegramBot]:
    async with running_bot(fake, tmp_path / "media", hours=ALL_HOURS) as telegram:
        yield telegram


async def test_in_telegram_a_side_command_returns_to_the_step_and_cancel_asks(
    bot: TelegramBot, fake: FakeTelegram, desk: Desk
) -> None:
    user = 7301
    await bind_telegram(desk, user)
    phone = Chat(fake, user)
    await phone.press("lang:en")
    types = await phone.say("/new")
    assert NAME_PROMPT in (await phone.press(types.buttons[TYPE])).text
    helped, again = await phone.aside("/help")
    assert helped.text.startswith("Commands:") and NAME_PROMPT in again.text
    assert ID_PROMPT in (await phone.say("张三")).text
    question = await phone.say("/cancel")
    assert question.text == "Cancel the case draft?" and set(question.buttons) == {"Yes", "No"}
    assert ID_PROMPT in (await phone.press(question.buttons["No"])).text


async def test_in_telegram_new_case_inside_the_wizard_keeps_its_place(
    bot: TelegramBot, fake: FakeTelegram, desk: Desk
) -> None:
    user = 7305
    await bind_telegram(desk, user)
    phone = Chat(fake, user)
    await phone.press("lang:en")
    types = await phone.say("/new")
    assert NAME_PROMPT in (await phone.press(types.buttons[TYPE])).text
    assert ID_PROMPT in (await phone.say("张三")).text
    helped, _ = await phone.aside("/help")
    refused, asked = await phone.send_all(fake.button(user, helped.buttons["New case"]), 2)
    assert (refused.text, ID_PROMPT in asked.text) == (FINISH_FIRST, True)
    assert "Back" in " ".join(asked.buttons)
    assert await Case.filter(status=CaseStatus.DRAFT).count() == 1
    assert "mobile" in (await phone.say("11010519491231002X")).text
    question = await phone.say("/cancel")
    assert question.text == "Cancel the case draft?" and set(question.buttons) == {"Yes", "No"}


async def test_in_the_browser_chat_new_case_inside_the_wizard_keeps_its_place(
    desk: Desk, tmp_path: Path
) -> None:
    browser = BrowserChat(WebChat(flow_context(tmp_path / "media", hours=ALL_HOURS), "en"),
                          desk.agent.staff_id)  # type: ignore[arg-type]
    types = await browser.post(text="/new")
    assert NAME_PROMPT in (await browser.post(button=button(types, TYPE)))[0].text
    assert ID_PROMPT in (await browser.post(text="张三"))[0].text
    refused, asked = await browser.post(button="cap:start")
    assert (refused.text, ID_PROMPT in asked.text) == (FINISH_FIRST, True)
    assert await Case.filter(status=CaseStatus.DRAFT).count() == 1
    assert "mobile" in (await browser.post(text="11010519491231002X"))[0].text


async def test_in_telegram_two_updates_with_one_update_id_are_both_handled(
    bot: TelegramBot, fake: FakeTelegram
) -> None:
    user = 7302
    help_ = fake.message(user, "/help", "en")
    reset = fake.message(user, "/language", "en") | {"update_id": help_["update_id"]}
    fake.push(help_, reset, help_)
    await fake.wait_until(lambda: len(fake.texts(user)) >= 2)
    replies = fake.texts(user)
    assert replies[0].startswith("Commands:") and replies[1] == "Choose your language."
    await Chat(fake, user).say("/whoami")
    assert len(fake.texts(user)) == 3


async def test_in_polling_an_update_in_flight_at_a_stop_comes_again_and_is_handled_once(
    desk: Desk, fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, started = 7303, asyncio.Event()

    async def stuck(turn: Turn) -> Outcome:
        await chat.choose_locale(turn.session, "en")
        started.set()
        await asyncio.sleep(3600)
        return answer(Step.IDLE)

    async def quick(turn: Turn) -> Outcome:
        return answer(Step.IDLE, "handled")

    monkeypatch.setitem(router.COMMANDS, "work", stuck)
    fake.push(fake.message(user, "/work"))
    async with running_bot(fake, tmp_path / "media", hours=ALL_HOURS):
        await asyncio.wait_for(started.wait(), 10)
    assert not await ProcessedUpdate.exists()
    assert not await ChatSession.exists(external_user_id=str(user))
    monkeypatch.setitem(router.COMMANDS, "work", quick)
    async with running_bot(fake, tmp_path / "media", hours=ALL_HOURS):
        await fake.wait_until(lambda: fake.texts(user) == ["handled"])
    async with running_bot(fake, tmp_path / "media", hours=ALL_HOURS):
        assert (await Chat(fake, user).say("/language")).text == "请选择语言。"
    assert fake.texts(user)[0] == "handled" and len(fake.texts(user)) == 2


async def test_polling_outlives_failing_get_updates(desk: Desk, fake: FakeTelegram,
                                                     tmp_path: Path) -> None:
    fake.fail_next("getUpdates", 2, status=502)
    async with running_bot(fake, tmp_path / "media", hours=ALL_HOURS):
        said = await Chat(fake, 7304).say("/language")
    assert said.text == "请选择语言。"
    assert [c.status for c in fake.calls if c.method == "getUpdates"][:3] == [502, 502, 200]


async def bind_telegram(desk: Desk, user: int) -> None:
    """Move the desk's agent to a numeric Telegram account, as the fake Bot API sends."""
    await ChatBinding.filter(staff_id=desk.agent.staff_id, channel="telegram").update(
        external_user_id=str(user), chat_id=str(user))
