"""Day-end counts, /box and /handover through the real Telegram bot (V3, S1): a match is
recorded, two mismatches reach the supervisor, silence is reminded then escalated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.telegram import TelegramBot
from domain.cases.business_types import BusinessTypeForm, create_business_type
from domain.models import (
    BoxCount,
    CountStatus,
    Incident,
    IncidentKind,
    MisIssue,
    OutboxMessage,
    OutboxStatus,
    PhotoKind,
    Role,
    Staff,
    TailBox,
    VoucherState,
)
from domain.platform.clock import utcnow
from domain.vouchers import day_end_counts, tail_boxes
from tests.bot_support import bound_agent, dispatching
from tests.chat_driver import Chat, Said, running_bot
from tests.factories import operational, org_tree, person
from tests.fake_telegram import FakeTelegram
from tests.loss_support import delivered
from tests.voucher_support import stock_box_directly

AGENT, OTHER, SUPERVISOR = 7401, 7402, 7403
REMIND, ESCALATE = timedelta(minutes=30), timedelta(minutes=60)
ASK_CARD = "How many Debit card are in the box?"
ASK_SIM = "How many SIM card are in the box?"


@dataclass
class Outlet:
    """An agent holding box PAD00001 (3 cards, 2 SIM), a second agent and their supervisor,
    all bound and switched to English."""

    agent: Staff
    other: Staff
    box: TailBox
    media_root: Path


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def outlet(database_url: str, tmp_path: Path) -> Outlet:
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O1")
    await create_business_type(ops, "DEBIT_CARD", BusinessTypeForm(
        "借记卡开户", "Debit card opening",
        frozenset({PhotoKind.ID_FRONT, PhotoKind.ONSITE_WITH_AGENT})))
    supervisor, _ = await person(ids["sub_a"], Role.SUPERVISOR, no="S1")
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1", name="陈展业")
    other, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F2", name="李接手")
    for member, user in ((agent, AGENT), (other, OTHER), (supervisor, SUPERVISOR)):
        await bound_agent(member, user)
    await operational(agent)
    await operational(other, tablet=False)
    box = await stock_box_directly(agent, {"CARD": 3, "SIM": 2})
    return Outlet(agent, other, box, tmp_path / "media")


@pytest.fixture
async def bot(outlet: Outlet, fake: FakeTelegram) -> AsyncIterator[TelegramBot]:
    async with running_bot(fake, outlet.media_root) as telegram:
        yield telegram


async def english_chat(fake: FakeTelegram, user: int) -> Chat:
    chat = Chat(fake, user)
    await chat.press("lang:en")
    return chat


@pytest.fixture
async def chat(bot: TelegramBot, fake: FakeTelegram) -> Chat:
    """The agent's chat, in English."""
    return await english_chat(fake, AGENT)


@pytest.fixture
async def supervisor(bot: TelegramBot, fake: FakeTelegram) -> Chat:
    return await english_chat(fake, SUPERVISOR)


async def asked_to_count(bot: TelegramBot, chat: Chat) -> Said:
    """The scheduler asks for the day's counts; the agent presses Count now."""
    assert await day_end_counts.request_day_end_counts(utcnow()) == 1
    await delivered(bot)
    request = chat.last()
    assert request.text.startswith("Day-end count of tail box PAD00001: count the vouchers")
    said = await chat.press(request.buttons["Count now"])
    assert said.text.endswith(ASK_CARD)
    return said


async def test_day_end_count_that_matches_is_recorded(bot: TelegramBot, chat: Chat) -> None:
    await asked_to_count(bot, chat)
    assert (await chat.say("three")).text == (
        "Send the number of Debit card as a whole number, 0 or more.")
    assert (await chat.say("-1")).text.startswith("Send the number of Debit card")
    assert (await chat.say("3")).text == ASK_SIM
    assert (await chat.say("2")).text == (
        "Count recorded: tail box PAD00001 · F1 陈展业 matches the ledger.")
    box = await TailBox.get(id=(await BoxCount.get()).box_id)  # type: ignore[attr-defined]
    assert box.last_count_matched is True
    assert (await chat.say("2")).text.startswith("I did not understand that.")


