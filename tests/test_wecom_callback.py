"""WeCom's callback URL (issue 15), driven as WeCom calls it (tests/wecom_client.py) against the
real callback, bot and flows, with the fake WeCom API: the URL check, refusals, messages
stored at once and handled later per sender in order, retries handled once, a crashed
worker's message taken again, and photos downloaded through media/get."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image

from bot.flows import Inbound
from bot.flows.router import Handled
from bot.wecom.bot import WeComBot
from bot.wecom.callback import WeComCallback
from bot.wecom.config import WeComConfig
from bot.wecom.crypt import WeComCrypt
from domain.models import (
    Case,
    CasePhoto,
    ChatCard,
    ChatInboxMessage,
    InboxStatus,
    PhotoKind,
    Role,
)
from domain.people import binding
from domain.platform import chat_inbox, chat_limits
from domain.platform.chat_limits import InboundLimit
from domain.platform.images import PhotoLimits
from locales import translate
from tests.bot_support import code_for
from tests.capture_support import (
    ALWAYS,
    BACK_PROMPT,
    FRONT_PROMPT,
    ID_NUMBER,
    MOBILE,
    NAME_PROMPT,
    TYPE,
)
from tests.case_support import noisy_jpeg
from tests.clock_support import SteadyClock
from tests.factories import ROOT, flow_context, org_tree, person
from tests.fake_wecom import AGENT_ID, CORP_ID, SECRET, FakeWeCom
from tests.telegram_support import capture_desk
from tests.wecom_client import AES_KEY, TOKEN, WeComClient

AGENT, REVIEWER = "agent-f1", "reviewer-r1"
NOT_UNDERSTOOD = "I did not understand that. Send /help to see what I can do."


@dataclass
class Served:
    """The callback served on a test server, its bot, WeCom calling it, the fake API."""

    callback: WeComCallback
    bot: WeComBot
    wecom: WeComClient
    fake: FakeWeCom

    def texts(self, user: str) -> list[str]:
        """The texts the bot sent a member (text messages and cards' titles)."""
        return [_text(body) for body in self.fake.sent(user)]


def _text(body: dict[str, Any]) -> str:
    """A sent message as the member reads it: a text, or a card's title, text and buttons."""
    if body["msgtype"] != "template_card":
        return str(body[body["msgtype"]]["content"])
    card = body["template_card"]
    return "\n".join([card.get("main_title", {}).get("title", ""),
                      card.get("sub_title_text", ""),
                      *(button["text"] for button in card.get("button_list", []))])


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait for background handling to reach a state (bounded, never a timed assertion)."""
    async with asyncio.timeout(10):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.02)


async def stored(status: InboxStatus | None = None) -> list[ChatInboxMessage]:
    rows = ChatInboxMessage.all().order_by("id")
    return await (rows.filter(status=status) if status else rows)


@pytest.fixture
async def fake() -> AsyncIterator[FakeWeCom]:
    async with FakeWeCom() as server:
        yield server


@pytest.fixture
async def served(database_url: str, fake: FakeWeCom, tmp_path: Path) -> AsyncIterator[Served]:
    """The bot and its callback at /wecom/callback of a test server, handling in the
    background (a fast sweep, retries due at once)."""
    async with serving(fake, tmp_path) as running:
        yield running


@contextlib.asynccontextmanager
async def serving(fake: FakeWeCom, tmp_path: Path, **settings: Any) -> AsyncIterator[Served]:
    """`served`, with some of the app's settings of its own."""
    config = WeComConfig(corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, token=TOKEN,
                         aes_key=AES_KEY, api_base_url=fake.url, **settings)
    bot = WeComBot(config, flow_context(tmp_path / "media", hours=ALWAYS),
                   default_locale="en", per_second=None, user_gap_seconds=0.0)
    await bot.start()
    callback = WeComCallback(bot, sweep_seconds=0.05, retry_after=timedelta(0),
                             max_attempts=2)
    app = web.Application()
    app.router.add_route("GET", config.callback_path, callback.handle)
    app.router.add_route("POST", config.callback_path, callback.handle)
    server = TestServer(app)
    await server.start_server()
    await callback.start()
    try:
        async with WeComClient(str(server.make_url("/"))) as wecom:
            yield Served(callback, bot, wecom, fake)
    finally:
        await callback.stop()
        await server.close()
        await bot.stop()


async def test_the_url_check_answers_the_echo_and_writes_nothing(served: Served) -> None:
    answer = await served.wecom.verify_url("1616140317555161061")
    assert (answer.status, answer.body) == (200, "1616140317555161061")
    assert await stored() == []


async def test_forged_replayed_or_foreign_callbacks_are_refused_and_not_stored(
        served: Served, test_clock: SteadyClock, caplog: pytest.LogCaptureFixture) -> None:
    wecom = served.wecom
    assert (await wecom.verify_url(signature="0" * 40)).status == 403
    assert (await wecom.post(wecom.text(AGENT, "hi"), signature="0" * 40)).status == 403
    stale = str(int((test_clock() - timedelta(minutes=6)).timestamp()))
    assert (await wecom.verify_url(timestamp=stale)).status == 403
    assert (await wecom.post(wecom.text(AGENT, "hi"), timestamp=stale)).status == 403
    other_corp = WeComCrypt(TOKEN, AES_KEY, "wwsomeothercorp")
    assert (await wecom.post(wecom.text(AGENT, "hi"), crypt=other_corp)).status == 403
    unsigned = await wecom.post_raw(b"<xml><Encrypt>abc</Encrypt></xml>", {})
    assert unsigned.status == 400
    assert await stored() == []
    reasons = {record.getMessage().split("(")[1].split(",")[0] for record in caplog.records
               if "wecom callback refused" in record.getMessage()}
    assert reasons == {"bad_signature", "stale_timestamp", "wrong_receive_id",
                       "malformed_message"}


async def test_oversize_or_entity_xml_is_refused_unread_and_not_stored(served: Served
                                                                       ) -> None:
    wecom = served.wecom
    query = {"msg_signature": "0" * 40, "timestamp": "1", "nonce": "1"}
    oversize = b"<xml><Encrypt>" + b"A" * 70_000 + b"</Encrypt></xml>"
    assert (await wecom.post_raw(oversize, query)).status == 413
    bomb = (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;">]><xml><Encrypt>&b;</Encrypt></xml>')
    assert (await wecom.post_raw(bomb, query)).status == 400
    # signed and encrypted by the app's own keys, but the message inside declares an entity
    inner = ('<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
             f'<xml><FromUserName>{AGENT}</FromUserName><MsgType>text</MsgType>'
             '<CreateTime>1</CreateTime><Content>&x;</Content><MsgId>1</MsgId></xml>')
    assert (await wecom.post(inner)).status == 400
    assert await stored() == []


async def test_a_text_is_answered_at_once_stored_encrypted_then_handled(served: Served
                                                                        ) -> None:
    answer = await served.wecom.post(served.wecom.text(AGENT, "hello, my customer 张三"))
    assert (answer.status, answer.body) == (200, "")
    (row,) = await stored()
    assert (row.channel, row.sender) == ("wecom", AGENT)
    assert "张三" not in row.payload and "hello" not in row.payload  # encrypted at rest
    await until(lambda: _sent_to(served, AGENT, 1))
    assert served.texts(AGENT) == [NOT_UNDERSTOOD]
    await until(lambda: _all_handled(1))
    assert (await ChatInboxMessage.get(id=row.id)).payload == ""


async def test_a_callback_posted_four_times_is_handled_once(served: Served) -> None:
    answer = await served.wecom.post(served.wecom.text(AGENT, "hi"), times=4)
    assert (answer.status, answer.posts) == (200, 4)
    await until(lambda: _all_handled(1))
    assert len(await stored()) == 1
    assert served.texts(AGENT) == [NOT_UNDERSTOOD]


async def test_wecom_posts_again_when_no_answer_comes_in_time_and_it_counts_once(
        served: Served) -> None:
    lost = asyncio.Event()
    posts = 0

    async def first_answer_lost(request: web.Request) -> web.StreamResponse:
        nonlocal posts
        posts += 1
        if posts == 1:  # WeCom never sees this answer
            await lost.wait()
            return web.Response()
        return await served.callback.handle(request)

    app = web.Application()
    app.router.add_post("/wecom/callback", first_answer_lost)
    server = TestServer(app)
    await server.start_server()
    try:
        async with WeComClient(str(server.make_url("/")), timeout=0.3) as wecom:
            answer = await wecom.post(wecom.text(AGENT, "hi"))
    finally:
        lost.set()
        await server.close()
    assert (answer.status, answer.posts) == (200, 2)
    await until(lambda: _all_handled(1))
    assert served.texts(AGENT) == [NOT_UNDERSTOOD]


async def test_a_bind_code_sent_alone_binds_and_a_menu_click_is_its_command(
        served: Served) -> None:
    ids = await org_tree()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1", name="陈展业")
    code, _ = await binding.issue_bind_code(ROOT, agent.id)
    await served.wecom.post(served.wecom.text(AGENT, code.lower()))
    await until(lambda: _sent_to(served, AGENT, 1))
    assert (await binding.bound_staff("wecom", AGENT)).id == agent.id  # type: ignore[union-attr]
    before = len(served.fake.sent(AGENT))
    await served.wecom.post(served.wecom.event(AGENT, "click", "/whoami"))
    await until(lambda: _sent_to(served, AGENT, before + 1))
    assert "陈展业" in served.texts(AGENT)[before]


async def test_events_that_ask_nothing_and_unknown_kinds_are_handled_unanswered(
        served: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.wecom.convert")
    wecom = served.wecom
    await wecom.post(wecom.event(AGENT, "enter_agent"))
    await wecom.post(wecom.event(AGENT, "pic_sysphoto", "photo",
                                 "<SendPicsInfo><Count>1</Count></SendPicsInfo>"))
    await wecom.post(wecom.message(AGENT, "voice", None, "<MediaId>v1</MediaId>"))
    await until(lambda: _all_handled(3))
    assert served.fake.sent(AGENT) == []
    assert "wecom voice message" in caplog.text


async def test_a_sender_past_the_inbound_limit_is_told_once_to_slow_down(
        served: Served) -> None:
    served.bot.inbound_limit = InboundLimit(events=1, window_seconds=60)
    for number in range(3):
        await served.wecom.post(served.wecom.text(AGENT, f"message {number}"))
    await until(lambda: _all_handled(3))
    assert served.texts(AGENT) == [NOT_UNDERSTOOD, translate("en", chat_limits.SLOW_DOWN)]


async def test_one_senders_messages_are_handled_one_at_a_time_in_arrival_order(
        served: Served) -> None:
    handled: list[str] = []
    running: set[str] = set()
    overlapped: list[str] = []
    handle_update = served.bot.router.handle_update

    async def watched(inbound: Inbound) -> Handled:
        if inbound.external_user_id in running:
            overlapped.append(inbound.text)
        running.add(inbound.external_user_id)
        handled.append(inbound.text)
        try:
            await asyncio.sleep(0.01)  # long enough for another worker to step in
            return await handle_update(inbound)
        finally:
            running.discard(inbound.external_user_id)

    served.bot.router.handle_update = watched  # type: ignore[method-assign]
    other_process = WeComCallback(served.bot, sweep_seconds=0.05)  # claims from the same table
    await other_process.start()
    texts = [f"message {number}" for number in range(8)]
    try:
        await asyncio.gather(*(served.wecom.post(served.wecom.text(AGENT, text, msg_id=number))
                               for number, text in enumerate(texts)))
        await until(lambda: _all_handled(len(texts)))
    finally:
        await other_process.stop()
    arrival = [texts[int(row.dedupe_key.removeprefix("msg:"))] for row in await stored()]
    assert sorted(arrival) == sorted(texts)
    assert handled == arrival and overlapped == []
    assert served.texts(AGENT) == [NOT_UNDERSTOOD] * len(texts)


async def test_a_sender_being_handled_does_not_hold_up_another(served: Served) -> None:
    release = asyncio.Event()
    handle_update = served.bot.router.handle_update

    async def slow_for_agent(inbound: Inbound) -> Handled:
        if inbound.external_user_id == AGENT:
            await release.wait()
        return await handle_update(inbound)

    served.bot.router.handle_update = slow_for_agent  # type: ignore[method-assign]
    await served.wecom.post(served.wecom.text(AGENT, "first"))
    await served.wecom.post(served.wecom.text(AGENT, "second"))
    await served.wecom.post(served.wecom.text(REVIEWER, "meanwhile"))
    await until(lambda: _all_handled(1))
    assert len(served.fake.sent(REVIEWER)) == 1 and served.fake.sent(AGENT) == []
    assert [row.status for row in await stored()] == [InboxStatus.PENDING,
                                                      InboxStatus.PENDING,
                                                      InboxStatus.HANDLED]
    release.set()
    await until(lambda: _all_handled(3))
    assert served.texts(AGENT) == [NOT_UNDERSTOOD, NOT_UNDERSTOOD]


async def test_a_message_whose_worker_died_is_taken_again_once_its_claim_lapses(
        served: Served, test_clock: SteadyClock) -> None:
    await served.callback.stop()  # only the dying worker below claims
    await served.wecom.post(served.wecom.text(AGENT, "hi"))
    (dying,) = await chat_inbox.claim("wecom", test_clock(), lease=timedelta(seconds=60))
    await served.callback.start()
    await asyncio.sleep(0.2)  # several sweeps: the claim still holds
    assert served.fake.sent(AGENT) == []
    test_clock.move_to(test_clock() + timedelta(seconds=61))
    await until(lambda: _all_handled(1))
    assert served.texts(AGENT) == [NOT_UNDERSTOOD]
    row = (await stored())[0]
    assert row.attempts == 2
    assert not await chat_inbox.handled(dying, test_clock())  # the dead worker is fenced off


async def test_a_message_failing_every_attempt_goes_dead_with_its_error(
        served: Served, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(inbound: Inbound) -> Handled:
        raise RuntimeError("the flows fell over")

    served.bot.router.handle_update = broken  # type: ignore[method-assign]
    await served.wecom.post(served.wecom.text(AGENT, "hi"))
    await until(lambda: _count(InboxStatus.DEAD, 1))
    (row,) = await stored()
    assert row.attempts == 2 and "the flows fell over" in row.last_error
    assert row.payload == ""  # no customer data kept in a dead message
    assert "is dead after 2 attempts" in caplog.text
    assert await chat_inbox.status_counts() == {("wecom", "dead"): 1}  # shown in /metrics
    assert served.fake.sent(AGENT) == []


async def test_a_lost_claim_goes_dead_emptied_and_dead_messages_are_pruned_in_time(
        served: Served, test_clock: SteadyClock) -> None:
    await served.callback.stop()  # only the dying workers below claim
    await served.wecom.post(served.wecom.text(AGENT, "hi, 张三 110101199003070011"))
    await served.wecom.post(served.wecom.text(REVIEWER, "hi"))
    await chat_inbox.claim("wecom", test_clock(), max_attempts=1)
    test_clock.move_to(test_clock() + timedelta(seconds=61))
    assert await chat_inbox.claim("wecom", test_clock(), max_attempts=1) == []
    dead = await stored(InboxStatus.DEAD)
    assert len(dead) == 2 and {row.payload for row in dead} == {""}
    await served.wecom.post(served.wecom.text(AGENT, "later"))
    assert await chat_inbox.prune("wecom", test_clock() - timedelta(seconds=1)) == 2
    assert [row.status for row in await stored()] == [InboxStatus.PENDING]


async def test_a_slow_handling_renews_its_claim_so_no_worker_takes_the_message_meanwhile(
        served: Served, test_clock: SteadyClock) -> None:
    await served.callback.stop()
    release, started = asyncio.Event(), asyncio.Event()
    texts = _slowed(served, release, started)
    renewing = WeComCallback(served.bot, sweep_seconds=0.05, renew_seconds=0.02)
    await renewing.start()
    try:
        await served.wecom.post(served.wecom.text(AGENT, "hi"))
        await asyncio.wait_for(started.wait(), 10)
        test_clock.move_to(test_clock() + timedelta(seconds=61))  # past the first lease

        async def renewed() -> bool:
            (row,) = await stored()
            return row.claimed_until is not None and row.claimed_until > test_clock()

        await until(renewed)
        assert await chat_inbox.claim("wecom", test_clock()) == []  # another process
        release.set()
        await until(lambda: _all_handled(1))
    finally:
        await renewing.stop()
    assert texts == ["hi"] and (await stored())[0].attempts == 1
    assert served.texts(AGENT) == [NOT_UNDERSTOOD]


async def test_a_worker_never_takes_again_a_message_it_is_still_handling(
        served: Served, test_clock: SteadyClock) -> None:
    await served.callback.stop()
    release, started = asyncio.Event(), asyncio.Event()
    texts = _slowed(served, release, started)
    unrenewed = WeComCallback(served.bot, sweep_seconds=0.05, renew_seconds=3600)
    await unrenewed.start()
    try:
        await served.wecom.post(served.wecom.text(AGENT, "hi"))
        await asyncio.wait_for(started.wait(), 10)
        test_clock.move_to(test_clock() + timedelta(seconds=61))  # its claim lapsed
        await asyncio.sleep(0.3)  # several sweeps of the same worker
        assert texts == ["hi"]
        release.set()
        await until(lambda: _all_handled(1))
    finally:
        await unrenewed.stop()
    assert texts == ["hi"] and served.texts(AGENT) == [NOT_UNDERSTOOD]


async def test_a_failure_after_the_flows_committed_is_logged_not_retried(
        served: Served, caplog: pytest.LogCaptureFixture) -> None:
    send_replies = served.bot.send_replies
    calls: list[list[str]] = []

    async def failing_once(user: str, replies: list[Any], update_key: str, **kw: Any) -> None:
        calls.append([reply.text for reply in replies])
        if len(calls) == 1:
            raise RuntimeError("the database went away while sending")
        await send_replies(user, replies, update_key, **kw)

    served.bot.send_replies = failing_once  # type: ignore[method-assign]
    await served.wecom.post(served.wecom.text(AGENT, "hi"))
    await until(lambda: _all_handled(1))
    (row,) = await stored()
    assert (row.attempts, row.last_error) == (1, "")
    assert calls == [[NOT_UNDERSTOOD]]
    assert "after the flows committed it" in caplog.text


async def test_a_card_press_refused_by_the_inbound_limit_leaves_its_card_live(
        served: Served, tmp_path: Path) -> None:
    desk = await capture_desk(tmp_path)
    await binding.bind_chat("wecom", AGENT, AGENT, await code_for(desk.agent))
    await _said(served, served.wecom.text(AGENT, "/new"))
    card = _last_card(served)
    served.bot.inbound_limit = InboundLimit(events=1, window_seconds=60)
    await _said(served, served.wecom.text(AGENT, "/help"))
    refused = _press(served, TYPE, card)
    assert translate("en", chat_limits.SLOW_DOWN) in await _said(served, refused)
    assert (await ChatCard.get(task_id=card["task_id"])).pressed_at is None
    served.bot.inbound_limit = None
    assert NAME_PROMPT in await _said(served, _press(served, TYPE, card, create_time=2))


async def test_the_replay_window_is_a_setting(fake: FakeWeCom, tmp_path: Path,
                                              database_url: str,
                                              test_clock: SteadyClock) -> None:
    async with serving(fake, tmp_path, replay_seconds=60) as running:
        wecom = running.wecom
        late = str(int((test_clock() - timedelta(seconds=90)).timestamp()))
        assert (await wecom.post(wecom.text(AGENT, "hi"), timestamp=late)).status == 403
        recent = str(int((test_clock() - timedelta(seconds=30)).timestamp()))
        assert (await wecom.post(wecom.text(AGENT, "hi"), timestamp=recent)).status == 200


async def test_photos_come_through_media_get_and_the_same_photo_checks(
        served: Served, tmp_path: Path) -> None:
    desk = await capture_desk(tmp_path)
    await binding.bind_chat("wecom", AGENT, AGENT, await code_for(desk.agent))
    wecom = served.wecom
    types = await _said(served, wecom.text(AGENT, "/new"))
    assert TYPE in types
    assert NAME_PROMPT in await _said(served, _press(served, TYPE))
    for text in ("张三", ID_NUMBER, MOBILE):
        await _said(served, wecom.text(AGENT, text))
    assert FRONT_PROMPT in await _said(served, wecom.location(AGENT, 31.2304, 121.4737))
    limit = PhotoLimits().max_bytes
    huge = served.fake.add_media(b"\xff\xd8\xff\xe0" + bytes(limit))  # no size announced
    assert "too large" in await _said(served, wecom.image(AGENT, huge))
    dark = io.BytesIO()
    Image.new("RGB", (1200, 900), (3, 3, 3)).save(dark, format="JPEG")
    refused = await _said(served, wecom.image(AGENT, served.fake.add_media(dark.getvalue())))
    assert "too dark" in refused
    accepted = await _said(served, wecom.image(AGENT, served.fake.add_media(noisy_jpeg(1))))
    assert BACK_PROMPT in accepted
    assert len(served.fake.called("media/get")) == 3
    case = await Case.get(agent_id=desk.agent.id)
    assert [photo.kind for photo in await CasePhoto.filter(case_id=case.id)] == [
        PhotoKind.ID_FRONT]


async def test_a_card_button_counts_once_and_the_picker_and_files_reach_the_flows(
        served: Served, tmp_path: Path) -> None:
    desk = await capture_desk(tmp_path)
    await binding.bind_chat("wecom", AGENT, AGENT, await code_for(desk.agent))
    wecom = served.wecom
    await _said(served, wecom.text(AGENT, "/new"))
    card = _last_card(served)
    assert NAME_PROMPT in await _said(served, _press(served, TYPE))
    (update,) = served.fake.updates  # the card now shows the choice
    assert TYPE in update["button"]["replace_name"]
    pressed_again = wecom.card_press(AGENT, card["task_id"], card["button_list"][0]["key"],
                                     "a-later-response-code", create_time=1)
    assert "This button is no longer valid." in await _said(served, pressed_again)
    assert await Case.filter(agent_id=desk.agent.id).count() == 1
    for text in ("张三", ID_NUMBER, MOBILE):
        await _said(served, wecom.text(AGENT, text))
    picked = wecom.event(AGENT, "location_select", "location", (
        "<SendLocationInfo><Location_X>31.2304</Location_X><Location_Y>121.4737</Location_Y>"
        "<Scale>15</Scale><Label><![CDATA[网点]]></Label></SendLocationInfo>"))
    assert FRONT_PROMPT in await _said(served, picked)
    front = served.fake.add_media(noisy_jpeg(3), "application/octet-stream")
    assert BACK_PROMPT in await _said(served, wecom.file(AGENT, front, "front.jpg"))
    case = await Case.get(agent_id=desk.agent.id)
    assert case.latitude == pytest.approx(31.2304)
    assert await CasePhoto.filter(case_id=case.id, kind=PhotoKind.ID_FRONT).count() == 1


def _press(served: Served, label: str, card: dict[str, Any] | None = None,
           create_time: int | None = None) -> str:
    """The card press of the button with this label on a card (the last the agent got)."""
    card = card or _last_card(served)
    key = next(b["key"] for b in card["button_list"] if b["text"] == label)
    code = next(code for code, sent in served.fake.cards.items()
                if sent["task_id"] == card["task_id"])
    return served.wecom.card_press(AGENT, card["task_id"], key, code, create_time=create_time)


def _slowed(served: Served, release: asyncio.Event, started: asyncio.Event) -> list[str]:
    """Make the flows wait for `release` on each update; the texts they were given."""
    texts: list[str] = []
    handle_update = served.bot.router.handle_update

    async def slow(inbound: Inbound) -> Handled:
        texts.append(inbound.text)
        started.set()
        await release.wait()
        return await handle_update(inbound)

    served.bot.router.handle_update = slow  # type: ignore[method-assign]
    return texts


def _last_card(served: Served) -> dict[str, Any]:
    return next(body["template_card"] for body in reversed(served.fake.sent(AGENT))
                if body["msgtype"] == "template_card")


async def _said(served: Served, message: str) -> str:
    """Post a message as the agent and return all the bot answered, joined."""
    before = len(served.fake.sent(AGENT))
    await served.wecom.post(message)
    await until(lambda: _sent_to(served, AGENT, before + 1))
    await until(_all_pending_handled)
    return "\n".join(served.texts(AGENT)[before:])


async def _all_pending_handled() -> bool:
    return not await ChatInboxMessage.exists(status=InboxStatus.PENDING)


async def _sent_to(served: Served, user: str, count: int) -> bool:
    return len(served.fake.sent(user)) >= count


async def _all_handled(count: int) -> bool:
    return await _count(InboxStatus.HANDLED, count)


async def _count(status: InboxStatus, count: int) -> bool:
    return await ChatInboxMessage.filter(status=status).count() >= count
