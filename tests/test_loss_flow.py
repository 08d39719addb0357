"""The device flow in Telegram: the agent confirms an issued tablet and reports a loss with
/loss; the supervisor, IT and operations management of his chain are alerted once (D1–D3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.telegram import TelegramBot
from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.ledgers import devices
from domain.models import (
    Device,
    DeviceState,
    Incident,
    IncidentKind,
    IncidentStatus,
    OutboxMessage,
    PhotoKind,
    Role,
    Staff,
    Voucher,
    VoucherState,
    VoucherType,
)
from domain.platform.actors import Actor, actor_for
from domain.vouchers import tail_boxes, voucher_stock
from fieldops.bootstrap import bootstrap
from fieldops.settings import Settings
from tests.bot_support import bound_agent
from tests.chat_driver import Chat, Said, bot_config
from tests.factories import org_tree, person, qualify
from tests.fake_telegram import FakeTelegram
from tests.loss_support import delivered
from tests.telegram_support import AGENT
from tests.voucher_support import CARD_PATTERN, card

SUPERVISOR, IT, OPS, FAR_IT = 7302, 7303, 7304, 7305
pytestmark = pytest.mark.bot_world("branch")
TYPE = "Debit card opening"
NOT_SENT = "The loss report was not sent."


@dataclass
class Branch:
    """A qualified agent in outlet a, his bound chain (supervisor, IT, ops) and IT of b."""

    ids: dict[str, int]
    agent: Staff
    agent_actor: Actor
    it: Actor
    media_root: Path


@pytest.fixture
async def branch(database_url: str, tmp_path: Path) -> Branch:
    ids = await org_tree()
    ops_row, ops = await person(ids["province"], Role.OPS_ADMIN, no="O1")
    business_type = await business_types.create_business_type(ops, "DEBIT_CARD", BusinessTypeForm(
        "借记卡开户", TYPE, frozenset({PhotoKind.ID_FRONT, PhotoKind.ONSITE_WITH_AGENT})))
    it_row, it = await person(ids["branch_a"], Role.IT_ADMIN, no="I1")
    supervisor, _ = await person(ids["sub_a"], Role.SUPERVISOR, no="S1")
    far_it, _ = await person(ids["branch_b"], Role.IT_ADMIN, no="I2")
    agent, agent_actor = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1", name="陈展业")
    await qualify(agent, business_type.id)
    for member, user in ((agent, AGENT), (supervisor, SUPERVISOR), (it_row, IT),
                         (ops_row, OPS), (far_it, FAR_IT)):
        await bound_agent(member, user)
    return Branch(ids, agent, agent_actor, it, tmp_path / "media")


async def issue(branch: Branch) -> Device:
    """IT registers a tablet in the agent's outlet and issues it to him."""
    tablet = await devices.register_device(branch.it, devices.DeviceForm(
        "PAD0001", "SN000001", None, "Huawei MatePad 11", None, branch.ids["outlet_a"]))
    return await devices.issue_device(branch.it, tablet.id, branch.agent.id)


def confirm_button(said: Said) -> str:
    return next(data for data in said.buttons.values() if data.startswith("dev:confirm:"))


async def confirmed_tablet(branch: Branch, bot: TelegramBot, chat: Chat) -> Device:
    """Issue a tablet and confirm it with the button of the issue message."""
    tablet = await issue(branch)
    await delivered(bot)
    said = await chat.press(confirm_button(chat.last()))
    assert said.text == "Receipt of tablet PAD0001 confirmed."
    return tablet


async def test_agent_confirms_receipt_with_the_button_of_the_issue_message(
        bot: TelegramBot, chat: Chat, branch: Branch) -> None:
    refused = await chat.say("/new")
    assert refused.text.startswith("No tablet is issued to you.")
    tablet = await issue(branch)
    await delivered(bot)
    message = chat.last()
    assert "PAD0001" in message.text and confirm_button(message) == f"dev:confirm:{tablet.id}"
    assert (await chat.say("/new")).text.startswith("Confirm the receipt of tablet PAD0001")
    said = await chat.press(f"dev:confirm:{tablet.id}")
    assert said.text == "Receipt of tablet PAD0001 confirmed."
    assert (await Device.get(id=tablet.id)).receipt_confirmed_at is not None
    again = await chat.press(f"dev:confirm:{tablet.id}")
    assert again.text == "You already confirmed the receipt of tablet PAD0001."
    assert TYPE in (await chat.say("/new")).buttons


