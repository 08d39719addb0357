"""WeCom's sending side (issue 15) against the fake WeCom API: notices with buttons as
button_interaction cards whose short keys resolve once to the flows' data, long texts, more
than six buttons, link buttons, frequency limits through the real outbox dispatcher, an
expired token mid-send, card edits, the app menu, and the recall of the app's messages that
echoed customer data when a draft is cancelled."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.dispatcher import OutboxDispatcher, SendFailed
from bot.flows import Inbound
from bot.flows.messages import Reply
from bot.flows.router import CANCEL_PREFIX
from bot.wecom import cards
from bot.wecom.api import CHANNEL
from bot.wecom.bot import WeComBot
from bot.wecom.config import WeComConfig, wecom_config
from domain.models import ChatCard, ChatCustomerMessage, OutboxMessage, OutboxStatus, Staff
from domain.people import binding
from domain.platform import chat_cards, chat_privacy, housekeeping, outbox
from domain.platform.clock import utcnow
from domain.platform.intents import KINDS, Intent
from domain.platform.outbox import REPLY
from fieldops.settings import SettingsError, load_settings
from tests.capture_support import ALWAYS, NAME_PROMPT, TYPE
from tests.clock_support import SteadyClock
from tests.factories import ROOT, flow_context
from tests.fake_wecom import AGENT_ID, CORP_ID, SECRET, FakeWeCom
from tests.outbox_support import counted_dispatcher
from tests.telegram_support import capture_desk
from tests.webhook_support import until

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
AGENT = "agent-f1"
REVIEWER = "reviewer-r1"
NOTICE = "Special approval 4 waits for your decision."
CLAIMED = "Claimed by %(name)s."
ASKED = Intent.of("special.requested", 4, *KINDS["special.requested"].actions)

Json = dict[str, Any]


def config(fake: FakeWeCom) -> WeComConfig:
    """The app's settings pointing at the fake, unpaced (the pacer has its own tests)."""
    return WeComConfig(corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, token="cbtoken",
                       aes_key=AES_KEY, api_base_url=fake.url, per_second=None,
                       user_gap_seconds=0.0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeWeCom]:
    async with FakeWeCom() as server:
        yield server


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Staff:
    """Field agent F1, qualified for the business type, bound on WeCom as AGENT."""
    agent = (await capture_desk(tmp_path)).agent
    code, _ = await binding.issue_bind_code(ROOT, agent.id)
    await binding.bind_chat(CHANNEL, AGENT, AGENT, code)
    return agent


async def started(fake: FakeWeCom, tmp_path: Path, *, public_url: str = "",
                  default_locale: str = "en") -> WeComBot:
    bot = WeComBot(config(fake), flow_context(tmp_path / "media", public_url, hours=ALWAYS),
                   default_locale=default_locale, reply_backoff_seconds=0.01)
    await bot.start()
    return bot


@pytest.fixture
async def bot(desk: Staff, fake: FakeWeCom, tmp_path: Path) -> AsyncIterator[WeComBot]:
    wecom = await started(fake, tmp_path)
    yield wecom
    await wecom.stop()


def sent_cards(fake: FakeWeCom, user: str = AGENT) -> list[Json]:
    return [body["template_card"] for body in fake.sent(user)
            if body["msgtype"] == "template_card"]


def sent_texts(fake: FakeWeCom, user: str = AGENT) -> list[str]:
    return [body["text"]["content"] for body in fake.sent(user) if body["msgtype"] == "text"]


def shown(fake: FakeWeCom, user: str = AGENT) -> list[str]:
    """Every text the member was shown, a card's as its title and sub-title."""
    return [body["text"]["content"] if body["msgtype"] == "text" else
            "\n".join((body["template_card"].get("main_title", {}).get("title", ""),
                       body["template_card"].get("sub_title_text", "")))
            for body in fake.sent(user)]


def code_of(fake: FakeWeCom, task_id: str) -> str:
    """The response code WeCom gave with a card (what a press of it carries)."""
    return next(code for code, card in fake.cards.items() if card["task_id"] == task_id)


