"""The capture gate and the two ledgers (issue 4): only a qualified agent (Q1) holding a
confirmed tablet (D2), with no device loss of his still open (D3), may capture."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path

import pytest

from domain.cases import business_types, capture_gate, cases
from domain.cases.business_types import BusinessTypeForm
from domain.cases.capture_gate import CaptureContext, WorkingHours
from domain.ledgers import devices, incidents, qualification_basis, qualifications
from domain.models import (
    Case,
    Device,
    DeviceState,
    Incident,
    IncidentStatus,
    PhotoKind,
    Qualification,
    QualificationBasis,
    QualificationStatus,
    Role,
    Staff,
)
from domain.people import binding
from domain.platform.actors import Actor
from domain.platform.clock import utcnow
from domain.platform.errors import DomainError
from fieldops.demo import BUSINESS_TYPES, LEDGERS, seed_demo
from locales import translate
from tests.bot_support import bound_agent
from tests.case_support import refusal
from tests.chat_driver import Chat, running_bot
from tests.factories import ROOT, capture_context, operational, org_tree, person
from tests.fake_telegram import FakeTelegram

AGENT = 7401
ALWAYS = WorkingHours(weekdays=frozenset(range(7)), start=time(0, 0), end=time(23, 59, 59))
KINDS = frozenset({PhotoKind.ID_FRONT, PhotoKind.ID_BACK, PhotoKind.ONSITE_WITH_AGENT})
DEBIT, SMS = "借记卡开户", "短信签约"
SUSPENSION = "凭证遗失，整改完成前暂停"
NAME_PROMPT = "Enter the customer's full name as printed on the ID card."


@dataclass
class Gate:
    """An org tree with operations management, IT, two business types and a bound agent."""

    ids: dict[str, int]
    ops: Actor
    it: Actor
    agent: Staff
    actor: Actor
    debit_id: int
    sms_id: int
    ctx: CaptureContext


@pytest.fixture
async def gate(database_url: str, tmp_path: Path) -> Gate:
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O1")
    _, it = await person(ids["province"], Role.IT_ADMIN, no="I1")
    debit = await business_types.create_business_type(
        ops, "DEBIT_CARD", BusinessTypeForm(DEBIT, "Debit card opening", KINDS))
    sms = await business_types.create_business_type(
        ops, "SMS_ALERT", BusinessTypeForm(SMS, "SMS alert sign-up", KINDS))
    agent, actor = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1", name="陈展业")
    await bound_agent(agent, AGENT)
    return Gate(ids, ops, it, agent, actor, debit.id, sms.id,
                capture_context(tmp_path / "media", hours=ALWAYS))


@pytest.fixture
async def chat(gate: Gate, tmp_path: Path) -> AsyncIterator[Chat]:
    """The agent's Telegram chat with the real bot, open around the clock."""
    async with FakeTelegram() as fake, running_bot(fake, tmp_path / "media", hours=ALWAYS):
        yield Chat(fake, AGENT)


async def gate_refusal(gate: Gate, type_id: int | None = None) -> DomainError:
    """Why the gate refuses the agent a new case of the type (debit card by default) now."""
    return await refusal(cases.start_draft, gate.actor, type_id or gate.debit_id, gate.ctx)


def text_of(error: DomainError, locale: str) -> str:
    """A refusal as the agent reads it in his language."""
    return translate(locale, error.key, **error.params)


async def tablet_of(gate: Gate) -> Device:
    """The tablet issued to the agent."""
    return await Device.get(holder_id=gate.agent.id)


async def second_tablet(gate: Gate) -> Device:
    """Another tablet registered, issued to the agent and confirmed by him."""
    tablet = await devices.register_device(gate.it, devices.DeviceForm(
        asset_tag="PAD90002", serial="SN90002", imei=None, model="Huawei MatePad",
        purchase_date=date(2025, 3, 1), org_id=gate.ids["outlet_a"]))
    await devices.issue_device(gate.it, tablet.id, gate.agent.id)
    return await devices.confirm_receipt(gate.actor, tablet.id)


async def offered(gate: Gate) -> list[str]:
    """The business types the wizard offers the agent now, by code."""
    types = await capture_gate.offered_business_types(gate.agent.id, utcnow(), gate.ctx)
    return [row.code for row in types]


async def test_a_suspended_agent_is_refused_at_new_with_the_reason_in_his_language(
    gate: Gate, chat: Chat
) -> None:
    await operational(gate.agent)
    await qualifications.suspend_all_for_staff(gate.ops, gate.agent.id, SUSPENSION)
    refused = await gate_refusal(gate)
    assert refused.key == "Your qualification for %(business_type)s is suspended: %(reason)s."
    assert refused.params == {"business_type": DEBIT, "reason": SUSPENSION}
    zh = await chat.say("/new")
    assert zh.text == text_of(refused, "zh_CN") and not zh.buttons
    await chat.press("lang:en")
    en = await chat.say("/new")
    assert en.text == text_of(await gate_refusal(gate), "en") == (
        f"Your qualification for Debit card opening is suspended: {SUSPENSION}.")
    assert not await Case.exists()


async def test_a_reinstated_agent_is_let_through(gate: Gate, chat: Chat) -> None:
    await operational(gate.agent)
    await qualifications.suspend_all_for_staff(gate.ops, gate.agent.id, SUSPENSION)
    for row in await gate.agent.qualifications.all():
        await qualifications.reinstate(gate.ops, row.id, "整改完成")
    await chat.press("lang:en")
    types = await chat.say("/new")
    assert set(types.buttons) == {"Debit card opening", "SMS alert sign-up"}
    assert NAME_PROMPT in (await chat.press(types.buttons["Debit card opening"])).text
    assert await Case.filter(agent_id=gate.agent.id).count() == 1