async def test_someone_else_cannot_confirm_the_agents_tablet(
        bot: TelegramBot, chat: Chat, branch: Branch, fake: FakeTelegram) -> None:
    tablet = await issue(branch)
    supervisor = Chat(fake, SUPERVISOR)
    await supervisor.press("lang:en")
    said = await supervisor.press(f"dev:confirm:{tablet.id}")
    assert said.text == "Tablet PAD0001 is not issued to you."
    assert (await Device.get(id=tablet.id)).receipt_confirmed_at is None


async def report_tablet_loss(chat: Chat) -> Said:
    """/loss up to the confirmation of a lost tablet."""
    what = await chat.say("/loss")
    assert what.text == "What was lost?"
    which = await chat.press(what.buttons["Tablet"])
    assert which.text == "Which tablet was lost?"
    when = await chat.press(which.buttons["PAD0001 Huawei MatePad 11"])
    assert when.text.startswith("When was it lost?")
    assert (await chat.say("now")).text.startswith("Where was it lost?")
    assert (await chat.say("幸福小区3号楼门口")).text == "Describe briefly what happened."
    return await chat.say("放在电动车筐里，办完业务回来就不见了")


async def test_loss_of_a_tablet_alerts_supervisor_it_and_ops_once_and_freezes_capture(
        bot: TelegramBot, chat: Chat, branch: Branch, fake: FakeTelegram) -> None:
    tablet = await confirmed_tablet(branch, bot, chat)
    summary = await report_tablet_loss(chat)
    assert "Item: PAD0001" in summary.text and "Where: 幸福小区3号楼门口" in summary.text
    press = fake.button(AGENT, summary.buttons["Report the loss"])
    before = len(fake.sent(AGENT))
    fake.push(press, press)
    await fake.wait_until(lambda: len(fake.sent(AGENT)) > before)
    reported = Said.of(fake.sent(AGENT)[before])
    incident = await Incident.get()
    assert reported.text.startswith(f"Loss reported as incident #{incident.id}.")
    assert "You cannot capture cases until" in reported.text
    assert (await chat.say("/help")).text.startswith("Commands:")
    assert await Incident.all().count() == 1
    assert (incident.kind, incident.status) == (IncidentKind.DEVICE_LOSS, IncidentStatus.OPEN)
    assert (await Device.get(id=tablet.id)).state == DeviceState.LOST
    await delivered(bot)
    for user in (SUPERVISOR, IT, OPS):
        [alert] = fake.texts(user)
        assert "PAD0001" in alert and "陈展业" in alert and "幸福小区3号楼门口" in alert
    assert fake.texts(FAR_IT) == []
    refused = await chat.say("/new")
    assert refused.text.startswith(f"A device loss you reported (incident #{incident.id})")


async def test_cancel_during_loss_sends_nothing(bot: TelegramBot, chat: Chat,
                                                branch: Branch) -> None:
    await confirmed_tablet(branch, bot, chat)
    await report_tablet_loss(chat)
    assert (await chat.cancel()).text == NOT_SENT
    assert (await chat.say("anything")).text.startswith("I did not understand that.")
    what = await chat.say("/loss")
    await chat.press(what.buttons["Vouchers"])
    assert (await chat.cancel()).text == NOT_SENT
    assert not await Incident.exists()
    assert not await OutboxMessage.exists(idempotency_key__startswith="incident:")


async def test_voucher_loss_takes_typed_item_and_time_and_can_be_dropped_or_sent(
        bot: TelegramBot, chat: Chat, branch: Branch, fake: FakeTelegram) -> None:
    what = await chat.say("/loss")
    item = await chat.press(what.buttons["Vouchers"])
    assert item.text.startswith("Which vouchers were lost?")
    assert (await chat.say("借记卡 4 张，号段 0012-0015")).text.startswith("When was it lost?")
    assert (await chat.say("yesterday")).text.startswith("I could not read this time.")
    assert (await chat.say("2099-01-01 10:00")).text.startswith(
        "The time of the loss cannot be in the future.")
    assert (await chat.say("2026-02-30 10:00")).text.startswith("2026-02-30 is not a real date.")
    assert (await chat.say("2025-11-20 16:45")).text.startswith("Where was it lost?")
    await chat.say("网点柜台")
    summary = await chat.say("日终盘点时发现缺少")
    assert "When: 2025-11-20 16:45" in summary.text and "Lost: Vouchers" in summary.text
    assert (await chat.say("ok")).text == "Press Report the loss or Cancel."
    assert (await chat.press(summary.buttons["Cancel"])).text == NOT_SENT
    assert (await chat.press(summary.buttons["Report the loss"])).text == (
        "This button is no longer valid.")
    assert not await Incident.exists()
    what = await chat.say("/loss")
    await chat.press(what.buttons["Customer papers"])
    await chat.say("客户张某的开户申请书")
    await chat.say("现在")
    await chat.say("客户家中")
    summary = await chat.say("离开时遗落")
    reported = await chat.press(summary.buttons["Report the loss"])
    assert reported.text.startswith("Loss reported as incident #")
    assert "You cannot capture" not in reported.text
    incident = await Incident.get()
    assert incident.kind == IncidentKind.PAPERS_LOSS and incident.item == "客户张某的开户申请书"
    await delivered(bot)
    assert [len(fake.texts(user)) for user in (SUPERVISOR, IT, OPS, FAR_IT)] == [1, 1, 1, 0]


