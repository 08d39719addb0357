"""The WeCom API client against the fake WeCom API (issue 15): the access token shared through
the database by every process, refreshed before expiry and at once when WeCom rejects it,
frequency limits as a pause, permanent errors, media, template cards, and the settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from bot.wecom.api import (
    PermanentError,
    RateLimited,
    TokenRejected,
    TransientError,
    WeComApi,
    send_failure,
)
from bot.wecom.config import WeComConfig, wecom_config
from bot.wecom.errors import StaleTimestamp
from domain.models import PlatformToken
from fieldops.settings import SettingsError, load_settings
from tests.clock_support import SteadyClock
from tests.fake_wecom import AGENT_ID, CORP_ID, SECRET, FakeWeCom

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CARD = {"card_type": "button_interaction", "task_id": "case-42-review",
        "main_title": {"title": "案件 42 待审核"},
        "button_list": [{"text": "认领", "style": 1, "key": "a:1"},
                        {"text": "退回", "style": 2, "key": "a:2"}]}


def config(fake: FakeWeCom, secret: str = SECRET) -> WeComConfig:
    return WeComConfig(corp_id=CORP_ID, agent_id=AGENT_ID, secret=secret, token="cbtoken",
                       aes_key=AES_KEY, api_base_url=fake.url)


@pytest.fixture
async def fake() -> AsyncIterator[FakeWeCom]:
    async with FakeWeCom() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_two_processes_fetch_the_token_once_and_share_it(
        database_url: str, fake: FakeWeCom, session: aiohttp.ClientSession) -> None:
    fake.latency = 0.05  # the first gettoken is still under way when the second asks
    first, second = (WeComApi(session, config(fake), holder=name) for name in ("p1", "p2"))
    tokens = await asyncio.gather(first.access_token(), second.access_token(),
                                  first.access_token())
    assert len(set(tokens)) == 1
    assert len(fake.called("gettoken")) == 1
    await second.send_text("agent-f1", "你好")
    assert len(fake.called("gettoken")) == 1
    row = await PlatformToken.get(channel="wecom")
    assert row.refreshed_by in ("p1", "p2")


async def test_the_token_is_refreshed_before_it_expires(
        database_url: str, fake: FakeWeCom, session: aiohttp.ClientSession,
        test_clock: SteadyClock) -> None:
    api = WeComApi(session, config(fake), holder="p1")
    token = await api.access_token()
    test_clock.move_to(test_clock() + timedelta(seconds=7200 - 6 * 60))
    assert await api.access_token() == token  # six minutes left: still used
    test_clock.move_to(test_clock() + timedelta(minutes=2))
    assert await api.access_token() != token  # four minutes left: within the margin
    assert len(fake.called("gettoken")) == 2


async def test_an_expired_token_is_refreshed_at_once_and_the_call_retried_once(
        database_url: str, fake: FakeWeCom, session: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # as run; the ORM's DEBUG log prints every SQL value
    api = WeComApi(session, config(fake), holder="p1")
    await api.send_text("agent-f1", "one")
    fake.expire_token()
    await api.send_text("agent-f1", "two")
    assert [call.errcode for call in fake.called("message/send")] == [0, 42001, 0]
    assert len(fake.called("gettoken")) == 2
    fake.invalidate_token()
    other = WeComApi(session, config(fake), holder="p2")
    await other.send_text("agent-f1", "three")  # 40014: the same
    assert len(fake.called("gettoken")) == 3
    fake.fail_next(42001, count=2, path="message/send")
    with pytest.raises(TokenRejected):  # still rejected after one re-read: no loop
        await api.send_text("agent-f1", "four")
    assert len(fake.called("gettoken")) == 3  # the token p2 stored was re-read, not fetched
    tokens = {call.query["access_token"] for call in fake.calls if "access_token" in call.query}
    assert len(tokens) == 3 and not any(token in caplog.text for token in tokens)  # a secret
    fake.fail_next(45009, path="gettoken")
    with pytest.raises(RateLimited):
        await WeComApi(session, config(fake), holder="p3").fetch_token()


async def test_a_frequency_limit_is_a_pause_not_a_failed_attempt(
        database_url: str, fake: FakeWeCom, session: aiohttp.ClientSession) -> None:
    api = WeComApi(session, config(fake), holder="p1")
    for errcode, pause in ((45009, 60.0), (45033, 1.0)):
        fake.frequency_limit(errcode)
        with pytest.raises(RateLimited) as raised:
            await api.send_text("agent-f1", "hi")
        failure = send_failure(raised.value)
        assert (failure.retry_after, failure.permanent) == (pause, False)
    await api.send_text("agent-f1", "hi")
    assert len(fake.sent("agent-f1")) == 1


async def test_permanent_errors(database_url: str, fake: FakeWeCom,
                                session: aiohttp.ClientSession) -> None:
    api = WeComApi(session, config(fake), holder="p1")
    with pytest.raises(PermanentError) as raised:
        await api.send_text("nobody", "hi")
    assert raised.value.errcode == 81013 and send_failure(raised.value).permanent
    with pytest.raises(PermanentError):
        await api.send_text("agent-f1", "x" * 2049)
    with pytest.raises(PermanentError) as raised:
        await WeComApi(session, config(fake, secret="wrong"), holder="p2").fetch_token()
    assert raised.value.errcode == 40001
    fake.fail_next(-1)
    with pytest.raises(TransientError) as busy:
        await api.send_text("agent-f1", "hi")
    failure = send_failure(busy.value)
    assert (failure.retry_after, failure.permanent) == (None, False)


def test_the_crypt_refuses_a_callback_outside_the_replay_window(
        test_clock: SteadyClock) -> None:
    crypt = WeComConfig(corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, token="cbtoken",
                        aes_key=AES_KEY, replay_seconds=60).crypt()
    for age, refused in ((50, False), (70, True)):
        stamp = str(int((test_clock() - timedelta(seconds=age)).timestamp()))
        envelope = crypt.encrypt_message("<xml><MsgType>text</MsgType></xml>", "n1", stamp)
        signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        if refused:
            with pytest.raises(StaleTimestamp):
                crypt.decrypt_message(envelope, signature, stamp, "n1")
        else:
            assert "text" in crypt.decrypt_message(envelope, signature, stamp, "n1")


async def test_media_get_and_upload(database_url: str, fake: FakeWeCom,
                                    session: aiohttp.ClientSession) -> None:
    api = WeComApi(session, config(fake), holder="p1")
    photo = b"\xff\xd8\xff\xe0 a jpeg"
    media = await api.media_get(fake.add_media(photo))
    assert (media.content, media.content_type) == (photo, "image/jpeg")
    with pytest.raises(PermanentError) as raised:
        await api.media_get("unknown")
    assert raised.value.errcode == 40007
    media_id = await api.media_upload("file", "report.csv", b"a,b\n1,2\n", "text/csv")
    assert fake.media[media_id][0] == b"a,b\n1,2\n"


async def test_a_capped_download_stops_just_past_its_cap(
        database_url: str, fake: FakeWeCom, session: aiohttp.ClientSession) -> None:
    api = WeComApi(session, config(fake), holder="p1")
    photo = bytes(range(256)) * 1024  # 256 KiB, more than one piece read
    media_id = fake.add_media(photo)
    cut = await api.media_get(media_id, max_bytes=100_000)
    assert (cut.content, cut.complete) == (photo[:100_001], False)
    whole = await api.media_get(media_id, max_bytes=len(photo))
    assert (whole.content, whole.complete) == (photo, True)


async def test_a_card_is_sent_updated_once_and_recalled(
        database_url: str, fake: FakeWeCom, session: aiohttp.ClientSession) -> None:
    api = WeComApi(session, config(fake), holder="p1")
    sent = await api.send_card("reviewer-r1", CARD)
    assert sent.response_code and fake.cards[sent.response_code] == CARD
    await api.update_card(["reviewer-r1"], sent.response_code, replace_name="已认领")
    assert fake.updates[-1]["button"] == {"replace_name": "已认领"}
    with pytest.raises(PermanentError):  # a response code works once
        await api.update_card(["reviewer-r1"], sent.response_code, replace_name="again")
    with pytest.raises(PermanentError):  # the same task id twice
        await api.send_card("reviewer-r1", CARD)
    await api.recall(sent.msgid)
    assert fake.recalled == [sent.msgid]
    await api.menu_create([{"type": "click", "name": "新建案件", "key": "menu:new"}])
    assert fake.menu[0]["key"] == "menu:new"


@pytest.mark.parametrize("change", [
    {"button_list": []},
    {"button_list": [{"text": f"b{n}", "key": f"k{n}"} for n in range(7)]},
    {"button_list": [{"text": "b", "key": "k" * 1025}]},
    {"button_list": [{"text": "b", "key": "k"}, {"text": "c", "key": "k"}]},
    {"task_id": "has space"},
    {"main_title": {}},
])
async def test_the_fake_refuses_cards_wecom_refuses(
        database_url: str, fake: FakeWeCom, session: aiohttp.ClientSession,
        change: dict[str, object]) -> None:
    api = WeComApi(session, config(fake), holder="p1")
    with pytest.raises(PermanentError):
        await api.send_card("reviewer-r1", {**CARD, **change})


def test_settings_off_on_and_malformed() -> None:
    assert wecom_config(load_settings()) is None
    on = dict(wecom_corp_id=CORP_ID, wecom_agent_id="1000002", wecom_secret=SECRET,
              wecom_token="cbtoken", wecom_aes_key=AES_KEY)
    loaded = wecom_config(load_settings(**on))
    assert loaded is not None and loaded.agent_id == AGENT_ID
    assert loaded.api_base_url == "https://qyapi.weixin.qq.com"
    assert loaded.callback_path == "/wecom/callback"
    assert loaded.replay_seconds == 300
    assert wecom_config(load_settings(**on, wecom_replay_seconds=60)).replay_seconds == 60
    assert SECRET not in repr(loaded) and AES_KEY not in repr(loaded)
    for name, value in (("agent_id", "x12"), ("aes_key", AES_KEY[:-1]),
                        ("aes_key", AES_KEY[:-1] + "!"), ("secret", ""),
                        ("api_base_url", "ftp://x"), ("replay_seconds", "5"),
                        ("replay_seconds", "86400")):
        with pytest.raises(SettingsError) as raised:
            load_settings(**{**on, f"wecom_{name}": value})
        message = str(raised.value)
        assert message.startswith(f"FIELDOPS_WECOM_{name.upper()}:") and "\n" not in message
        assert value not in message or not value