async def test_count_now_pressed_again_inside_the_count_keeps_its_place(
        bot: TelegramBot, chat: Chat, fake: FakeTelegram) -> None:
    await asked_to_count(bot, chat)
    assert (await chat.say("3")).text == ASK_SIM
    count_now = next(said for said in map(Said.of, fake.sent(AGENT))
                     if "Count now" in said.buttons).buttons["Count now"]
    refused, again = await chat.send_all(fake.button(AGENT, count_now), 2)
    assert (refused.text, again.text) == (
        "Finish this step first, or send /cancel to stop it.", ASK_SIM)
    assert (await chat.say("2")).text == (
        "Count recorded: tail box PAD00001 · F1 陈展业 matches the ledger.")


async def test_two_mismatching_counts_open_an_incident_and_tell_the_supervisor(
        bot: TelegramBot, chat: Chat, supervisor: Chat, fake: FakeTelegram) -> None:
    await asked_to_count(bot, chat)
    await chat.say("2")
    again = await chat.say("2")
    assert again.text == ("The count does not match the ledger. Count the box again "
                          "carefully.\n\n" + ASK_CARD)
    await chat.say("2")
    failed = await chat.say("2")
    incident = await Incident.get()
    assert incident.kind == IncidentKind.DISCREPANCY
    assert failed.text == (f"The count still does not match the ledger. Incident "
                           f"#{incident.id} is open and your supervisors have been told.")
    assert not any("3" in text for text in fake.texts(AGENT)[1:])  # the ledger figure
    await delivered(bot)
    [alert] = fake.texts(SUPERVISOR)[1:]
    assert "PAD00001" in alert and "F1 陈展业" in alert
    assert "Counted: Debit card 2, SIM card 2" in alert
    assert "Ledger: Debit card 3, SIM card 2" in alert
    count = await BoxCount.get()
    assert (await chat.press(f"vc:count:{count.id}")).text == "This count is already closed."


async def test_silence_is_reminded_then_escalated_to_the_supervisor(
        bot: TelegramBot, chat: Chat, supervisor: Chat, fake: FakeTelegram) -> None:
    asked_at = utcnow()
    assert await day_end_counts.request_day_end_counts(asked_at) == 1
    await delivered(bot)
    assert await day_end_counts.sweep_unanswered_counts(asked_at + timedelta(minutes=31),
                                                  REMIND, ESCALATE) == 1
    await delivered(bot)
    reminder = chat.last()
    assert reminder.text.startswith("Reminder: the day-end count of tail box PAD00001")
    assert fake.texts(SUPERVISOR)[1:] == []
    assert await day_end_counts.sweep_unanswered_counts(asked_at + timedelta(minutes=61),
                                                  REMIND, ESCALATE) == 1
    assert await day_end_counts.sweep_unanswered_counts(asked_at + timedelta(minutes=90),
                                                  REMIND, ESCALATE) == 0
    await delivered(bot)
    [escalation] = fake.texts(SUPERVISOR)[1:]
    assert escalation.startswith("F1 陈展业 has not answered the day-end count of tail box "
                                 "PAD00001")
    assert len([t for t in fake.texts(AGENT) if t.startswith("Reminder")]) == 1
    assert (await BoxCount.get()).status == CountStatus.UNANSWERED
    assert (await chat.press(reminder.buttons["Count now"])).text.endswith(ASK_CARD)
    await chat.say("3")
    assert (await chat.say("2")).text.startswith("Count recorded")


async def test_box_shows_the_balance_but_hides_it_while_a_count_waits(
        bot: TelegramBot, chat: Chat, fake: FakeTelegram) -> None:
    assert (await chat.say("/box")).text == (
        "Tail box PAD00001 · F1 陈展业:\nDebit card: 3\nSIM card: 2")
    assert await day_end_counts.request_day_end_counts(utcnow()) == 1
    shown = await chat.say("/box")
    assert "is waiting for your count." in shown.text
    assert "The figures are hidden until you have given your count." in shown.text
    assert "Debit card" not in shown.text and "SIM card" not in shown.text
    assert (await chat.press(shown.buttons["Count now"])).text.endswith(ASK_CARD)
    await chat.say("3")
    assert (await chat.say("2")).text.startswith("Count recorded")
    assert (await chat.say("/box")).text == (
        "Tail box PAD00001 · F1 陈展业:\nDebit card: 3\nSIM card: 2")
    other = await english_chat(fake, OTHER)
    assert (await other.say("/box")).text == "You hold no tail box."


