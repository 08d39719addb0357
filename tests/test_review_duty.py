"""Reviewers on duty (issue 14, "Fewer, better messages"): a new case, the call for a second
approval and the reminder of an unclaimed case go to the on-duty reviewers of the case's org
chain, to the whole chain when nobody there is on duty; the duty lapses at the end of the
business day; only reviewers say it, in Telegram and in the browser chat; the review desk
shows who is on duty."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.flows import duty as duty_flow
from bot.flows.context import FlowContext
from bot.telegram import TelegramBot
from domain.cases import review, review_duty, review_sla
from domain.models import AuditLog, OutboxMessage, OutboxStatus, Role, Staff
from domain.models.review_duty import ReviewerDuty
from domain.people import binding
from domain.platform.actors import Actor, actor_for
from domain.platform.errors import PermissionDenied
from locales import translate
from tests import webchat_support
from tests.admin_support import admin_site, log_in
from tests.bot_support import code_for, config, dispatching, press, say
from tests.case_support import MONDAY_10AM
from tests.chat_support import chat_config
from tests.factories import flow_context, org_tree, person, web_user
from tests.fake_telegram import FakeTelegram
from tests.review_support import Desk, build_desk, seen, submitted_case

ZONE = ZoneInfo("Asia/Shanghai")  # the tests' business time zone
HALF = MONDAY_10AM + timedelta(minutes=10)  # the desk's types have a 20-minute review SLA
REVIEWER_USER, AGENT_USER, SECOND_USER = 8101, 8102, 8103


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Desk:
    return await build_desk(tmp_path)


async def on_duty(actor: Actor, at: datetime = MONDAY_10AM) -> None:
    """The reviewer says /duty on at a moment."""
    await review_duty.set_on_duty(actor, True, ZONE, now=at)


async def told(kind: str, case_id: int) -> set[int]:
    """Who was queued a notice of this kind about the case."""
    rows = await OutboxMessage.filter(kind=kind, subject_id=case_id)
    return {row.recipient_id for row in rows}  # type: ignore[attr-defined]


async def test_a_new_case_goes_to_the_on_duty_reviewers_of_its_chain_only(desk: Desk) -> None:
    await on_duty(desk.reviewer)
    await on_duty(desk.outsider)  # on duty, but his branch is not in the case's chain
    case = await submitted_case(desk)
    assert await told("case.submitted", case.id) == {desk.reviewer.staff_id}


async def test_nobody_on_duty_in_the_chain_tells_every_reviewer_of_the_chain(desk: Desk) -> None:
    await on_duty(desk.outsider)
    case = await submitted_case(desk)
    assert await told("case.submitted", case.id) == {desk.reviewer.staff_id,
                                                     desk.second.staff_id}


async def test_the_duty_lapses_at_the_end_of_the_business_day(desk: Desk) -> None:
    await on_duty(desk.reviewer)  # Monday 10:00 in Shanghai: on duty until 24:00
    state = await review_duty.duty_state(desk.reviewer, MONDAY_10AM + timedelta(hours=13))
    assert state.on_duty and state.until == MONDAY_10AM + timedelta(hours=14)
    tuesday = MONDAY_10AM + timedelta(days=1)
    assert not (await review_duty.duty_state(desk.reviewer, tuesday)).on_duty
    case = await submitted_case(desk, at=tuesday)
    assert await told("case.submitted", case.id) == {desk.reviewer.staff_id,
                                                     desk.second.staff_id}


async def test_off_duty_ends_it_at_once_and_every_change_is_audited(desk: Desk) -> None:
    await on_duty(desk.reviewer)
    await on_duty(desk.reviewer, MONDAY_10AM + timedelta(minutes=5))  # said again: no change
    off = await review_duty.set_on_duty(desk.reviewer, False, ZONE,
                                        now=MONDAY_10AM + timedelta(hours=1))
    assert not off.on_duty
    row = await ReviewerDuty.get(staff_id=desk.reviewer.staff_id)
    assert row.on_duty_until is None and row.changed_at == MONDAY_10AM + timedelta(hours=1)
    actions = await AuditLog.filter(object_type="staff", object_id=str(desk.reviewer.staff_id),
                                    action__startswith="review.duty").values_list("action",
                                                                                  flat=True)
    assert list(actions) == ["review.duty_on", "review.duty_off"]


async def test_only_reviewers_go_on_duty(desk: Desk) -> None:
    for actor in (desk.supervisor, desk.agent, desk.ops):
        with pytest.raises(PermissionDenied) as refused:
            await review_duty.set_on_duty(actor, True, ZONE, now=MONDAY_10AM)
        assert refused.value.key == review_duty.NOT_A_REVIEWER
    assert not await ReviewerDuty.exists()


async def test_the_unclaimed_reminder_goes_to_the_on_duty_reviewers(desk: Desk) -> None:
    await on_duty(desk.second)
    case = await submitted_case(desk)
    await review_sla.sweep_sla(HALF, timedelta(minutes=30), desk.ctx)
    assert await told("case.sla_reminder", case.id) == {desk.second.staff_id}


async def test_the_reminder_of_a_claimed_case_goes_to_its_claimer_only(desk: Desk) -> None:
    await on_duty(desk.second)
    case = await submitted_case(desk)
    await review.claim(desk.reviewer, case.id, MONDAY_10AM + timedelta(minutes=1))
    await review_sla.sweep_sla(HALF, timedelta(minutes=30), desk.ctx)
    assert await told("case.sla_reminder", case.id) == {desk.reviewer.staff_id}


async def test_the_second_approval_is_asked_of_the_other_on_duty_reviewers(desk: Desk
                                                                           ) -> None:
    _, third = await person(desk.ids["branch_a"], Role.REVIEWER, no="R004")
    for actor in (desk.reviewer, desk.second):
        await on_duty(actor)
    case = await submitted_case(desk, four_eyes=True)
    await seen(desk.reviewer, case.id)
    await review.approve(desk.reviewer, case.id, desk.ctx, MONDAY_10AM + timedelta(minutes=2))
    assert await told("case.second_approval", case.id) == {desk.second.staff_id}
    assert third.staff_id not in await told("case.submitted", case.id)


async def test_the_second_approval_falls_back_to_the_chain(desk: Desk) -> None:
    await on_duty(desk.reviewer)  # the first approver is the only one on duty
    case = await submitted_case(desk, four_eyes=True)
    await seen(desk.reviewer, case.id)
    await review.approve(desk.reviewer, case.id, desk.ctx, MONDAY_10AM + timedelta(minutes=2))
    assert await told("case.second_approval", case.id) == {desk.second.staff_id}


async def test_the_review_desk_shows_who_is_on_duty(database_url: str, tmp_path: Path) -> None:
    ids = await org_tree()
    _, username = await web_user(ids["branch_a"], Role.REVIEWER, no="R9")
    row, reviewer = await person(ids["province"], Role.REVIEWER, no="R8", name="值班甲")
    async with admin_site(chat_config(tmp_path)) as client:
        await log_in(client, username)
        page = await (await client.get("/cases")).text()
        assert translate("zh_CN", "Nobody is on duty: new cases go to every reviewer of their "
                         "org chain.") in page
        await review_duty.set_on_duty(reviewer, True, ZONE)
        page = await (await client.get("/cases")).text()
        assert "值班甲" in page and row.employee_no in page


# --- /duty in chat ---------------------------------------------------------------------------


def zh(msgid: str) -> str:
    """The first line of what a Chinese-speaking user reads."""
    return translate("zh_CN", msgid).split("%")[0]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def ctx(tmp_path: Path) -> FlowContext:
    return flow_context(tmp_path)


@pytest.fixture
async def bot(database_url: str, fake: FakeTelegram, ctx: FlowContext
              ) -> AsyncIterator[TelegramBot]:
    telegram = TelegramBot(config(fake), ctx)
    await telegram.start()
    try:
        yield telegram
    finally:
        await telegram.stop()


async def bound(org_id: int, role: Role, no: str, user: int) -> Staff:
    """A staff member whose Telegram account is bound."""
    row, _ = await person(org_id, role, no=no)
    await binding.bind_chat("telegram", str(user), str(user), await code_for(row))
    return row


async def test_duty_in_telegram_shows_and_changes_the_duty(bot: TelegramBot,
                                                           fake: FakeTelegram) -> None:
    ids = await org_tree()
    reviewer = await bound(ids["branch_a"], Role.REVIEWER, "R1", REVIEWER_USER)
    assert (await say(fake, REVIEWER_USER, "/duty")).startswith(zh(duty_flow.OFF_DUTY))
    buttons = [button["callback_data"] for row in
               fake.sent(REVIEWER_USER)[-1].params["reply_markup"]["inline_keyboard"]
               for button in row]
    assert buttons == ["duty:on", "duty:off"]
    assert (await press(fake, REVIEWER_USER, "duty:on")).startswith(zh(duty_flow.ON_DUTY))
    assert (await ReviewerDuty.get(staff_id=reviewer.id)).channel == "telegram"
    assert (await say(fake, REVIEWER_USER, "/duty off")).startswith(zh(duty_flow.OFF_DUTY))
    assert (await say(fake, REVIEWER_USER, "/duty on")).startswith(zh(duty_flow.ON_DUTY))
    assert (await review_duty.duty_state(await actor_for(reviewer))).on_duty


async def test_duty_in_telegram_is_refused_to_whoever_is_no_reviewer(bot: TelegramBot,
                                                                     fake: FakeTelegram) -> None:
    ids = await org_tree()
    await bound(ids["outlet_a"], Role.FIELD_AGENT, "F1", AGENT_USER)
    refusal = translate("zh_CN", review_duty.NOT_A_REVIEWER)
    assert await say(fake, AGENT_USER, "/duty on") == refusal
    assert not await ReviewerDuty.exists()


async def test_duty_in_the_browser_chat(database_url: str, tmp_path: Path) -> None:
    ids = await org_tree()
    row, username = await web_user(ids["branch_a"], Role.REVIEWER, no="R1")
    async with admin_site(chat_config(tmp_path)) as client:
        await log_in(client, username)
        assert zh(duty_flow.OFF_DUTY) in await webchat_support.say(client, "/duty")
        assert zh(duty_flow.ON_DUTY) in await webchat_support.press(client, "duty:on")
    state = await ReviewerDuty.get(staff_id=row.id)
    assert state.channel == "web" and state.on_duty_until is not None



# --- a claim edits the others' notices -------------------------------------------------------


async def notices_to(actor: Actor) -> list[OutboxMessage]:
    """The outbox rows of one reviewer, oldest first."""
    return await OutboxMessage.filter(recipient_id=actor.staff_id).order_by("id")


async def test_a_claim_edits_the_other_reviewers_sent_notices(desk: Desk) -> None:
    case = await submitted_case(desk)
    await OutboxMessage.filter(kind="case.submitted").update(
        status=OutboxStatus.SENT, external_message_id="41")
    await review.claim(desk.reviewer, case.id, MONDAY_10AM + timedelta(minutes=1))
    original, edit = await notices_to(desk.second)
    assert edit.edit_of == original.id and edit.kind == "case.claimed"
    assert edit.actions == [] and edit.status == OutboxStatus.PENDING
    assert translate("zh_CN", edit.template, **edit.params) == translate(
        "zh_CN", review.CLAIMED_BY_OTHER, case_no=case.case_no, reviewer=desk.reviewer.label)
    assert [row.kind for row in await notices_to(desk.reviewer)] == ["case.submitted"]


async def test_a_claim_rewrites_an_unsent_notice_in_place(desk: Desk) -> None:
    case = await submitted_case(desk)
    await review.claim(desk.reviewer, case.id, MONDAY_10AM + timedelta(minutes=1))
    original, edit = await notices_to(desk.second)
    assert (original.template, original.actions, original.status) == (
        review.CLAIMED_BY_OTHER, [], OutboxStatus.PENDING)
    assert edit.kind == "case.claimed" and edit.status == OutboxStatus.SENT


async def test_a_decision_without_a_claim_edits_the_notices_too(desk: Desk) -> None:
    case = await submitted_case(desk)
    await seen(desk.second, case.id)
    await review.approve(desk.second, case.id, desk.ctx, MONDAY_10AM + timedelta(minutes=1))
    [notice] = [row for row in await notices_to(desk.reviewer) if row.edit_of is None]
    assert notice.template == review.CLAIMED_BY_OTHER and notice.actions == []
    assert notice.params["reviewer"] == desk.second.label


async def test_a_release_offers_the_case_again_in_the_same_notices(desk: Desk) -> None:
    case = await submitted_case(desk)
    await review.claim(desk.reviewer, case.id, MONDAY_10AM + timedelta(minutes=1))
    await review.release(desk.reviewer, case.id)
    [notice] = [row for row in await notices_to(desk.second) if row.edit_of is None]
    assert notice.template == review.BACK_IN_QUEUE
    assert notice.actions == ["claim", "return", "open"]  # Approve once the photos were seen


async def test_the_second_claim_edits_only_the_notices_still_asking(desk: Desk) -> None:
    _, third = await person(desk.ids["branch_a"], Role.REVIEWER, no="R004")
    case = await submitted_case(desk, four_eyes=True)
    await review.claim(desk.reviewer, case.id, MONDAY_10AM + timedelta(minutes=1))
    await seen(desk.reviewer, case.id)
    await review.approve(desk.reviewer, case.id, desk.ctx, MONDAY_10AM + timedelta(minutes=2))
    await OutboxMessage.all().update(status=OutboxStatus.SENT, external_message_id="7")
    await review.claim(desk.second, case.id, MONDAY_10AM + timedelta(minutes=3))
    edits = await OutboxMessage.filter(recipient_id=third.staff_id,
                                       edit_of__not_isnull=True).order_by("id")
    assert len(edits) == 2  # the new-case notice once, then the second-approval call
    assert edits[-1].params["reviewer"] == desk.second.label


async def test_a_claim_in_telegram_edits_the_other_reviewers_message(
        desk: Desk, bot: TelegramBot, fake: FakeTelegram) -> None:
    for actor, user in ((desk.reviewer, REVIEWER_USER), (desk.second, SECOND_USER)):
        row = await Staff.get(id=actor.staff_id)
        await binding.bind_chat("telegram", str(user), str(user), await code_for(row))
    case = await submitted_case(desk)
    await dispatching(bot, lambda: _sent_to(fake, REVIEWER_USER, SECOND_USER))
    claimed = await press(fake, REVIEWER_USER, f"rv:claim:{case.id}")
    assert case.case_no in claimed
    await dispatching(bot, lambda: _edited(fake, SECOND_USER))
    [edit] = [call for call in fake.calls if call.method == "editMessageText"]
    assert edit.params["text"] == translate("zh_CN", review.CLAIMED_BY_OTHER,
                                            case_no=case.case_no, reviewer=desk.reviewer.label)
    assert not (edit.params.get("reply_markup") or {}).get("inline_keyboard")
    assert len(fake.sent(SECOND_USER)) == 1  # edited, not told again


async def _sent_to(fake: FakeTelegram, *users: int) -> bool:
    return all(fake.sent(user) for user in users)


async def _edited(fake: FakeTelegram, user: int) -> bool:
    return any(call.method == "editMessageText" and str(call.params["chat_id"]) == str(user)
               for call in fake.calls)