async def test_a_notice_with_buttons_is_a_card_with_short_keys_resolved_once(
        bot: WeComBot, fake: FakeWeCom) -> None:
    buttons = ((("Approve", "sp:approve:4"), ("Refuse", "sp:refuse:4")),)
    task_id = await bot.send_text(AGENT, NOTICE, buttons)
    [card] = sent_cards(fake)
    assert card["task_id"] == task_id and card["card_type"] == "button_interaction"
    assert card["main_title"]["title"] == NOTICE and not sent_texts(fake)
    assert [(b["text"], b["key"]) for b in card["button_list"]] == [("Approve", "k0"),
                                                                    ("Refuse", "k1")]
    code = code_of(fake, task_id)
    assert await chat_cards.press(CHANNEL, REVIEWER, task_id, "k1", code, utcnow()) is None
    assert await chat_cards.press(CHANNEL, AGENT, task_id, "k9", code, utcnow()) is None
    assert await chat_cards.press(CHANNEL, AGENT, task_id, "k1", code,
                                  utcnow()) == "sp:refuse:4"
    assert await chat_cards.press(CHANNEL, AGENT, task_id, "k0", code, utcnow()) is None

    await bot.card_pressed(AGENT, task_id, code, None)
    [update] = fake.updates
    assert update["button"] == {"replace_name": "Chosen: Refuse"}
    assert (await ChatCard.get(task_id=task_id)).response_code is None  # used once


async def test_a_text_too_long_for_a_card_goes_first_and_the_card_follows(
        bot: WeComBot, fake: FakeWeCom) -> None:
    text = "Case 12 was returned.\n" + "The ID card photo is blurred. " * 8
    task_id = await bot.send_text(AGENT, text, ((("Retake", "cap:retake:12"),),))
    assert sent_texts(fake) == [text.strip()]
    [card] = sent_cards(fake)
    assert card["task_id"] == task_id and card["main_title"]["title"] == "Case 12 was returned."
    assert "sub_title_text" not in card

    wide = "案件 12 已退回，请重新拍摄身份证正面照片并补充客户本人的手机号码。"  # > 26 字
    await bot.send_text(AGENT, wide, ((("重拍", "cap:retake:12"),),))
    assert sent_cards(fake)[-1]["sub_title_text"] == wide
    assert "main_title" not in sent_cards(fake)[-1] and len(sent_texts(fake)) == 1

    longest = "很长的一行。" * 400  # 7,200 bytes: four text messages within 2,048 bytes
    await bot.send_text(AGENT, longest)
    pieces = sent_texts(fake)[1:]
    assert len(pieces) == 4 and "".join(pieces) == longest
    assert all(len(piece.encode()) <= cards.TEXT_MAX_BYTES for piece in pieces)


async def test_more_than_six_buttons_make_several_cards(bot: WeComBot, fake: FakeWeCom) -> None:
    rows = tuple(((f"Type {n}", f"cap:new:{n}"),) for n in range(8))
    task_id = await bot.send_text(AGENT, "Choose the business type.", rows)
    first, second = sent_cards(fake)
    assert first["task_id"] == task_id != second["task_id"]
    assert [b["key"] for b in first["button_list"]] == [f"k{n}" for n in range(6)]
    assert [b["text"] for b in second["button_list"]] == ["Type 6", "Type 7"]
    assert await chat_cards.press(CHANNEL, AGENT, second["task_id"], "k1",
                                  code_of(fake, second["task_id"]), utcnow()) == "cap:new:7"


async def test_a_button_label_is_cut_to_wecom_length(bot: WeComBot, fake: FakeWeCom) -> None:
    await bot.send_text(AGENT, NOTICE, ((("Retake the flagged items", "cap:retake:3"),),))
    [card] = sent_cards(fake)
    assert card["button_list"][0]["text"] == "Retake the flagged…"


