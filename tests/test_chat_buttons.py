"""Buttons for what people do (issue 16): /help offers the commands of the user's roles as
buttons, /loss has Back and Cancel at every step and Now for the time, and the capture
wizard's Submit stands apart from the change buttons in Telegram and in WeCom."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.flows import Reply
from bot.telegram import TelegramBot
from bot.wecom import cards
from domain.cases.capture_gate import LocationMode
from domain.models import Incident, Staff
from domain.platform.clock import utcnow
from tests.capture_support import capture_to_summary
from tests.chat_driver import Chat
from tests.chat_support import RouterChat, bind, chat_router
from tests.fake_telegram import FakeTelegram
from tests.review_support import Desk, build_desk, photo
from tests.telegram_support import AGENT, capture_desk

COMMON = {"Who am I", "Language", "Notifications"}
AGENT_BUTTONS = {"New case", "Resume", "My box", "Report a loss", "Special approval", "Inspect"}
REVIEWER_BUTTONS = {"Review queue", "Duty"}
NOT_SENT = "The loss report was not sent."


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Desk:
    return await build_desk(tmp_path)


def labels(replies: list[Reply]) -> dict[str, str]:
    """The buttons of the last reply: label → data."""
    return {label: data for row in replies[-1].buttons for label, data in row}


async def helped(chat: RouterChat) -> dict[str, str]:
    """The buttons /help answers with."""
    return labels(await chat.say("/help"))


async def test_help_offers_each_role_its_own_commands_as_buttons(desk: Desk,
                                                                tmp_path: Path) -> None:
    router = chat_router(tmp_path, "en")
    for actor, user in ((desk.reviewer, "tgR001"), (desk.supervisor, "tgS001"),
                        (desk.ops, "tgO001")):
        await bind(await Staff.get(id=actor.staff_id), user)
    agent, reviewer = RouterChat(router, "tgF001"), RouterChat(router, "tgR001")
    assert set(await helped(agent)) == AGENT_BUTTONS | COMMON
    assert set(await helped(reviewer)) == REVIEWER_BUTTONS | COMMON  # no agent commands
    assert set(await helped(RouterChat(router, "tgS001"))) == {"Inspect"} | COMMON
    ops = RouterChat(router, "tgO001")
    assert set(await helped(ops)) == COMMON
    assert "web admin" in ops.said[-1].text and "/new" not in ops.said[-1].text
    stranger = RouterChat(router, "tg404")
    assert set(await helped(stranger)) == {"Bind this chat", "Language"}
    assert "/bind <code>" in stranger.said[-1].text
    assert "/queue" not in agent.said[-1].text and "/new" not in reviewer.said[-1].text


async def test_a_help_button_runs_its_command_as_if_typed(desk: Desk, tmp_path: Path) -> None:
    router = chat_router(tmp_path, "en")
    await bind(await Staff.get(id=desk.reviewer.staff_id), "tgR001")
    reviewer, agent = RouterChat(router, "tgR001"), RouterChat(router, "tgF001")
    assert (await reviewer.press((await helped(reviewer))["Review queue"]))[0].text == (
        "No open cases in your orgs.")
    assert (await agent.press((await helped(agent))["Report a loss"]))[0].text == (
        "What was lost?")
    stranger = RouterChat(router, "tg404")
    assert (await stranger.press((await helped(stranger))["Bind this chat"]))[0].text == (
        "Send your bind code.")
    refused = await reviewer.press("cmd:new")  # a role's command pressed by another role
    assert refused[0].text != "Which business do you capture? Choose the business type."
    assert (await agent.press("cmd:drop_tables"))[0].text == "This button is no longer valid."


async def test_loss_has_back_and_cancel_at_every_step_and_a_now_button(
    desk: Desk, tmp_path: Path
) -> None:
    agent = RouterChat(chat_router(tmp_path, "en"), "tgF001")
    asked = labels(await agent.say("/loss"))
    assert "Cancel" in asked and "« Back" not in asked  # nothing before the first question
    item = labels(await agent.press(asked["Vouchers"]))
    when = labels(await agent.say("DC0001-DC0005"))
    assert {"Now", "« Back", "Cancel"} <= set(when)
    back = await agent.press(when["« Back"])
    assert back[-1].text.startswith("Which vouchers were lost?")
    assert {"« Back", "Cancel"} <= set(labels(back)) and set(item) == set(labels(back))
    when = labels(await agent.say("DC0001-DC0005"))
    place = labels(await agent.press(when["Now"]))
    assert agent.said[-1].text.startswith("Where was it lost?")
    assert {"« Back", "Cancel"} <= set(place)
    description = labels(await agent.say("客户家中"))
    assert {"« Back", "Cancel"} <= set(description)
    confirm = labels(await agent.say("放在桌上后不见了"))
    assert {"Report the loss", "Cancel", "« Back"} <= set(confirm)
    again = labels(await agent.press(confirm["« Back"]))
    assert agent.said[-1].text.startswith("Describe briefly what happened.")
    assert (await agent.press(again["Cancel"]))[-1].text == NOT_SENT
    assert (await agent.press(again["« Back"]))[-1].text == "This button is no longer valid."
    assert not await Incident.exists()


async def test_now_reports_the_loss_at_the_moment_it_was_pressed(desk: Desk,
                                                                tmp_path: Path) -> None:
    agent = RouterChat(chat_router(tmp_path, "en"), "tgF001")
    await agent.press(labels(await agent.say("/loss"))["Vouchers"])
    when = labels(await agent.say("DC0001"))
    pressed_at = utcnow()
    await agent.press(when["Now"])
    await agent.say("客户家中")
    confirm = labels(await agent.say("放在桌上后不见了"))
    await agent.press(confirm["Report the loss"])
    incident = await Incident.get()
    assert abs(incident.occurred_at - pressed_at) < timedelta(seconds=30)


@pytest.fixture
async def capture_world(database_url: str, tmp_path: Path) -> object:
    return await capture_desk(tmp_path)


@pytest.mark.bot_world("capture_world")
async def test_submit_stands_alone_on_the_last_row_in_telegram(
    bot: TelegramBot, fake: FakeTelegram, chat: Chat
) -> None:
    await capture_to_summary(chat)
    rows = fake.sent(AGENT)[-1].params["reply_markup"]["inline_keyboard"]
    assert [button["text"] for button in rows[-1]] == ["Submit"]
    assert [button["text"] for button in rows[-2]] == ["« Back"]
    assert all(button["text"].startswith("Change: ") for row in rows[:-2] for button in row)


async def test_submit_gets_a_card_of_its_own_in_wecom(desk: Desk, tmp_path: Path) -> None:
    # no location: four change buttons, Back and Submit would fit one card of six
    router = chat_router(tmp_path, "en", location_mode=LocationMode.OFF)
    summary = await capture_by_router(RouterChat(router, "tgF001"))
    laid_out = cards.layout(summary.text, summary.buttons, "https://fieldops.example")
    assert len([pair for row in summary.buttons for pair in row]) <= cards.BUTTONS_MAX
    last, *before = reversed(laid_out.cards)
    assert [label for label, _ in last.keys.values()] == ["Submit"]
    others = [label for card in before for label, _ in card.keys.values()]
    assert "Submit" not in others and "« Back" in others


async def capture_by_router(agent: RouterChat) -> Reply:
    """A case captured through the router up to its summary (no location asked)."""
    await agent.press(labels(await agent.say("/new"))["Debit card opening"])
    for answer in ("张三", "11010519491231002X", "13812345678"):
        await agent.say(answer)
    for seed in (1, 2, 3):
        await agent.photo(photo(seed))
    return (await agent.press(labels(agent.said[-1:])["I gave the risk hints"]))[-1]
