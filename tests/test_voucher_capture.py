"""Using a voucher in a case (issue 5): the capture wizard reserves the serial the agent hands
over from his own tail box; approval issues it, a return keeps it, rejection and cancelling
give it back to the box, and a serial is never reserved twice (C3, V1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import time
from pathlib import Path

import pytest

from domain.cases import business_types, review, review_reasons
from domain.cases.business_types import BusinessTypeForm
from domain.cases.capture_gate import WorkingHours
from domain.models import (
    BusinessType,
    Case,
    CasePhoto,
    CaseStatus,
    Device,
    PhotoKind,
    Role,
    Staff,
    TailBox,
    Voucher,
    VoucherState,
)
from domain.platform.actors import Actor
from domain.vouchers import tail_boxes, voucher_stock
from domain.vouchers.voucher_stock import VoucherTypeForm
from tests.bot_support import bound_agent
from tests.case_support import noisy_jpeg
from tests.chat_driver import Chat, Said, running_bot
from tests.factories import capture_context, operational, org_tree, person
from tests.fake_telegram import FakeTelegram
from tests.review_support import seen

AGENT = 7301
ALWAYS = WorkingHours(weekdays=frozenset(range(7)), start=time(0, 0), end=time(23, 59, 59))
KINDS = frozenset({PhotoKind.ID_FRONT, PhotoKind.ID_BACK, PhotoKind.ONSITE_WITH_AGENT})
TYPE = "Debit card opening"
ONSITE_PROMPT = "Send an on-site photo of you together with the customer."
SERIAL_PROMPT = ("Enter the serial of the Debit card you hand over to the customer, or send a "
                 "photo of it with the serial in the caption.")
RISK_BUTTON = "I gave the risk hints"
CHANGE_SERIAL = "Change: Voucher serial"


def card(number: int) -> str:
    """A 19-digit debit card number with its Luhn check digit."""
    body = f"622202{number:012d}"
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(body)):
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return f"{body}{(10 - total % 10) % 10}"


def spaced(serial: str) -> str:
    """A card number as printed on the card, in groups of four."""
    return " ".join(serial[i:i + 4] for i in range(0, len(serial), 4))


MINE = [card(n) for n in range(1, 4)]
THEIRS = card(11)
IN_VAULT = card(21)


@dataclass
class Desk:
    """Two operational agents, each with debit cards in his tablet's tail box, a reviewer."""

    ids: dict[str, int]
    ops: Actor
    agent: Staff
    reviewer: Actor
    box: TailBox
    media_root: Path


async def box_of(staff: Staff) -> TailBox:
    """The tail box of the tablet issued to a staff member (V1)."""
    device = await Device.get(holder_id=staff.id)
    return await tail_boxes.box_for_device(device.id)


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Desk:
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O1")
    card_type = await voucher_stock.define_voucher_type(
        ops, "DEBIT_CARD", VoucherTypeForm("借记卡", "Debit card", r"\d{19}", "luhn"))
    await business_types.create_business_type(
        ops, "DEBIT_CARD_OPENING", BusinessTypeForm("借记卡开户", TYPE, KINDS),
        voucher_type_code="DEBIT_CARD")
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1", name="陈展业")
    other, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F2", name="李展业")
    _, reviewer = await person(ids["branch_a"], Role.REVIEWER, no="R1")
    await bound_agent(agent, AGENT)
    for member in (agent, other):
        await operational(member)
    await voucher_stock.receive_serials(ops, ids["outlet_a"], card_type.id, [*MINE, IN_VAULT])
    await voucher_stock.receive_serials(ops, ids["outlet_b"], card_type.id, [THEIRS])
    await voucher_stock.set_cap(ops, ids["province"], card_type.id, 100)
    box = await box_of(agent)
    await voucher_stock.allocate(ops, box.id, card_type.id, serials=MINE)
    await voucher_stock.allocate(ops, (await box_of(other)).id, card_type.id, serials=[THEIRS])
    await review_reasons.seed_default_reasons()
    return Desk(ids, ops, agent, reviewer, box, tmp_path / "media")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def chat(desk: Desk, fake: FakeTelegram) -> AsyncIterator[Chat]:
    """The agent's chat with a running bot, switched to English."""
    async with running_bot(fake, desk.media_root, hours=ALWAYS):
        chat = Chat(fake, AGENT)
        await chat.press("lang:en")
        yield chat


async def to_serial_step(chat: Chat, seed: int = 0) -> Said:
    """A new case up to the serial of the card handed over."""
    types = await chat.say("/new")
    await chat.press(types.buttons[TYPE])
    await chat.say("张三")
    await chat.say("11010519491231002X")
    await chat.say("13812345678")
    await chat.location(31.2304, 121.4737)
    await chat.photo(noisy_jpeg(seed))
    said = await chat.photo(noisy_jpeg(seed + 1))
    assert ONSITE_PROMPT in said.text
    said = await chat.photo(noisy_jpeg(seed + 2))
    assert said.text.endswith(SERIAL_PROMPT)
    return said


