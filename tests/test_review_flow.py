"""Reviewing in chat (issue 3): claim, approve, return, reject, hold from Telegram buttons.

Driven through the real python-telegram-bot application against the fake Bot API; cases are
captured and submitted through the domain services, decisions checked in the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from bot.dispatcher import OutboxDispatcher
from bot.flows.context import FlowContext
from bot.telegram import TelegramBot
from domain.cases import business_types, cases, review_reasons
from domain.cases.business_types import BusinessTypeForm
from domain.cases.capture_gate import WorkingHours
from domain.models import (
    Case,
    CaseDecision,
    CaseStatus,
    ChatSession,
    OutboxMessage,
    OutboxStatus,
    ReasonKind,
    ReviewReason,
    Role,
    Staff,
)
from domain.people import binding
from domain.platform.actors import Actor, actor_for
from locales import translate
from tests.bot_support import NOT_BOUND, code_for, config, press, say
from tests.case_support import ID_NUMBER, KINDS, MOBILE, noisy_jpeg
from tests.factories import flow_context, operational, org_tree, person
from tests.fake_telegram import FakeTelegram
from tests.review_support import seen

AGENT, FIRST, SECOND, OTHER_BRANCH = 7101, 7102, 7103, 7104
PUBLIC_URL = "https://ops.example"
NO_LONGER_VALID = "This button is no longer valid."
OUT_OF_SCOPE = "No such case."
APPROVED = "Case %(case_no)s approved. The agent is being told."
FIRST_APPROVAL = ("First approval of case %(case_no)s recorded. A second reviewer must "
                  "confirm it before it is approved.")


@dataclass
class Desk:
    """An agent in outlet a, reviewers of branch a and b bound in chat, two business types."""

    ctx: FlowContext
    agent: Actor
    reviewers: dict[int, Staff]
    plain_type_id: int
    four_eyes_type_id: int


def zh(msgid: str, **params: Any) -> str:
    """What a Chinese-speaking reviewer reads."""
    return translate("zh_CN", msgid, **params)


@cache
def photo(seed: int) -> bytes:
    """One sharp test photo per seed, made once per run."""
    return noisy_jpeg(seed)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A running fake Bot API server."""
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def ctx(tmp_path: Path) -> FlowContext:
    """Flow context open around the clock, with a public address for web links."""
    return flow_context(tmp_path, public_url=PUBLIC_URL, hours=WorkingHours(
        weekdays=frozenset(range(7)), start=time(0, 0), end=time(23, 59, 59)))


@pytest.fixture
async def bot(database_url: str, fake: FakeTelegram, ctx: FlowContext
              ) -> AsyncIterator[TelegramBot]:
    """The FieldOps bot, long polling the fake server."""
    telegram = TelegramBot(config(fake), ctx)
    await telegram.start()
    try:
        yield telegram
    finally:
        await telegram.stop()


async def bound(org_id: int, role: Role, no: str, user: int) -> tuple[Staff, Actor]:
    """A staff member whose Telegram account `user` is bound with a one-time code (Q6)."""
    row, actor = await person(org_id, role, no=no, name=f"员工{no}")
    await binding.bind_chat("telegram", str(user), str(user), await code_for(row))
    return row, actor


@pytest.fixture
async def desk(bot: TelegramBot, ctx: FlowContext) -> Desk:
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O1")
    plain = await business_types.create_business_type(
        ops, "DEBIT_CARD", BusinessTypeForm("借记卡开户", "Debit card opening", frozenset(KINDS)))
    four_eyes = await business_types.create_business_type(
        ops, "PROFILE", BusinessTypeForm("个人客户信息建立/修改", "Customer profile",
                                         frozenset(KINDS), four_eyes=True))
    await review_reasons.seed_default_reasons()
    agent_row, agent = await bound(ids["outlet_a"], Role.FIELD_AGENT, "F1", AGENT)
    await operational(agent_row)
    reviewers = {user: (await bound(ids[org], Role.REVIEWER, no, user))[0]
                 for user, org, no in ((FIRST, "branch_a", "R1"), (SECOND, "branch_a", "R2"),
                                       (OTHER_BRANCH, "branch_b", "R3"))}
    return Desk(ctx, agent, reviewers, plain.id, four_eyes.id)


async def submitted(desk: Desk, four_eyes: bool = False) -> Case:
    """A complete case captured by the agent and submitted for review."""
    type_id = desk.four_eyes_type_id if four_eyes else desk.plain_type_id
    capture = desk.ctx.capture
    case = await cases.start_draft(desk.agent, type_id, capture)
    await cases.set_customer(desk.agent, case.id, "张三", ID_NUMBER, MOBILE, capture)
    for seed, kind in enumerate(KINDS):
        await cases.add_photo(desk.agent, case.id, kind, photo(seed), f"{kind}.jpg",
                              "image/jpeg", capture)
    await cases.confirm_risk_hint(desk.agent, case.id)
    return await cases.submit(desk.agent, case.id, capture)


