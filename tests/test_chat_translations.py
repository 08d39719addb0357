"""Every chat step answers a Chinese user in Chinese (issue 11): the capture wizard, the loss
report, the special approval, the reviewer's queue and return menu, side commands and /cancel
are driven in zh_CN and no reply or button may carry an English sentence."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.flows import Reply
from domain.models import BoxCount, Device, Staff
from domain.platform.clock import utcnow
from domain.vouchers import day_end_counts, tail_boxes, voucher_stock
from tests.chat_support import RouterChat, bind, button, chat_router
from tests.inspection_support import stock
from tests.review_support import Desk, build_desk, photo, submitted_case

AGENT = "tgF001"
REVIEWER = "tgR001"
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
COMMAND = re.compile(r"/[a-z_]+(?:\s*<[^>]*>)?")
CODE = re.compile(r"\S*[0-9]\S*")  # case numbers, serials, asset tags, times and dates
# Data the test itself put in, shown as typed (a tablet's model is written as IT gave it).
DATA = ("Huawei MatePad",)


def english_left(text: str) -> list[str]:
    """The English words of 3+ letters left once data, commands, codes and short upper-case
    abbreviations (ID, PIN, SMS, HH:MM) are set aside."""
    for value in DATA:
        text = text.replace(value, " ")
    text = CODE.sub(" ", COMMAND.sub(" ", text))
    return [word for word in ENGLISH_WORD.findall(text)
            if not (word.isupper() and len(word) <= 4)]


def untranslated(replies: list[Reply]) -> list[str]:
    """Each reply text or button label that still reads as English."""
    texts = [reply.text for reply in replies] + [label for reply in replies
                                                 for row in reply.buttons for label, _ in row]
    return [text for text in texts if english_left(text)]


def test_the_check_flags_english_and_spares_codes_and_commands() -> None:
    assert english_left("请发送 /bind <绑定码>，案件 YD20261209-000001，机具 PAD00001") == []
    assert english_left("请在 HH:MM 前告知客户 PIN 与 SMS 验证码") == []
    assert english_left("请输入客户姓名\nSend it as a photo or as a file.") == [
        "Send", "photo", "file"]


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Desk:
    return await build_desk(tmp_path)


async def capture_in_chinese(agent: RouterChat) -> None:
    """Every step of the capture wizard, a refusal at each typed step, side commands and the
    /cancel question on the way (C1–C5, C11)."""
    await agent.say("/help")
    await agent.say("/whoami")
    types = await agent.say("/new")
    await agent.press(button(types, "借记卡开户"))
    await agent.say("张😀")
    await agent.say("/box")
    await agent.say("张三")
    await agent.say("110105194912310021")
    await agent.say("11010519491231002X")
    await agent.say("12345")
    asked = await agent.say("13812345678")
    skipped = await agent.press(next(data for reply in asked for row in reply.buttons
                                     for _, data in row if ":skip:" in data))
    for seed in (1, 2, 3):
        await agent.say("/help")
        skipped = await agent.photo(photo(seed))
    await agent.say("/whoami")
    risk = next(data for reply in skipped for row in reply.buttons for _, data in row
                if ":risk:" in data)
    summary = await agent.press(risk)
    question = await agent.say("/cancel")
    await agent.press(button(question, "否"))
    await agent.say("随便")
    await agent.press(next(data for reply in summary for row in reply.buttons
                           for _, data in row if ":submit:" in data))
    await agent.say("/resume")


async def loss_and_special_in_chinese(agent: RouterChat) -> None:
    """The loss report and the special approval, each to its confirmation and dropped."""
    what = await agent.say("/loss")
    await agent.press(button(what, "平板"))
    question = await agent.say("/cancel")
    await agent.press(button(question, "是"))
    what = await agent.say("/loss")
    await agent.press(button(what, "重要空白凭证"))
    await agent.say("/help")
    await agent.say("一张借记卡")
    await agent.say("昨天")
    await agent.say("now")
    await agent.say("网点门口")
    confirm = await agent.say("在路上丢失")
    await agent.press(button(confirm, "取消"))
    await agent.say("/special")
    await agent.say("今晚")
    await agent.say("19:00-21:00")
    await agent.say("/whoami")
    confirm = await agent.say("客户只能晚上办理")
    question = await agent.say("/cancel")
    await agent.press(button(question, "是"))
    await agent.say("/inspect")


async def review_in_chinese(reviewer: RouterChat, case_no: str) -> None:
    """The reviewer's queue, claim, return menu with a note, and the hold note (C6–C8)."""
    queue = await reviewer.say("/queue")
    claimed = await reviewer.press(button(queue, f"领取 {case_no}"))
    menu = await reviewer.press(next(data for reply in claimed for row in reply.buttons
                                     for _, data in row if data.startswith("rv:return:")))
    await reviewer.press(next(data for reply in menu for row in reply.buttons
                              for _, data in row if data.startswith("rv:rn:")))
    await reviewer.say("请重拍身份证")
    await reviewer.say("/queue")
    question = await reviewer.say("/cancel")
    await reviewer.press(button(question, "是"))
    await reviewer.press(next(data for reply in claimed for row in reply.buttons
                              for _, data in row if data.startswith("rv:hold:")))
    await reviewer.say("/help")


