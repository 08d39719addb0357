"""The browser chat (/chat) through HTTP: texts, photos, buttons, once-only forms, the outbox."""

from __future__ import annotations

import html
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from admin_web.app import AdminConfig
from bot.dispatcher import OutboxDispatcher
from bot.flows import router
from bot.flows.turn import Outcome, Step, Turn, answer
from bot.webchat import WebChat
from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.models import ChatBinding, OutboxMessage, OutboxStatus, Role, Staff, WebChatMessage
from domain.people import staff
from domain.platform import chat, clock, outbox, webchat
from domain.platform.errors import DomainError
from domain.platform.images import MIB, PhotoLimits
from domain.platform.intents import Action, Intent
from locales import translate
from tests.admin_support import admin_site, log_in
from tests.chat_support import ALL_HOURS, chat_config, upload
from tests.factories import (
    ROOT,
    flow_context,
    operational,
    org_tree,
    person,
    web_user,
)
from tests.review_support import KINDS, photo
from tests.webchat_support import post_chat, press, say, text_form_id


def zh(message: str, **params: object) -> str:
    """What a Chinese user reads for a msgid."""
    return translate("zh_CN", message, **params)


@dataclass
class Agent:
    """A logged-in field agent's browser and his staff row."""

    client: TestClient
    row: Staff


@pytest.fixture
async def ids(database_url: str) -> dict[str, int]:
    return await org_tree()


