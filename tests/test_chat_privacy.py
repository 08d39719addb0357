"""Customer data does not stay in the chat (C10, issue 13): the agent's messages with ID
numbers, mobiles and photos are deleted once the case is submitted or the draft cancelled,
the bot itself shows only masked values, the browser chat transcript keeps none in clear."""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.telegram import TelegramBot
from bot.telegram.handlers import delete_customer_messages
from domain.cases import cases
from domain.models import (
    AuditLog,
    Case,
    CasePhoto,
    CaseStatus,
    ChatCustomerMessage,
    Role,
    Staff,
    WebChatMessage,
)
from domain.platform.clock import utcnow
from domain.platform.errors import NotFound
from domain.platform.identity import mask_mobile, mask_resident_id
from scheduler import jobs
from tests.admin_support import admin_site, log_in
from tests.bot_support import bound_agent
from tests.capture_support import (
    BACK_PROMPT,
    FRONT_PROMPT,
    ID_NUMBER,
    MOBILE,
    ONSITE_PROMPT,
    RISK_BUTTON,
    start_case,
)
from tests.case_support import KINDS as REVIEW_KINDS
from tests.case_support import MONDAY_10AM, noisy_jpeg
from tests.chat_driver import Chat
from tests.chat_support import chat_config
from tests.clock_support import SteadyClock
from tests.factories import capture_context, org_tree, web_user
from tests.fake_telegram import FakeTelegram, Params
from tests.loss_support import delivered
from tests.review_support import Desk as ReviewDesk
from tests.review_support import build_desk, photo
from tests.telegram_support import AGENT, Desk, capture_desk
from tests.webchat_support import say as say_in_browser

OPS = 7302


pytestmark = pytest.mark.bot_world("desk")


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Desk:
    return await capture_desk(tmp_path)