def keyboard(fake: FakeTelegram, user: int) -> dict[str, str]:
    """The buttons under the last message to a user: label → callback data or URL."""
    markup = fake.sent(user)[-1].params.get("reply_markup") or {"inline_keyboard": []}
    return {b["text"]: b.get("callback_data") or b.get("url", "")
            for row in markup["inline_keyboard"] for b in row}


async def state(case: Case) -> tuple[CaseStatus, int | None, int]:
    """Status, claimer and number of decisions of a case, read fresh from the database."""
    row = await Case.get(id=case.id)
    decisions = await CaseDecision.filter(case_id=case.id).count()
    return row.status, row.claimed_by_id, decisions  # type: ignore[attr-defined]


async def opened(desk: Desk, user: int, case: Case) -> None:
    """The reviewer of this chat opened the case's page, with its photos (C6, issue 16)."""
    await seen(await actor_for(desk.reviewers[user]), case.id)


async def reasons(kind: ReasonKind) -> list[ReviewReason]:
    """The reasons reviewers are offered."""
    return await review_reasons.active_reasons(kind)


async def test_claim_from_chat_shows_the_masked_case_with_decision_buttons(
    desk: Desk, fake: FakeTelegram
) -> None:
    case = await submitted(desk)
    await opened(desk, FIRST, case)
    text = await press(fake, FIRST, f"rv:claim:{case.id}")
    assert text.startswith(zh("You claimed case %(case_no)s.", case_no=case.case_no))
    assert "张三" in text and "借记卡开户" in text
    assert ID_NUMBER not in text and ID_NUMBER[-4:] in text
    assert MOBILE not in text and MOBILE[-4:] in text
    assert zh("ID card, portrait side") in text
    buttons = keyboard(fake, FIRST)
    assert buttons[zh("Approve")] == f"rv:approve:{case.id}"
    assert buttons[zh("Return")] == f"rv:return:{case.id}"
    assert buttons[zh("Reject")] == f"rv:reject:{case.id}"
    assert buttons[zh("Release")] == f"rv:release:{case.id}"
    assert buttons[zh("Open in web")] == f"{PUBLIC_URL}/cases/{case.id}"
    assert await state(case) == (CaseStatus.IN_REVIEW, desk.reviewers[FIRST].id, 0)


async def test_approve_from_chat_approves_the_case(desk: Desk, fake: FakeTelegram) -> None:
    case = await submitted(desk)
    await press(fake, FIRST, f"rv:claim:{case.id}")
    await opened(desk, FIRST, case)
    assert await press(fake, FIRST, f"rv:approve:{case.id}") == zh(APPROVED,
                                                                    case_no=case.case_no)
    assert await state(case) == (CaseStatus.APPROVED, desk.reviewers[FIRST].id, 1)


async def test_four_eyes_case_needs_a_second_reviewer_in_chat(
    desk: Desk, fake: FakeTelegram
) -> None:
    case = await submitted(desk, four_eyes=True)
    await opened(desk, FIRST, case)
    first = await press(fake, FIRST, f"rv:approve:{case.id}")
    assert first == zh(FIRST_APPROVAL, case_no=case.case_no)
    assert (await state(case))[0] == CaseStatus.IN_REVIEW
    await opened(desk, FIRST, case)
    again = await press(fake, FIRST, f"rv:approve:{case.id}")
    assert again == zh("You gave the first approval of case %(case_no)s; a different reviewer "
                       "must give the second approval.", case_no=case.case_no)
    assert (await state(case))[0] == CaseStatus.IN_REVIEW
    await opened(desk, SECOND, case)
    assert await press(fake, SECOND, f"rv:approve:{case.id}") == zh(APPROVED,
                                                                     case_no=case.case_no)
    assert (await state(case))[0] == CaseStatus.APPROVED