async def retake_in_chinese(reviewer: RouterChat, agent: RouterChat, case_id: int,
                            case_no: str) -> None:
    """The reviewer ticks a reason and sends the return; the agent retakes the photo and
    submits revision 2 (C7, C9)."""
    await reviewer.press(f"rv:claim:{case_id}")
    await reviewer.press(f"rv:return:{case_id}")
    await reviewer.press(f"rv:rt:{case_id}:unclear_image")
    await reviewer.press(f"rv:rs:{case_id}")
    await reviewer.say(case_no)
    retake = await agent.press(f"cap:retake:{case_id}")
    await agent.say("/whoami")
    for seed in (7, 8, 9):
        retake = await agent.photo(photo(seed))
    await agent.press(next(data for reply in retake for row in reply.buttons
                           for _, data in row if ":submit:" in data))


async def count_in_chinese(desk: Desk, agent: RouterChat) -> None:
    """A day-end count answered in chat, with a side command and a refused figure (V3)."""
    now = utcnow()
    card = await voucher_stock.define_voucher_type(desk.ops, "CARD", voucher_stock.VoucherTypeForm(
        "借记卡", "Debit card", r"[0-9]{8}", "none"))
    await voucher_stock.set_cap(desk.ops, desk.ids["province"], card.id, 100)
    device = await Device.get(holder_id=desk.agent.staff_id)
    box = await tail_boxes.box_for_device(device.id)
    await stock(desk.ops, desk.agent, box, {"CARD": card}, {"CARD": 2}, now - timedelta(days=1))
    await day_end_counts.request_day_end_counts(now)
    count = await BoxCount.filter(box_id=box.id).order_by("-id").first()
    assert count is not None
    await agent.say("/box")
    await agent.press(f"vc:count:{count.id}")
    await agent.say("/box")
    await agent.say("两张")
    await agent.say("2")


async def test_every_chat_step_answers_a_chinese_user_in_chinese(desk: Desk, tmp_path: Path
                                                                 ) -> None:
    router = chat_router(tmp_path, "zh_CN")
    agent, reviewer = RouterChat(router, AGENT), RouterChat(router, REVIEWER)
    await bind(await Staff.get(id=desk.reviewer.staff_id), REVIEWER)
    await capture_in_chinese(agent)
    await loss_and_special_in_chinese(agent)
    case = await submitted_case(desk, seed=5)
    await review_in_chinese(reviewer, case.case_no or "")
    assert len(agent.said) > 40 and len(reviewer.said) > 8
    assert untranslated(agent.said + reviewer.said) == []


async def test_retakes_and_counts_answer_a_chinese_user_in_chinese(desk: Desk, tmp_path: Path
                                                                   ) -> None:
    router = chat_router(tmp_path, "zh_CN")
    agent, reviewer = RouterChat(router, AGENT), RouterChat(router, REVIEWER)
    await bind(await Staff.get(id=desk.reviewer.staff_id), REVIEWER)
    case = await submitted_case(desk, seed=6)
    await retake_in_chinese(reviewer, agent, case.id, case.case_no or "")
    await count_in_chinese(desk, agent)
    assert len(agent.said) > 10 and len(reviewer.said) > 4
    assert untranslated(agent.said + reviewer.said) == []