async def to_summary(chat: Chat, serial: str, seed: int = 0) -> Said:
    """A whole case with the serial typed, up to its summary."""
    await to_serial_step(chat, seed)
    risk = await chat.say(serial)
    assert "e-banking" in risk.text
    return await chat.press(risk.buttons[RISK_BUTTON])


async def submitted_case(chat: Chat, serial: str) -> Case:
    """A case captured with the serial and submitted."""
    summary = await to_summary(chat, serial)
    await chat.press(summary.buttons["Submit"])
    case = await Case.filter(status=CaseStatus.SUBMITTED).order_by("-id").first()
    assert case is not None
    return case


async def state_of(serial: str) -> tuple[VoucherState, int | None, int | None]:
    """Where a serial is: its state, its box and the case holding it."""
    voucher = await Voucher.get(serial=serial)
    return voucher.state, voucher.box_id, voucher.case_id  # type: ignore[attr-defined]


async def test_typed_serial_is_reserved_and_approval_issues_it_to_the_customer(
    chat: Chat, desk: Desk
) -> None:
    await to_serial_step(chat)
    risk = await chat.say(spaced(MINE[0]))
    assert risk.text.startswith(f"Serial {MINE[0]} is reserved for this case.")
    summary = await chat.press(risk.buttons[RISK_BUTTON])
    assert f"Debit card handed over: {MINE[0]}" in summary.text
    assert "Everything is there" in summary.text and CHANGE_SERIAL in summary.buttons
    await chat.press(summary.buttons["Submit"])
    case = await Case.get(status=CaseStatus.SUBMITTED)
    assert await state_of(MINE[0]) == (VoucherState.RESERVED, desk.box.id, case.id)
    await seen(desk.reviewer, case.id)
    await review.approve(desk.reviewer, case.id, capture_context(desk.media_root))
    assert (await state_of(MINE[0]))[0] == VoucherState.ISSUED
    assert (await state_of(MINE[1]))[0] == VoucherState.IN_BOX


async def test_serial_is_read_from_a_photo_caption_and_the_photo_is_not_kept(
    chat: Chat, desk: Desk
) -> None:
    await to_serial_step(chat)
    bare = await chat.photo(noisy_jpeg(9))
    assert bare.text == ("Write the serial in the caption of the photo, or type it.\n\n"
                         f"{SERIAL_PROMPT}")
    risk = await chat.photo(noisy_jpeg(9), caption=f"卡号 {spaced(MINE[1])}")
    assert risk.text.startswith(f"Serial {MINE[1]} is reserved for this case.")
    case = await Case.get(agent_id=desk.agent.id)
    assert (await state_of(MINE[1]))[2] == case.id
    assert await CasePhoto.filter(case_id=case.id).count() == 3


async def test_serials_outside_the_agents_box_are_refused_with_the_reason(
    chat: Chat, desk: Desk
) -> None:
    await to_serial_step(chat)
    mistyped = MINE[0][:-1] + str((int(MINE[0][-1]) + 1) % 10)
    refusals = {
        mistyped: f"Serial {mistyped} is malformed: check the number and its check digit.",
        "12": "Serial 12 is malformed: check the number and its check digit.",
        THEIRS: f"Serial {THEIRS} is not in your tail box.",
        IN_VAULT: f"Serial {IN_VAULT} is not in your tail box.",
        "no number here": "I found no serial in your message.",
    }
    for text, fault in refusals.items():
        assert (await chat.say(text)).text == f"{fault}\n\n{SERIAL_PROMPT}"
    assert await Voucher.filter(state=VoucherState.RESERVED).count() == 0
    other = await box_of(await Staff.get(employee_no="F2"))
    assert await state_of(THEIRS) == (VoucherState.IN_BOX, other.id, None)


async def test_a_frozen_box_lends_no_serial(chat: Chat, desk: Desk) -> None:
    await to_serial_step(chat)
    device = await Device.get(holder_id=desk.agent.id)
    await tail_boxes.freeze_box_of_device(desk.ops, device.id, "tablet reported lost")
    said = await chat.say(MINE[0])
    assert said.text == ("Your tail box is frozen (tablet reported lost); its vouchers cannot "
                         f"be used.\n\n{SERIAL_PROMPT}")
    assert (await state_of(MINE[0]))[0] == VoucherState.IN_BOX