async def test_return_with_two_reasons_and_a_note_returns_the_case_with_both(
    desk: Desk, fake: FakeTelegram
) -> None:
    case = await submitted(desk)
    first, second, third = (await reasons(ReasonKind.RETURN))[:3]
    await press(fake, FIRST, f"rv:return:{case.id}")
    offered = keyboard(fake, FIRST)
    assert offered[first.name_zh] == f"rv:rt:{case.id}:{first.code}"
    assert {zh("Add a note"), zh("Send return"), zh("Back")} <= set(offered)
    for chosen in (first, third, second, third):
        await press(fake, FIRST, f"rv:rt:{case.id}:{chosen.code}")
    ticked = keyboard(fake, FIRST)
    assert {f"✓ {first.name_zh}", f"✓ {second.name_zh}", third.name_zh} <= set(ticked)
    assert await press(fake, FIRST, f"rv:rn:{case.id}") == zh("Type the note for the agent.")
    assert "身份证反面反光" in await say(fake, FIRST, "身份证反面反光")
    done = await press(fake, FIRST, f"rv:rs:{case.id}")
    assert done.startswith(zh("Case %(case_no)s returned to the agent. Reasons: %(reasons)s",
                              case_no=case.case_no, reasons=f"{first.name_zh}、{second.name_zh}"))
    assert (await state(case))[0] == CaseStatus.RETURNED
    decision = await CaseDecision.get(case_id=case.id)
    assert sorted(decision.reason_codes) == sorted([first.code, second.code])
    assert decision.note == "身份证反面反光"
    assert (await ChatSession.get(external_user_id=str(FIRST))).step == "idle"


async def test_return_with_no_reason_ticked_is_refused(desk: Desk, fake: FakeTelegram) -> None:
    case = await submitted(desk)
    await press(fake, FIRST, f"rv:return:{case.id}")
    assert await press(fake, FIRST, f"rv:rs:{case.id}") == zh(
        "Choose at least one return reason before sending.")
    assert await state(case) == (CaseStatus.IN_REVIEW, desk.reviewers[FIRST].id, 0)
    assert await press(fake, SECOND, f"rv:return:{case.id}") == zh(
        "Case %(case_no)s is being reviewed by %(reviewer)s.", case_no=case.case_no,
        reviewer="R1 员工R1")


async def test_approve_on_a_case_decided_by_another_reviewer_is_refused(
    desk: Desk, fake: FakeTelegram
) -> None:
    case = await submitted(desk)
    await opened(desk, FIRST, case)
    await press(fake, FIRST, f"rv:approve:{case.id}")
    decided = await state(case)
    await opened(desk, SECOND, case)
    late = await press(fake, SECOND, f"rv:approve:{case.id}")
    assert late != zh(APPROVED, case_no=case.case_no) and case.case_no in late
    assert await state(case) == decided == (CaseStatus.APPROVED, desk.reviewers[FIRST].id, 1)
    assert late == zh("Case %(case_no)s has already been approved.", case_no=case.case_no)
    assert await press(fake, SECOND, f"rv:return:{case.id}") == late
    assert await state(case) == decided


async def test_reviewer_of_another_branch_is_refused(desk: Desk, fake: FakeTelegram) -> None:
    case = await submitted(desk)
    for data in (f"rv:claim:{case.id}", f"rv:approve:{case.id}", f"rv:return:{case.id}"):
        assert await press(fake, OTHER_BRANCH, data) == zh(OUT_OF_SCOPE)
    assert await state(case) == (CaseStatus.SUBMITTED, None, 0)


async def test_malformed_review_buttons_are_no_longer_valid(
    desk: Desk, fake: FakeTelegram
) -> None:
    case = await submitted(desk)
    for data in ("rv:claim:abc", "rv:claim:", f"rv:approve:{case.id}:X", f"rv:rt:{case.id}",
                 "rv:zap:1", "rv:claim:99999999999", f"rv:rt:{case.id}:NO_SUCH_REASON",
                 f"rv:claim:-{case.id}", f"rv:claim:{case.id} "):
        assert await press(fake, FIRST, data) == zh(NO_LONGER_VALID), data
    assert await state(case) == (CaseStatus.SUBMITTED, None, 0)


async def test_unbound_chat_cannot_review(desk: Desk, fake: FakeTelegram) -> None:
    case = await submitted(desk)
    assert await press(fake, 7199, f"rv:claim:{case.id}") == zh(NOT_BOUND)
    assert await state(case) == (CaseStatus.SUBMITTED, None, 0)


async def test_the_same_button_update_delivered_twice_acts_once(
    desk: Desk, fake: FakeTelegram
) -> None:
    case = await submitted(desk, four_eyes=True)
    await opened(desk, FIRST, case)
    update = fake.button(FIRST, f"rv:approve:{case.id}")
    fake.push(update, update, fake.message(FIRST, "/queue"))
    await fake.wait_until(lambda: len(fake.texts(FIRST)) >= 2)
    assert fake.texts(FIRST)[0] == zh(FIRST_APPROVAL, case_no=case.case_no)
    assert case.case_no in fake.texts(FIRST)[1]
    assert len(fake.texts(FIRST)) == 2
    assert await state(case) == (CaseStatus.IN_REVIEW, None, 1)
    first_approver = (await Case.get(id=case.id)).first_approved_by_id  # type: ignore[attr-defined]
    assert first_approver == desk.reviewers[FIRST].id