async def test_link_buttons_are_url_buttons_with_the_public_address_or_dropped(
        desk: Staff, fake: FakeWeCom, tmp_path: Path) -> None:
    rows = ((("Approve", "sp:approve:4"), ("Open in web", "/special-approvals")),)
    public = await started(fake, tmp_path, public_url="https://ops.example.cn")
    try:
        await public.send_text(AGENT, NOTICE, rows)
        await public.send_text(AGENT, NOTICE, ((("Open in web", "/cases/3"),),))
    finally:
        await public.stop()
    with_link, only_link = sent_cards(fake)
    assert with_link["button_list"][1] == {"text": "Open in web", "key": "k1", "type": 1,
                                           "url": "https://ops.example.cn/special-approvals"}
    assert only_link["button_list"][0]["url"] == "https://ops.example.cn/cases/3"

    private = await started(fake, tmp_path)
    try:
        await private.send_text(AGENT, NOTICE, rows)
        assert await private.send_text(AGENT, NOTICE, ((("Open in web", "/cases/3"),),))
    finally:
        await private.stop()
    assert [b["text"] for b in sent_cards(fake)[-1]["button_list"]] == ["Approve"]
    assert sent_texts(fake) == [NOTICE]  # nothing left to press: a text


async def test_a_frequency_limit_pauses_the_outbox_without_counting_an_attempt(
        bot: WeComBot, fake: FakeWeCom, desk: Staff) -> None:
    await outbox.enqueue(desk.id, NOTICE, intent=ASKED, idempotency_key="sp4", channel=CHANNEL)
    fake.frequency_limit(45009)
    dispatcher = OutboxDispatcher({CHANNEL: bot}, poll_seconds=0.05, backoff_seconds=0.05,
                                  default_locale="en")
    assert await dispatcher.run_once() == 0
    row = await OutboxMessage.get(idempotency_key="sp4")
    assert row.status == OutboxStatus.PENDING and row.attempts == 0
    assert row.next_attempt_at >= utcnow() + timedelta(seconds=59)
    assert "45009" in (row.last_error or "")
    assert bot.pacer.paused_until > 0 and not fake.sent()


async def test_a_failed_send_is_a_send_failure_for_the_dispatcher(
        bot: WeComBot, fake: FakeWeCom) -> None:
    fake.fail_next(-1)
    with pytest.raises(SendFailed) as busy:
        await bot.send_text(AGENT, NOTICE)
    assert busy.value.retry_after is None and not busy.value.permanent
    with pytest.raises(SendFailed) as refused:
        await bot.send_text("stranger", NOTICE)
    assert refused.value.permanent


async def test_an_expired_token_mid_send_is_refreshed_once(
        bot: WeComBot, fake: FakeWeCom) -> None:
    await bot.send_text(AGENT, "first")
    fake.expire_token()
    await bot.send_text(AGENT, "second", ((("Approve", "sp:approve:4"),),))
    assert len(fake.called("gettoken")) == 2
    assert [call.errcode for call in fake.called("message/send")] == [0, 42001, 0]
    assert len(sent_cards(fake)) == 1


async def test_a_claim_edit_updates_the_card_through_the_dispatcher(
        bot: WeComBot, fake: FakeWeCom, desk: Staff) -> None:
    await outbox.enqueue(desk.id, NOTICE, intent=ASKED, idempotency_key="sp4", channel=CHANNEL)
    dispatcher = OutboxDispatcher({CHANNEL: bot}, poll_seconds=0.05, backoff_seconds=0.05,
                                  default_locale="en")
    assert await dispatcher.run_once() == 1
    task_id = (await OutboxMessage.get(idempotency_key="sp4")).external_message_id
    assert task_id == sent_cards(fake)[0]["task_id"]

    await outbox.enqueue_edit("sp4", CLAIMED, {"name": "R2"},
                              intent=Intent.of("special.approved", 4), idempotency_key="sp4:e")
    assert await dispatcher.run_once() == 1
    [update] = fake.updates
    assert update["template_card"]["task_id"] == task_id
    assert update["template_card"]["main_title"]["title"] == "Claimed by R2."
    assert [b["text"] for b in update["template_card"]["button_list"]] == ["No action needed"]
    assert len(fake.sent()) == 1  # updated, not sent anew
    card = await ChatCard.get(task_id=task_id)
    assert card.response_code is None and card.keys == {"k0": ["No action needed", ""]}