async def test_only_the_types_the_agent_is_qualified_for_are_offered(
    gate: Gate, chat: Chat
) -> None:
    await operational(gate.agent, business_type_ids=[gate.debit_id])
    assert await offered(gate) == ["DEBIT_CARD"]
    types = await chat.say("/new")
    assert list(types.buttons) == [DEBIT]
    forged = await chat.press(types.buttons[DEBIT].replace(str(gate.debit_id),
                                                           str(gate.sms_id)))
    refused = await gate_refusal(gate, gate.sms_id)
    assert refused.params == {"business_type": SMS}
    assert forged.text == text_of(refused, "zh_CN")
    assert not await Case.exists()


async def test_an_agent_without_a_tablet_is_refused_with_the_reason(
    gate: Gate, chat: Chat
) -> None:
    await qualification_basis.record_counter_qualification(ROOT, gate.agent.id, "GT1",
                                                      date(2020, 1, 6))
    await qualifications.grant(ROOT, gate.agent.id, [gate.debit_id, gate.sms_id],
                               QualificationBasis.COUNTER)
    refused = await gate_refusal(gate)
    assert refused.key.startswith("No tablet is issued to you.")
    assert (await chat.say("/new")).text == text_of(refused, "zh_CN")
    await chat.press("lang:en")
    assert (await chat.say("/new")).text == (
        "No tablet is issued to you. Ask the IT department to issue one before you capture "
        "cases.")


async def test_an_unconfirmed_tablet_opens_the_gate_once_the_agent_confirms_in_chat(
    gate: Gate, chat: Chat
) -> None:
    await operational(gate.agent)
    await devices.return_device(gate.it, (await tablet_of(gate)).id)
    tablet = await devices.register_device(gate.it, devices.DeviceForm(
        asset_tag="PAD90001", serial="SN90001", imei=None, model="Huawei MatePad",
        purchase_date=None, org_id=gate.ids["outlet_a"]))
    await devices.issue_device(gate.it, tablet.id, gate.agent.id)
    await chat.press("lang:en")
    assert (await chat.say("/new")).text == (
        "Confirm the receipt of tablet PAD90001 first: press Confirm receipt under the message "
        "about its issue.")
    await chat.press(f"dev:confirm:{tablet.id}")
    assert set((await chat.say("/new")).buttons) == {"Debit card opening", "SMS alert sign-up"}


async def test_a_returned_tablet_shuts_the_gate(gate: Gate, chat: Chat) -> None:
    await operational(gate.agent)
    assert await offered(gate) == ["DEBIT_CARD", "SMS_ALERT"]
    await devices.return_device(gate.it, (await tablet_of(gate)).id, "调岗归还")
    refused = await gate_refusal(gate)
    assert refused.key.startswith("No tablet is issued to you.")
    assert (await chat.say("/new")).text == text_of(refused, "zh_CN")


async def test_a_lost_tablet_shuts_the_gate_until_another_tablet_is_issued(
    gate: Gate, chat: Chat
) -> None:
    await operational(gate.agent)
    tablet = await tablet_of(gate)
    incident = await incidents.report_loss(gate.actor, incidents.LossReport(
        "device", tablet.asset_tag, None, "地铁站", "平板遗失"))
    refused = await gate_refusal(gate)
    assert refused.params == {"incident": incident.id}
    await chat.press("lang:en")
    assert (await chat.say("/new")).text == (
        f"A device loss you reported (incident #{incident.id}) is still open. You can capture "
        "cases again once an administrator closes it or issues you another tablet.")
    await second_tablet(gate)
    assert (await Incident.get(id=incident.id)).status == IncidentStatus.OPEN
    assert set((await chat.say("/new")).buttons) == {"Debit card opening", "SMS alert sign-up"}


async def test_closing_the_loss_leaves_an_agent_without_tablet_refused(gate: Gate) -> None:
    await operational(gate.agent)
    tablet = await tablet_of(gate)
    incident = await incidents.report_loss(gate.actor, incidents.LossReport(
        "device", tablet.asset_tag, None, "地铁站", "平板遗失"))
    await incidents.close_incident(gate.it, incident.id, "已报案，平板已远程锁定")
    assert (await gate_refusal(gate)).key.startswith("No tablet is issued to you.")
    await second_tablet(gate)
    assert await offered(gate) == ["DEBIT_CARD", "SMS_ALERT"]


async def test_the_demo_agents_capture_except_the_suspended_one_whose_tablet_is_lost(
    database_url: str, tmp_path: Path
) -> None:
    result = await seed_demo(lambda *_: None)
    ctx = capture_context(tmp_path / "media", hours=ALWAYS)
    for number, (employee_no, _, code) in enumerate(result.bind_codes, start=8000):
        member = await binding.bind_chat("telegram", str(number), str(number), code)
        if employee_no == "E0105":
            with pytest.raises(DomainError) as refused:
                await capture_gate.offered_business_types(member.id, utcnow(), ctx)
            assert refused.value.params["reason"] == LEDGERS[-1].suspension
        else:
            assert len(await capture_gate.offered_business_types(member.id, utcnow(), ctx)) == len(
                BUSINESS_TYPES), employee_no
    lost = await Device.get(state=DeviceState.LOST).prefetch_related("holder")
    incident = await Incident.get(device=lost)
    assert lost.asset_tag == "PAD-SZ0101-02" and incident.status == IncidentStatus.OPEN
    assert await Qualification.filter(status=QualificationStatus.SUSPENDED).count() == len(
        BUSINESS_TYPES)