@pytest.fixture
async def agent(ids: dict[str, int], tmp_path: Path) -> AsyncIterator[Agent]:
    """Field agent F1 logged in to a chat-enabled admin site."""
    row, username = await web_user(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    async with admin_site(chat_config(tmp_path)) as client:
        await log_in(client, username)
        yield Agent(client, row)


async def lines_of(member: Staff) -> list[tuple[bool, str]]:
    """(from the bot, text) of each line of a staff member's transcript."""
    rows = await WebChatMessage.filter(staff=member).order_by("id")
    return [(row.from_bot, row.text) for row in rows]


async def test_whoami_is_answered_in_the_browser_chat(agent: Agent) -> None:
    page = await say(agent.client, "/whoami")
    identity = zh("Name: %(name)s\nEmployee number: %(employee_no)s\nOrganisation: %(org)s\n"
                  "Roles: %(roles)s", name="员工F1", employee_no="F1", org="网点a",
                  roles=zh("Field agent"))
    assert '<div class="bubble me"' in page and "/whoami" in page
    assert identity in page
    assert await lines_of(agent.row) == [(False, "/whoami"), (True, identity)]
    assert await ChatBinding.exists(staff=agent.row, channel="web", chat_id=str(agent.row.id))


async def test_a_field_agent_lands_in_the_chat_after_log_in(ids: dict[str, int],
                                                            tmp_path: Path) -> None:
    _, username = await web_user(ids["outlet_a"], Role.FIELD_AGENT, no="F2")
    async with admin_site(chat_config(tmp_path)) as client:
        response = await log_in(client, username)
        page = await response.text()
    assert response.url.path == "/chat"
    assert zh("No messages yet. Send /help to start.") in page
    assert '<script src="/static/chat.js" defer></script>' in page


async def test_a_photo_lands_in_the_transcript_and_the_media_store(agent: Agent,
                                                                 tmp_path: Path) -> None:
    sent = photo(1)
    response = await upload(agent.client, sent)
    page = await response.text()
    line = await WebChatMessage.get(staff=agent.row, from_bot=False)
    assert response.url.path == "/chat"
    assert line.photo_sha256 is not None
    assert f'src="/chat/photos/{line.photo_sha256}"' in page
    stored = tmp_path / "media" / line.photo_sha256[:2] / line.photo_sha256[2:4] / line.photo_sha256
    assert stored.read_bytes() == sent
    shown = await agent.client.get(f"/chat/photos/{line.photo_sha256}")
    assert shown.status == 200 and shown.content_type == "image/jpeg"
    preview = Image.open(io.BytesIO(await shown.read()))
    assert preview.size == (1200, 900) and not preview.getexif()


async def test_an_oversized_photo_is_refused_with_the_limit(ids: dict[str, int],
                                                            tmp_path: Path) -> None:
    _, username = await web_user(ids["outlet_a"], Role.FIELD_AGENT, no="F3")
    config = chat_config(tmp_path, photo_limits=PhotoLimits(max_bytes=MIB))
    async with admin_site(config) as client:
        await log_in(client, username)
        response = await upload(client, photo(2) + bytes(MIB))
        page = html.unescape(await response.text())
        huge = await upload(client, bytes(4 * MIB))
        huge_page = html.unescape(await huge.text())
    assert response.url.path == "/chat"
    assert zh("The photo is too large: at most %(limit)d MB is allowed.", limit=1) in page
    assert huge.status == 413
    assert zh("This upload is too large. Go back and send a smaller file.") in huge_page
    assert not await WebChatMessage.exists()
    assert not (tmp_path / "media").exists()


async def test_a_language_button_switches_the_chat_to_english(agent: Agent) -> None:
    page = await say(agent.client, "/language")
    assert zh("Choose your language.") in page
    page = await press(agent.client, "lang:en")
    assert "From now on I answer in English." in page
    page = await say(agent.client, "/whoami")
    assert "Employee number: F1" in page


async def test_a_form_submitted_twice_acts_once(agent: Agent) -> None:
    fields = {"text": "/help", "client_id": await text_form_id(agent.client)}
    first = await post_chat(agent.client, fields)
    second = await post_chat(agent.client, fields)
    assert first.status == second.status == 200
    assert [from_bot for from_bot, _ in await lines_of(agent.row)] == [False, True]


async def test_another_users_photo_is_not_served(agent: Agent, ids: dict[str, int],
                                                 tmp_path: Path) -> None:
    other, _ = await web_user(ids["outlet_b"], Role.FIELD_AGENT, no="F9")
    chat = WebChat(flow_context(tmp_path / "media", hours=ALL_HOURS), "zh_CN")
    await chat.post(other.id, client_id="a" * 32, upload=("p.jpg", "image/jpeg", photo(3)))
    sha256 = (await WebChatMessage.get(staff=other, from_bot=False)).photo_sha256
    refused = await agent.client.get(f"/chat/photos/{sha256}")
    escaping = await agent.client.get("/chat/photos/..%2F..%2Fetc%2Fpasswd")
    assert refused.status == 404 and escaping.status == 404
    assert zh("This photo is not in your chat.") in await refused.text()


async def test_a_chat_post_without_csrf_token_is_refused(agent: Agent) -> None:
    client_id = await text_form_id(agent.client)
    response = await agent.client.post("/chat", data={"text": "/help", "client_id": client_id})
    assert response.status == 403
    assert not await WebChatMessage.exists()


async def test_an_outbox_message_reaches_the_browser_chat(agent: Agent, tmp_path: Path) -> None:
    await webchat.bind_web_chat(agent.row.id)
    await outbox.enqueue(agent.row.id, "%(actor)s changed your roles. Send /whoami to see them.",
                         {"actor": "S001 张伟"}, idempotency_key="roles:1",
                         intent=Intent.of("special.requested", 1, Action.APPROVE, Action.OPEN))
    chat = WebChat(flow_context(tmp_path / "media"), "zh_CN")
    assert await OutboxDispatcher({"web": chat}).run_once() == 1
    fragment = html.unescape(await (await agent.client.get("/chat/messages?after=0")).text())
    last_id = re.findall(r'data-id="(\d+)"', fragment)[-1]
    nothing_new = await (await agent.client.get(f"/chat/messages?after={last_id}")).text()
    message = await OutboxMessage.get(idempotency_key="roles:1")
    assert message.channel == "web" and message.status == OutboxStatus.SENT
    assert zh("%(actor)s changed your roles. Send /whoami to see them.",
              actor="S001 张伟") in fragment
    assert '<a class="button" href="/special-approvals">' in fragment
    assert 'name="button" value="sp:approve:1"' in fragment
    assert nothing_new.strip() == ""


async def test_the_chat_page_says_when_the_chat_is_off(ids: dict[str, int]) -> None:
    _, username = await web_user(ids["province"], Role.REVIEWER, no="R1")
    async with admin_site(AdminConfig(secret_key="chat-secret")) as client:
        await log_in(client, username)
        page = await (await client.get("/chat")).text()
    assert zh("The browser chat is not enabled on this site.") in page


async def test_a_deactivated_staff_member_gets_no_browser_chat(ids: dict[str, int]) -> None:
    row, _ = await web_user(ids["outlet_a"], Role.FIELD_AGENT, no="F4")
    await staff.set_active(ROOT, row.id, False)
    with pytest.raises(DomainError):
        await webchat.bind_web_chat(row.id)
    assert not await ChatBinding.exists(staff=row)


async def test_polling_alone_does_not_keep_an_idle_session_open(
        agent: Agent, monkeypatch: pytest.MonkeyPatch) -> None:
    start = clock.utcnow()
    for minutes in (10, 20, 31):
        monkeypatch.setattr(clock, "utcnow", lambda m=minutes: start + timedelta(minutes=m))
        polled = await agent.client.get("/chat/messages?after=0")
    assert polled.url.path == "/login"


async def test_a_side_command_in_the_browser_chat_returns_to_the_open_step(
    agent: Agent, ids: dict[str, int]
) -> None:
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O1")
    debit = await business_types.create_business_type(
        ops, "DEBIT_CARD", BusinessTypeForm("借记卡开户", "Debit card opening", frozenset(KINDS)))
    await operational(agent.row)
    await say(agent.client, "/new")
    await press(agent.client, f"cap:new:{debit.id}")
    name_prompt = zh("Enter the customer's full name as printed on the ID card.")
    await say(agent.client, "/help")
    *_, helped, again = await lines_of(agent.row)
    assert "/whoami" in helped[1] and name_prompt in again[1]
    await say(agent.client, "张三")
    *_, asked = await lines_of(agent.row)
    assert asked[1] == zh("Enter the customer's 18-character resident ID number.")


async def test_a_form_that_fails_midway_records_nothing_and_can_be_sent_again(
    agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashes = [False, True]

    async def half_done(turn: Turn) -> Outcome:
        await chat.choose_locale(turn.session, "en")
        if crashes.pop():
            raise ConnectionError("the process dies here")
        return answer(Step.IDLE, "done")

    monkeypatch.setitem(router.COMMANDS, "halfdone", half_done)
    fields = {"text": "/halfdone", "client_id": await text_form_id(agent.client)}
    assert (await post_chat(agent.client, fields)).status == 500
    assert await lines_of(agent.row) == []
    assert (await Staff.get(id=agent.row.id)).locale is None
    assert (await post_chat(agent.client, fields)).status == 200
    await post_chat(agent.client, fields)
    assert await lines_of(agent.row) == [(False, "/halfdone"), (True, "done")]


async def test_a_location_that_is_no_number_is_refused_and_nothing_is_sent(agent: Agent
                                                                         ) -> None:
    response = await post_chat(agent.client, {"latitude": "north", "longitude": "118.8",
                                              "client_id": await text_form_id(agent.client)})
    page = html.unescape(await response.text())
    assert response.status < 500
    assert zh("This location is not valid. Please share it again.") in page
    assert not [text for from_bot, text in await lines_of(agent.row) if not from_bot]