async def test_handover_in_chat_moves_the_box_after_both_counts(
        bot: TelegramBot, chat: Chat, fake: FakeTelegram, outlet: Outlet) -> None:
    other = await english_chat(fake, OTHER)
    assert (await chat.say("/handover")).text.startswith("Send /handover followed by")
    refused = await chat.say("/handover X404")
    assert refused.text == "No staff member has the employee number X404."
    started = await chat.say("/handover F2")
    assert started.text.startswith("Hand-over of tail box PAD00001 to F2 李接手.")
    await chat.say("3")
    wrong = await chat.say("1")
    assert wrong.text.startswith("Your count does not match the ledger. Count the box again.")
    await chat.say("3")
    assert (await chat.say("2")).text.startswith("Hand-over of tail box PAD00001 registered.")
    await delivered(bot)
    confirm = other.last()
    assert confirm.text.startswith("F1 陈展业 hands tail box PAD00001 over to you.")
    assert (await other.say("/box")).text.startswith(
        "Tail box PAD00001 · F1 陈展业 is being handed over")
    assert (await other.press(confirm.buttons["Count and confirm"])).text.startswith(
        "Hand-over of tail box PAD00001 from F1 陈展业.")
    await other.say("3")
    assert (await other.say("2")).text == "Hand-over confirmed: you now hold tail box PAD00001."
    assert (await TailBox.get(id=outlet.box.id)).holder_id == outlet.other.id  # type: ignore[attr-defined]
    assert (await chat.say("/box")).text == "You hold no tail box."
    await delivered(bot)
    assert chat.last().text.startswith("F2 李接手 confirmed the hand-over")


async def nothing_pending() -> bool:
    return not await OutboxMessage.exists(status=OutboxStatus.PENDING)


async def report_mis_issue(chat: Chat, item: str) -> Said:
    """/loss, the mis-issue choice, the serial (and case) as typed, what happened, Report."""
    what = await chat.say("/loss")
    asked = await chat.press(what.buttons["A voucher handed to a customer by mistake"])
    assert asked.text.startswith("Which serial did the customer get by mistake?")
    assert (await chat.say(item)).text == "Describe briefly what happened."
    summary = await chat.say("开卡时把另一张卡交给了客户")
    assert f"Serial and case: {item}" in summary.text
    return await chat.press(summary.buttons["Report the mis-issue"])


async def test_a_voucher_handed_out_by_mistake_is_reported_from_loss(
        bot: TelegramBot, chat: Chat, supervisor: Chat, outlet: Outlet) -> None:
    done = await report_mis_issue(chat, "0002")
    assert done.text.startswith("Mis-issue of serial 0002 recorded as incident #")
    mis_issue = await MisIssue.get().prefetch_related("voucher")
    assert (mis_issue.holder_id, mis_issue.voucher.state) == (  # type: ignore[attr-defined]
        outlet.agent.id, VoucherState.MIS_ISSUED)
    await dispatching(bot, nothing_pending)  # operations management has no chat here
    assert "serial 0002 from the tail box of 陈展业" in supervisor.last().text
    assert await tail_boxes.expected_in_box(outlet.box.id) == {"CARD": 2, "SIM": 2}


async def test_a_mis_issue_needs_one_serial_of_the_agents_own_box(
        bot: TelegramBot, chat: Chat, outlet: Outlet) -> None:
    two = await report_mis_issue(chat, "0002，0003")
    assert two.text.startswith("Give exactly one serial")
    unknown = await report_mis_issue(chat, "9999 YD20261124-000001")
    assert "9999" in unknown.text and unknown.text.endswith("The mis-issue was not reported.")
    assert not await MisIssue.exists() and not await Incident.exists()
    assert await tail_boxes.expected_in_box(outlet.box.id) == {"CARD": 3, "SIM": 2}