async def test_a_serial_reserved_by_one_case_cannot_be_reserved_by_another(
    chat: Chat, desk: Desk
) -> None:
    first = await submitted_case(chat, MINE[0])
    await to_serial_step(chat, seed=10)
    refused = await chat.say(MINE[0])
    assert refused.text == (f"Serial {MINE[0]} is already reserved by another case.\n\n"
                            f"{SERIAL_PROMPT}")
    assert await state_of(MINE[0]) == (VoucherState.RESERVED, desk.box.id, first.id)
    accepted = await chat.say(MINE[1])
    assert accepted.text.startswith(f"Serial {MINE[1]} is reserved for this case.")


async def test_changing_the_serial_gives_the_old_one_back_to_the_box(
    chat: Chat, desk: Desk
) -> None:
    summary = await to_summary(chat, MINE[0])
    asked = await chat.press(summary.buttons[CHANGE_SERIAL])
    assert asked.text == SERIAL_PROMPT
    again = await chat.say(MINE[2])
    assert f"Debit card handed over: {MINE[2]}" in again.text
    assert "Everything is there" in again.text
    case = await Case.get(agent_id=desk.agent.id)
    assert await state_of(MINE[0]) == (VoucherState.IN_BOX, desk.box.id, None)
    assert await state_of(MINE[2]) == (VoucherState.RESERVED, desk.box.id, case.id)


async def test_back_moves_between_the_onsite_photo_the_serial_and_the_risk_hints(
    chat: Chat, desk: Desk
) -> None:
    await to_serial_step(chat)
    risk = await chat.say(MINE[0])
    serial_step = await chat.press(risk.buttons["« Back"])
    assert serial_step.text == SERIAL_PROMPT
    photo_step = await chat.press(serial_step.buttons["« Back"])
    assert photo_step.text.startswith(ONSITE_PROMPT)
    assert (await state_of(MINE[0]))[0] == VoucherState.RESERVED


async def test_a_case_without_its_serial_cannot_be_submitted(chat: Chat, desk: Desk) -> None:
    await to_serial_step(chat)
    case = await Case.get(agent_id=desk.agent.id)
    refused = await chat.press(f"cap:submit:{case.id}")
    assert refused.text == ("Enter the serial of the voucher you hand over to the customer "
                            "before submitting.")
    assert (await Case.get(id=case.id)).status == CaseStatus.DRAFT


async def test_a_cancelled_draft_leaves_its_card_to_be_taken_back(chat: Chat, desk: Desk) -> None:
    await to_serial_step(chat)
    await chat.say(MINE[0])
    said = await chat.cancel()
    assert said.text == "The draft was cancelled; nothing of it will be submitted."
    case = await Case.get(agent_id=desk.agent.id)
    assert await state_of(MINE[0]) == (VoucherState.MIS_ISSUED, desk.box.id, case.id)


async def test_a_rejected_case_leaves_its_card_to_be_taken_back(chat: Chat, desk: Desk) -> None:
    case = await submitted_case(chat, MINE[0])
    await review.reject(desk.reviewer, case.id, "identity_doubt", "",
                        capture_context(desk.media_root))
    assert await state_of(MINE[0]) == (VoucherState.MIS_ISSUED, desk.box.id, case.id)


async def test_returned_case_keeps_its_serial_through_the_retake_and_is_issued_on_approval(
    chat: Chat, desk: Desk
) -> None:
    case = await submitted_case(chat, MINE[0])
    ctx = capture_context(desk.media_root)
    await review.return_case(desk.reviewer, case.id, ["unclear_image"], "", ctx,
                             retake_items=["id_back"])
    assert await state_of(MINE[0]) == (VoucherState.RESERVED, desk.box.id, case.id)
    retake = await chat.press(f"cap:retake:{case.id}")
    assert "Send a photo of the ID card national emblem side." in retake.text
    summary = await chat.photo(noisy_jpeg(7))
    assert f"Debit card handed over: {MINE[0]}" in summary.text
    assert CHANGE_SERIAL not in summary.buttons
    await chat.press(summary.buttons["Submit"])
    await seen(desk.reviewer, case.id)
    await review.approve(desk.reviewer, case.id, ctx)
    assert (await state_of(MINE[0]))[0] == VoucherState.ISSUED


async def test_four_eyes_first_approval_keeps_the_serial_reserved(
    chat: Chat, desk: Desk
) -> None:
    opening = await BusinessType.get(code="DEBIT_CARD_OPENING")
    await business_types.update_business_type(desk.ops, opening.id, BusinessTypeForm(
        "借记卡开户", TYPE, KINDS, four_eyes=True))
    case = await submitted_case(chat, MINE[0])
    ctx = capture_context(desk.media_root)
    await seen(desk.reviewer, case.id)
    await review.approve(desk.reviewer, case.id, ctx)
    assert (await state_of(MINE[0]))[0] == VoucherState.RESERVED
    _, second = await person(desk.ids["branch_a"], Role.REVIEWER, no="R2")
    await seen(second, case.id)
    await review.approve(second, case.id, ctx)
    assert (await state_of(MINE[0]))[0] == VoucherState.ISSUED