def message_id(update: Params) -> int:
    return int(update["message"]["message_id"])


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait (at most 10 s) until the bot has written what the check reads."""
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not reached within 10 s")


async def all_deleted() -> None:
    """Wait until every noted customer-data message is marked deleted."""

    async def done() -> bool:
        return not await ChatCustomerMessage.filter(deleted_at=None).exists()

    await eventually(done)


async def customer_data_sent(chat: Chat) -> list[int]:
    """Name, ID number, mobile, location and the three photos sent as the agent would; the
    ids of the messages that carried customer data (all but the location)."""
    fake, sent = chat.fake, []
    for text in ("张三", ID_NUMBER, MOBILE):
        update = fake.message(AGENT, text)
        await chat.send(update)
        sent.append(message_id(update))
    assert FRONT_PROMPT in (await chat.location(31.2304, 121.4737)).text
    for seed, prompt in ((0, BACK_PROMPT), (1, ONSITE_PROMPT), (2, "e-banking")):
        update = fake.photo(AGENT, noisy_jpeg(seed))
        assert prompt in (await chat.send(update)).text
        sent.append(message_id(update))
    return sent


async def test_submitting_deletes_the_agents_customer_data_messages_and_replies_are_masked(
    chat: Chat, desk: Desk, fake: FakeTelegram, test_clock: SteadyClock
) -> None:
    await start_case(chat)
    carried = await customer_data_sent(chat)
    summary = await chat.press(chat.last().buttons[RISK_BUTTON])
    assert fake.deleted(AGENT) == []
    submitted = await chat.press(summary.buttons["Submit"])
    assert "was submitted" in submitted.text
    await all_deleted()
    assert sorted(fake.deleted(AGENT)) == sorted(carried)
    await jobs.purge_idle_drafts(capture_context(desk.media_root), 7)
    assert await ChatCustomerMessage.all().count() == len(carried)  # kept a week, then pruned
    test_clock.move_to(utcnow() + timedelta(days=8))
    await jobs.purge_idle_drafts(capture_context(desk.media_root), 7)
    assert not await ChatCustomerMessage.exists()
    replies = "\n".join(fake.texts(AGENT))
    assert ID_NUMBER not in replies and MOBILE not in replies
    assert mask_resident_id(ID_NUMBER) in replies and mask_mobile(MOBILE) in replies


async def test_cancelling_a_draft_deletes_what_it_carried(
    chat: Chat, desk: Desk, fake: FakeTelegram
) -> None:
    await start_case(chat)
    sent = []
    for text in ("张三", ID_NUMBER):
        update = fake.message(AGENT, text)
        await chat.send(update)
        sent.append(message_id(update))
    assert "cancelled" in (await chat.cancel()).text
    await all_deleted()
    assert sorted(fake.deleted(AGENT)) == sorted(sent)
    assert (await Case.get(agent=desk.agent)).status == CaseStatus.CANCELLED


async def test_a_deletion_failing_for_48_hours_is_given_up_and_logged(
    chat: Chat, desk: Desk, fake: FakeTelegram, bot: TelegramBot, test_clock: SteadyClock,
    caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next("deleteMessage", count=50, status=400)
    await start_case(chat)
    await chat.send(fake.message(AGENT, "张三"))
    await chat.cancel()

    async def tried() -> bool:
        return await ChatCustomerMessage.filter(attempts=1).exists()

    await eventually(tried)
    row = await ChatCustomerMessage.get()
    assert row.deleted_at is None and row.gave_up_at is None and row.attempts == 1

    test_clock.move_to(utcnow() + timedelta(hours=47))
    assert await delete_customer_messages(bot.application.bot) == 0
    await row.refresh_from_db()
    assert row.attempts == 2 and row.gave_up_at is None

    test_clock.move_to(utcnow() + timedelta(hours=2))
    calls = len(fake.calls)
    with caplog.at_level(logging.ERROR):
        assert await delete_customer_messages(bot.application.bot) == 0
    await row.refresh_from_db()
    assert row.gave_up_at is not None and len(fake.calls) == calls
    assert "could not be deleted within" in caplog.text


# The customer's ID number and mobile as people type them: each form is masked (C10).
NUMBER_FORMS = {
    "plain": ("11010119900101123X", "13800138000"),
    "spaces": ("110 101 1990 0101 123X", "138 0013 8000"),
    "dashes": ("110101-19900101-123X", "138-0013-8000"),
    "dots": ("110101.19900101.123x", "138.0013.8000"),
    "full-width": ("１１０１０１１９９００１０１１２３Ｘ", "１３８００１３８０００"),
}
MASKED_ID, MASKED_MOBILE = "110101********123X", "138****8000"


def in_clear(text: str) -> bool:
    """Whether the ID number or the mobile of NUMBER_FORMS shows in any of its forms."""
    digits = re.sub(r"[\s.\-]", "", unicodedata.normalize("NFKC", text)).upper()
    return "11010119900101123X" in digits or "13800138000" in digits


async def test_the_browser_chat_transcript_masks_ids_and_mobiles_in_every_form(
    database_url: str, tmp_path: Path
) -> None:
    ids = await org_tree()
    row, username = await web_user(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    async with admin_site(chat_config(tmp_path)) as client:
        await log_in(client, username)
        for id_number, mobile in NUMBER_FORMS.values():
            page = await say_in_browser(client, f"客户 {id_number}，手机 {mobile}。")
            assert not in_clear(page), (id_number, mobile)
    typed = await WebChatMessage.filter(staff=row, from_bot=False).values_list("text", flat=True)
    assert typed == [f"客户 {MASKED_ID}，手机 {MASKED_MOBILE}。"] * len(NUMBER_FORMS)


async def test_a_loss_report_shows_and_relays_typed_ids_and_mobiles_masked_in_every_form(
    chat: Chat, desk: Desk, fake: FakeTelegram, bot: TelegramBot
) -> None:
    await bound_agent(await Staff.get(employee_no="O1"), OPS)
    typed = "；".join(f"{id_number} {mobile}" for id_number, mobile in NUMBER_FORMS.values())
    what = await chat.say("/loss")
    await chat.press(what.buttons["Customer papers"])
    await chat.say(f"身份证复印件 {NUMBER_FORMS['spaces'][0]}")
    await chat.say("now")
    await chat.say(f"客户家中，电话 {NUMBER_FORMS['dashes'][1]}")
    summary = await chat.say(typed)
    assert not in_clear(summary.text)
    assert summary.text.count(MASKED_ID) == len(NUMBER_FORMS) + 1
    assert summary.text.count(MASKED_MOBILE) == len(NUMBER_FORMS) + 1
    reported = await chat.press(summary.buttons["Report the loss"])
    assert reported.text.startswith("Loss reported as incident #")
    await delivered(bot)
    [alert] = fake.texts(OPS)
    assert not in_clear(alert) and MASKED_ID in alert and MASKED_MOBILE in alert


async def draft_with_photos(desk: ReviewDesk, seeds: tuple[int, ...]) -> Case:
    """A draft with customer data and one photo per seed (its kinds in order)."""
    case = await cases.start_draft(desk.agent, desk.plain_type_id, desk.ctx, MONDAY_10AM)
    await cases.set_customer(desk.agent, case.id, "张三", ID_NUMBER, MOBILE, desk.ctx)
    for kind, seed in zip(sorted(REVIEW_KINDS), seeds, strict=False):
        await cases.add_photo(desk.agent, case.id, kind, photo(seed), f"{kind}.jpg",
                              "image/jpeg", desk.ctx)
    return case


async def test_drafts_idle_past_the_setting_are_purged_with_photos_no_one_else_uses(
    database_url: str, tmp_path: Path, test_clock: SteadyClock
) -> None:
    desk = await build_desk(tmp_path)
    idle = await draft_with_photos(desk, (1, 2))
    test_clock.move_to(utcnow() + timedelta(days=5))
    recent = await draft_with_photos(desk, (2,))  # the same picture as the idle draft's second
    first, second = await CasePhoto.filter(case_id=idle.id).order_by("id").values_list(
        "sha256", flat=True)
    test_clock.move_to(utcnow() + timedelta(days=3))

    assert await jobs.purge_idle_drafts(desk.ctx, 7) == 1

    purged = await Case.get(id=idle.id)
    assert purged.status == CaseStatus.CANCELLED
    assert (purged.customer_name, purged.id_number_enc, purged.mobile_enc) == ("", None, None)
    assert not await CasePhoto.filter(case_id=idle.id).exists()
    with pytest.raises(NotFound):
        await desk.ctx.media.aread(first)
    assert await desk.ctx.media.aread(second)  # the recent draft still holds it
    assert (await Case.get(id=recent.id)).status == CaseStatus.DRAFT
    assert await CasePhoto.filter(case_id=recent.id).count() == 1
    assert await AuditLog.exists(action="case.cancelled", object_id=str(idle.id),
                                 actor_label="system:draft-purge")
    assert await jobs.purge_idle_drafts(desk.ctx, 7) == 0