async def test_an_edit_without_an_unused_code_or_of_a_text_is_sent_anew(
        bot: WeComBot, fake: FakeWeCom) -> None:
    task_id = await bot.send_text(AGENT, NOTICE, ((("Approve", "sp:approve:4"),),))
    await bot.edit_text(AGENT, str(task_id), "Claimed by R2.")
    await bot.edit_text(AGENT, str(task_id), "Claimed by R3.")  # the code was used
    assert len(fake.updates) == 1 and sent_texts(fake) == ["Claimed by R3."]

    handle = await bot.send_text(AGENT, "Your roles changed.")
    first = fake.sent()[-1]
    await bot.edit_text(AGENT, str(handle), "Your roles changed again.")
    assert sent_texts(fake)[-1] == "Your roles changed again."
    assert fake.recalled == [(await ChatCard.get(task_id=handle)).msgid]
    assert first["text"]["content"] == "Your roles changed."


async def test_the_menu_is_set_at_start_in_the_default_language(
        desk: Staff, fake: FakeWeCom, tmp_path: Path) -> None:
    bot = await started(fake, tmp_path, default_locale="zh_CN")
    await bot.stop()
    new, resume, more = fake.menu
    assert new == {"type": "click", "name": "新业务", "key": "/new"}
    assert resume["key"] == "/resume"
    assert [b["key"] for b in more["sub_button"]] == ["/box", "/loss", "/help"]
    assert all(b["type"] == "click" for b in more["sub_button"])