async def test_loss_of_a_tablet_needs_one_issued_to_the_agent(
        bot: TelegramBot, chat: Chat) -> None:
    what = await chat.say("/loss")
    said = await chat.press(what.buttons["Tablet"])
    assert said.text.startswith("No tablet is issued to you, so there is none to report lost.")
    assert NOT_SENT in said.text
    assert (await chat.press(what.buttons["Tablet"])).text == "This button is no longer valid."


def production_settings(media_root: Path, **values: int) -> Settings:
    """Settings as `fieldops run` reads them from FIELDOPS_* variables, thresholds included."""
    return Settings(_env_file=None, data_key="a-test-secret-that-is-long-enough",  # type: ignore[call-arg]
                    media_root=media_root, **values)


@asynccontextmanager
async def production_bot(fake: FakeTelegram, settings: Settings) -> AsyncIterator[TelegramBot]:
    """The bot with the flows' context the composition root builds from the settings."""
    telegram = TelegramBot(bot_config(fake), bootstrap(settings).flows)
    await telegram.start()
    try:
        yield telegram
    finally:
        await telegram.stop()


async def report_papers_loss(chat: Chat, item: str) -> None:
    """/loss of customer papers, sent."""
    what = await chat.say("/loss")
    await chat.press(what.buttons["Customer papers"])
    await chat.say(item)
    await chat.say("now")
    await chat.say("客户家中")
    summary = await chat.say("离开时遗落")
    reported = await chat.press(summary.buttons["Report the loss"])
    assert reported.text.startswith("Loss reported as incident #")


async def test_repeated_losses_flag_retraining_at_the_configured_major_incident_threshold(
        branch: Branch, fake: FakeTelegram) -> None:
    settings = production_settings(branch.media_root, major_incident_threshold=3)
    async with production_bot(fake, settings):
        chat = Chat(fake, AGENT)
        await chat.press("lang:en")
        for number in range(1, 4):  # the first loss, then two repeated (major) losses
            await report_papers_loss(chat, f"开户申请书 {number}")
        assert await Incident.filter(major=True).count() == 2
        assert (await Staff.get(id=branch.agent.id)).retraining_flagged_at is None
        await report_papers_loss(chat, "开户申请书 4")
    assert (await Staff.get(id=branch.agent.id)).retraining_flagged_at is not None


async def test_a_voucher_loss_over_the_configured_mass_loss_threshold_is_major(
        branch: Branch, fake: FakeTelegram) -> None:
    ops = await actor_for(await Staff.get(employee_no="O1"))
    await voucher_stock.define_voucher_type(ops, "CARD", voucher_stock.VoucherTypeForm(
        "借记卡", "Debit card", CARD_PATTERN, "luhn"))
    card_type = await VoucherType.get(code="CARD")
    tablet = await issue(branch)
    await devices.confirm_receipt(branch.agent_actor, tablet.id)
    box = await tail_boxes.box_for_device(tablet.id)
    await voucher_stock.set_cap(ops, branch.ids["outlet_a"], card_type.id, 10)
    await voucher_stock.receive_range(ops, branch.ids["outlet_a"], card_type.id, card(1), card(6))
    await voucher_stock.allocate(ops, box.id, card_type.id, count=6)
    settings = production_settings(branch.media_root, mass_loss_threshold=2)
    async with production_bot(fake, settings):
        chat = Chat(fake, AGENT)
        await chat.press("lang:en")
        what = await chat.say("/loss")
        await chat.press(what.buttons["Vouchers"])
        await chat.say("，".join((card(1), card(2), card(3))))
        await chat.say("now")
        await chat.say("网点柜台")
        summary = await chat.say("日终盘点时发现缺少")
        assert (await chat.press(summary.buttons["Report the loss"])).text.startswith(
            "Loss reported as incident #")
    incident = await Incident.get(kind=IncidentKind.VOUCHER_LOSS)
    assert incident.major and incident.detail["major_reason"] == "mass_loss"
    assert not incident.detail["repeated_loss"]
    assert await Voucher.filter(state=VoucherState.VOID_PENDING).count() == 3