async def test_reject_with_a_reason_button(desk: Desk, fake: FakeTelegram) -> None:
    case = await submitted(desk)
    chosen = (await reasons(ReasonKind.REJECT))[0]
    await press(fake, FIRST, f"rv:reject:{case.id}")
    assert keyboard(fake, FIRST)[chosen.name_zh] == f"rv:rj:{case.id}:{chosen.code}"
    assert await press(fake, FIRST, f"rv:rj:{case.id}:{chosen.code}") == zh(
        "Case %(case_no)s rejected. Reason: %(reason)s", case_no=case.case_no,
        reason=chosen.name_zh)
    assert (await state(case))[0] == CaseStatus.REJECTED
    assert (await CaseDecision.get(case_id=case.id)).reason_codes == [chosen.code]


async def test_hold_asks_for_a_note_then_puts_the_case_on_hold(
    desk: Desk, fake: FakeTelegram
) -> None:
    case = await submitted(desk)
    prompt = await press(fake, FIRST, f"rv:hold:{case.id}")
    assert case.case_no in prompt
    assert await say(fake, FIRST, "联网核查系统故障") == zh(
        "Case %(case_no)s is on hold. Operations management and the IT department have been "
        "alerted.", case_no=case.case_no)
    assert (await state(case))[0] == CaseStatus.ON_HOLD
    assert (await CaseDecision.get(case_id=case.id)).note == "联网核查系统故障"


async def test_release_gives_the_case_back_and_queue_offers_it_again(
    desk: Desk, fake: FakeTelegram
) -> None:
    older, newer = await submitted(desk), await submitted(desk)
    await press(fake, FIRST, f"rv:claim:{older.id}")
    assert await press(fake, FIRST, f"rv:release:{older.id}") == zh(
        "Case %(case_no)s is back in the review queue.", case_no=older.case_no)
    assert keyboard(fake, FIRST) == {zh("Claim"): f"rv:claim:{older.id}"}
    assert await state(older) == (CaseStatus.SUBMITTED, None, 0)
    listing = await say(fake, SECOND, "/queue")
    assert listing.index(older.case_no) < listing.index(newer.case_no)
    assert list(keyboard(fake, SECOND).values()) == [f"rv:claim:{older.id}",
                                                     f"rv:claim:{newer.id}"]
    assert await say(fake, OTHER_BRANCH, "/queue") == zh("No open cases in your orgs.")


async def delivered(bot: TelegramBot, fake: FakeTelegram, user: int) -> str:
    """Send every due outbox message and return the newest text the user got."""
    dispatcher = OutboxDispatcher({"telegram": bot}, poll_seconds=0.05,  # type: ignore[dict-item]
                                  backoff_seconds=0.05, default_locale="zh_CN")
    before = len(fake.texts(user))
    async with asyncio.timeout(10):
        while await OutboxMessage.filter(status=OutboxStatus.PENDING).exists():
            await dispatcher.run_once()
    await fake.wait_until(lambda: len(fake.texts(user)) > before)
    return fake.texts(user)[-1]


async def test_reviewers_decide_from_the_buttons_of_their_notifications(
    bot: TelegramBot, desk: Desk, fake: FakeTelegram
) -> None:
    case = await submitted(desk, four_eyes=True)
    assert case.case_no in await delivered(bot, fake, FIRST)
    offered = keyboard(fake, FIRST)
    assert offered[zh("Open in web")] == f"{PUBLIC_URL}/cases/{case.id}"
    assert zh("Approve") not in offered  # not before the photos were opened (C6)
    await opened(desk, FIRST, case)
    assert (await press(fake, FIRST, offered[zh("Claim")])).startswith(
        zh("You claimed case %(case_no)s.", case_no=case.case_no))
    await press(fake, FIRST, keyboard(fake, FIRST)[zh("Approve")])
    assert case.case_no in await delivered(bot, fake, SECOND)
    await opened(desk, SECOND, case)
    await press(fake, SECOND, keyboard(fake, SECOND)[zh("Claim")])
    assert await press(fake, SECOND, keyboard(fake, SECOND)[zh("Approve")]) == zh(
        APPROVED, case_no=case.case_no)
    assert (await state(case))[0] == CaseStatus.APPROVED
    assert OTHER_BRANCH not in {int(c.params["chat_id"]) for c in fake.sent()}