async def test_a_failed_menu_is_logged_and_the_bot_serves(
        desk: Staff, fake: FakeWeCom, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake.fail_next(40058, path="menu/create")
    bot = await started(fake, tmp_path)
    try:
        assert bot.ready and "menu not set" in caplog.text
        await bot.send_text(AGENT, NOTICE)
    finally:
        await bot.stop()
    assert not bot.ready and not fake.menu


async def test_replies_are_retried_in_place_then_queued_in_the_outbox(
        bot: WeComBot, fake: FakeWeCom) -> None:
    fake.fail_next(-1)  # system busy once: tried again in place
    await bot.send_replies(AGENT, [Reply("one")], "msg:1")
    assert sent_texts(fake) == ["one"]

    fake.frequency_limit(45009)  # a minute's limit: left to the outbox, in order
    await bot.send_replies(AGENT, [Reply("two"), Reply("three", ((("Back", "cap:back:1"),),))],
                           "msg:2")
    queued = await OutboxMessage.filter(channel=CHANNEL).order_by("id")
    assert [(row.template, row.buttons) for row in queued] == [
        ("two", []), ("three", [[["Back", "cap:back:1"]]])]
    assert sent_texts(fake) == ["one"]


@dataclass
class Member:
    """A WeCom member talking to the app as the callback would hand his messages over."""

    bot: WeComBot
    fake: FakeWeCom
    user: str = AGENT
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def say(self, text: str) -> None:
        key = f"msg:{next(self.ids)}"
        await self._handle(Inbound.message(CHANNEL, key, self.user, self.user, text), key)

    async def press(self, label: str) -> None:
        """Press the button with this label on the latest card that has one."""
        card = next(c for c in reversed(await ChatCard.filter(recipient=self.user))
                    if any(entry[0] == label for entry in c.keys.values()))
        key = next(k for k, entry in card.keys.items() if entry[0] == label)
        data = await chat_cards.press(CHANNEL, self.user, card.task_id, key,
                                      code_of(self.fake, card.task_id), utcnow())
        update_key = f"event:{next(self.ids)}"
        await self._handle(Inbound.button(CHANNEL, update_key, self.user, self.user,
                                          data or "", card.task_id), update_key)

    async def _handle(self, inbound: Inbound, key: str) -> None:
        handled = await self.bot.router.handle_update(inbound)
        await self.bot.send_replies(self.user, handled.replies, key, released=handled.released)


async def test_cancelling_a_draft_recalls_the_app_messages_that_echoed_it(
        bot: WeComBot, fake: FakeWeCom) -> None:
    member = Member(bot, fake)
    await member.say("/new")
    await member.press(TYPE)
    assert any(NAME_PROMPT in text for text in shown(fake))
    await member.say("张三")
    noted = await ChatCustomerMessage.filter(channel=CHANNEL).values_list("message_id",
                                                                          flat=True)
    assert len(noted) == 2 and not fake.recalled  # the name and the ID number prompts

    await member.say("/cancel")
    if not fake.recalled:  # the bot asked first: confirmed
        await member.press(next(entry[0] for c in await ChatCard.filter(recipient=AGENT)
                                for entry in c.keys.values()
                                if entry[1].startswith(CANCEL_PREFIX + "yes:")))
    rows = await ChatCustomerMessage.filter(channel=CHANNEL)
    sent = await ChatCard.filter(task_id__in=[row.message_id for row in rows])
    assert sorted(fake.recalled) == sorted(card.msgid for card in sent)  # the question too
    assert set(noted) <= {card.task_id for card in sent} and all(r.deleted_at for r in rows)
    assert "cancelled" in shown(fake)[-1]  # the draft is gone: its answer stays


async def test_cards_past_the_retention_are_pruned_and_a_late_press_is_stale(
        bot: WeComBot, fake: FakeWeCom, test_clock: SteadyClock) -> None:
    old = await bot.send_text(AGENT, NOTICE, ((("Approve", "sp:approve:4"),),))
    test_clock.move_to(utcnow() + timedelta(days=29))
    recent = await bot.send_text(AGENT, NOTICE, ((("Approve", "sp:approve:5"),),))
    test_clock.move_to(utcnow() + timedelta(days=2))
    removed = await housekeeping.prune(housekeeping.Retention(days=30))
    assert removed["chat_card"] == 1
    assert await ChatCard.all().values_list("task_id", flat=True) == [recent]
    assert await chat_cards.press(CHANNEL, AGENT, str(old), "k0", code_of(fake, str(old)),
                                  utcnow()) is None


def test_the_pacer_has_wecom_limits_from_the_settings(tmp_path: Path) -> None:
    settings = load_settings(wecom_corp_id=CORP_ID, wecom_agent_id=str(AGENT_ID),
                             wecom_secret=SECRET, wecom_token="cbtoken", wecom_aes_key=AES_KEY)
    loaded = wecom_config(settings)
    assert loaded is not None and (loaded.per_second, loaded.user_gap_seconds) == (20.0, 2.0)
    pacer = WeComBot(loaded, flow_context(tmp_path), default_locale="zh_CN").pacer
    assert (pacer.per_second, pacer.gap(AGENT)) == (20.0, 2.0)
    with pytest.raises(SettingsError, match=r"^FIELDOPS_WECOM_PER_SECOND: "):
        load_settings(wecom_per_second=0)
    with pytest.raises(SettingsError, match=r"^FIELDOPS_WECOM_USER_GAP_SECONDS: "):
        load_settings(wecom_user_gap_seconds=-1)


LONG = "Case 12 was returned.\n" + "The ID card photo is blurred. " * 8
RETAKE = ((("Retake", "cap:retake:12"),),)


def cards_fail(monkeypatch: pytest.MonkeyPatch, bot: WeComBot, fake: FakeWeCom,
               errcode: int) -> None:
    """WeCom answers the bot's next card with `errcode` (the texts before it go through)."""
    send_card, armed = bot.api.send_card, [True]

    async def failing(user_id: str, body: Json) -> Any:
        if armed.pop() if armed else False:
            fake.fail_next(errcode, path="message/send")
        return await send_card(user_id, body)

    monkeypatch.setattr(bot.api, "send_card", failing)


async def test_a_reply_that_failed_at_its_card_goes_on_after_its_texts(
        bot: WeComBot, fake: FakeWeCom, monkeypatch: pytest.MonkeyPatch) -> None:
    cards_fail(monkeypatch, bot, fake, -1)  # tried again in place: the card only
    await bot.send_replies(AGENT, [Reply(LONG, RETAKE)], "msg:1")
    assert sent_texts(fake) == [LONG.strip()] and len(sent_cards(fake)) == 1

    cards_fail(monkeypatch, bot, fake, 45009)  # left to the outbox: the card and the rest
    await bot.send_replies(AGENT, [Reply(LONG, RETAKE), Reply("next")], "msg:2")
    queued = await OutboxMessage.filter(channel=CHANNEL).order_by("id")
    assert [(row.template, row.buttons) for row in queued] == [
        ("Case 12 was returned.", [[["Retake", "cap:retake:12"]]]), ("next", [])]
    assert len(sent_texts(fake)) == 2 and len(sent_cards(fake)) == 1

    cards_fail(monkeypatch, bot, fake, -1)  # the dispatcher's retry: the card only
    with pytest.raises(SendFailed):
        await bot.send_text(AGENT, LONG, RETAKE)
    task_id = await bot.send_text(AGENT, LONG, RETAKE)
    assert len(sent_texts(fake)) == 3 and sent_cards(fake)[-1]["task_id"] == task_id


async def test_replies_any_error_keeps_from_the_member_are_queued_and_the_error_raised(
        bot: WeComBot, fake: FakeWeCom, monkeypatch: pytest.MonkeyPatch) -> None:
    record, calls = chat_cards.record_sent, itertools.count()

    async def database_gone(*args: Any) -> None:
        if next(calls) == 1:
            raise ConnectionError("database gone")
        await record(*args)

    monkeypatch.setattr(chat_cards, "record_sent", database_gone)
    with pytest.raises(ConnectionError):
        await bot.send_replies(AGENT, [Reply("one"), Reply("two"), Reply("three")], "msg:1")
    assert sent_texts(fake) == ["one", "two"]  # "two" went out before its record failed
    monkeypatch.setattr(chat_cards, "record_sent", record)

    send_text = bot.api.send_text

    async def stopping(user_id: str, text: str) -> Any:
        if text == "five":
            raise asyncio.CancelledError
        return await send_text(user_id, text)

    monkeypatch.setattr(bot.api, "send_text", stopping)
    with pytest.raises(asyncio.CancelledError):
        await bot.send_replies(AGENT, [Reply("four"), Reply("five"), Reply("six")], "msg:2")
    queued = await OutboxMessage.filter(channel=CHANNEL).order_by("id")
    assert [row.template for row in queued] == ["three", "five", "six"]
    assert sent_texts(fake) == ["one", "two", "four"]


async def test_an_edit_sent_anew_is_the_notice_message_and_retires_the_old_buttons(
        bot: WeComBot, fake: FakeWeCom) -> None:
    task_id = str(await bot.send_text(AGENT, NOTICE, ((("Approve", "sp:approve:4"),),)))
    first_code = code_of(fake, task_id)
    undo = ((("Undo", "sp:undo:4"),),)
    await bot.edit_text(AGENT, task_id, "Claimed by R2.", undo)  # updated with its code
    await bot.edit_text(AGENT, task_id, "Claimed by R3.", undo)  # no code left: anew
    anew = sent_cards(fake)[-1]["task_id"]
    assert anew != task_id and len(fake.updates) == 1
    assert await chat_cards.press(CHANNEL, AGENT, task_id, "k0", first_code, utcnow()) is None
    await bot.edit_text(AGENT, task_id, "Claimed by R4.", undo)  # the new card, updated
    assert fake.updates[-1]["template_card"]["task_id"] == anew
    assert fake.updates[-1]["template_card"]["main_title"]["title"] == "Claimed by R4."

    handle = str(await bot.send_text(AGENT, "Your roles changed."))
    msgids = [(await ChatCard.get(task_id=handle)).msgid]
    await bot.edit_text(AGENT, handle, "Your roles changed again.")
    msgids.append((await chat_cards.current(CHANNEL, handle)).msgid)  # type: ignore[union-attr]
    await bot.edit_text(AGENT, handle, "Your roles changed a third time.")
    assert fake.recalled == msgids  # each edit recalls the message shown before it


async def test_recalls_past_wecom_24_hours_are_given_up_and_a_frequency_limit_pauses(
        bot: WeComBot, fake: FakeWeCom, desk: Staff, test_clock: SteadyClock) -> None:
    member = Member(bot, fake)
    await member.say("/new")
    await member.press(TYPE)
    await member.say("张三")
    [case_id] = {row.case_id for row in await ChatCustomerMessage.filter(channel=CHANNEL)}  # type: ignore[attr-defined]
    await chat_privacy.release_case_messages(case_id, desk.id, utcnow())
    fake.frequency_limit(45009)
    assert await bot.recall_customer_messages() == 0
    assert bot.pacer.paused_until > 0 and not fake.recalled

    test_clock.move_to(utcnow() + timedelta(hours=25))
    assert await bot.recall_customer_messages() == 0
    assert not fake.recalled
    assert all(row.gave_up_at for row in await ChatCustomerMessage.filter(channel=CHANNEL))


@dataclass
class Process:
    """A bot process with its outbox dispatcher; `starts` are the members its pacer let a
    message start to (the sends of this process)."""

    bot: WeComBot
    dispatcher: OutboxDispatcher
    starts: list[str] = field(default_factory=list)


async def process(fake: FakeWeCom, tmp_path: Path, stack: AsyncExitStack,
                  monkeypatch: pytest.MonkeyPatch) -> Process:
    """A started bot and its dispatcher, running until `stack` closes."""
    wecom = await started(fake, tmp_path)
    stack.push_async_callback(wecom.stop)
    starts: list[str] = []
    dispatcher = await counted_dispatcher(CHANNEL, wecom, starts, stack, monkeypatch)
    return Process(wecom, dispatcher, starts)


def showing(fake: FakeWeCom, count: int) -> Callable[[], Awaitable[bool]]:
    async def shown_enough() -> bool:
        return len(fake.sent(AGENT)) >= count
    return shown_enough


async def test_replies_share_the_send_budget_of_the_process_that_leads_and_never_overtake(
        desk: Staff, fake: FakeWeCom, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with AsyncExitStack() as stack:
        two = [await process(fake, tmp_path, stack, monkeypatch) for _ in range(2)]

        async def elected() -> bool:  # and both asked for the lead once: both run
            lanes = [one.dispatcher.lanes[CHANNEL] for one in two]
            return any(lane.leading for lane in lanes) and all(lane.lease for lane in lanes)

        await until(elected)
        leader, other = two if two[0].dispatcher.lanes[CHANNEL].leading else two[::-1]
        await other.bot.send_replies(AGENT, [Reply("one")], "msg:1")
        await until(showing(fake, 1))
        assert other.starts == [] and leader.starts == [AGENT]
        assert await OutboxMessage.filter(kind=REPLY).count() == 1  # through the outbox
        await leader.bot.send_replies(AGENT, [Reply("two")], "msg:2")
        assert sent_texts(fake) == ["one", "two"]  # the leader's own: in place
        assert await OutboxMessage.filter(kind=REPLY).count() == 1

        fake.fail_next(-1, path="message/send")
        await outbox.enqueue(desk.id, NOTICE, intent=ASKED, idempotency_key="sp4",
                             channel=CHANNEL)

        async def refused() -> bool:
            return any(call.errcode == -1 for call in fake.called("message/send"))

        await until(refused)
        await leader.bot.send_replies(AGENT, [Reply("three")], "msg:3")  # behind the notice
        await until(showing(fake, 4))
    assert shown(fake)[2:] == [f"{NOTICE}\n", "three"] and other.starts == []
