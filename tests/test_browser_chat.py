"""The browser chat in a real headless Chromium: an agent talks to the bot from the admin site."""

from __future__ import annotations

from pathlib import Path

from bot.dispatcher import OutboxDispatcher
from bot.webchat import WebChat
from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.models import Case, CasePhoto, CaseStatus, Role
from domain.platform import outbox
from domain.platform.intents import Intent
from locales import translate
from tests.browser_chat_support import POLL_WAIT_MS, chat_in_browser, send, send_photo, tap
from tests.case_support import ID_NUMBER, KINDS, noisy_jpeg
from tests.factories import ROOT, flow_context, operational, org_tree, web_user


async def test_an_agent_chats_and_sees_pushed_messages_without_reloading(
        database_url: str, chromium: str, tmp_path: Path) -> None:
    ids = await org_tree()
    agent, username = await web_user(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    async with chat_in_browser(chromium, tmp_path, username) as page:
        identity = await send(page, "/whoami")
        await send(page, "/language")
        switched = await tap(page, "English")
        await outbox.enqueue(agent.id, "%(actor)s changed your roles. Send /whoami to see them.",
                             {"actor": "S001 张伟"},
                             intent=Intent.of("staff.roles_changed", agent.id),
                             idempotency_key="roles:1")
        chat = WebChat(flow_context(tmp_path / "media"), "zh_CN")
        assert await OutboxDispatcher({"web": chat}).run_once() == 1
        pushed = page.locator(".bubble.bot", has_text="S001 张伟 changed your roles.")
        await pushed.wait_for(timeout=POLL_WAIT_MS)
        mine = await page.locator(".bubble.me").all_inner_texts()
    assert "员工F1" in identity and translate("zh_CN", "Field agent") in identity
    assert switched == "From now on I answer in English."
    assert [text.splitlines()[0] for text in mine] == ["/whoami", "/language"]


def zh(message: str, **params: object) -> str:
    """What the agent reads (and taps) for a msgid."""
    return translate("zh_CN", message, **params)


async def test_an_agent_captures_a_case_in_the_browser_chat(
        database_url: str, chromium: str, tmp_path: Path) -> None:
    ids = await org_tree()
    agent, username = await web_user(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    await business_types.create_business_type(ROOT, "DEBIT_CARD", BusinessTypeForm(
        "借记卡开户", "Debit card opening", frozenset(KINDS)))
    await operational(agent)
    photos = []
    for seed, kind in enumerate(KINDS):
        photos.append(tmp_path / f"{kind}.jpg")
        photos[-1].write_bytes(noisy_jpeg(seed))
    async with chat_in_browser(chromium, tmp_path, username) as page:
        await send(page, "/new")
        await tap(page, "借记卡开户")
        await send(page, "张三")
        await send(page, ID_NUMBER)
        await send(page, "13800138000")
        await tap(page, zh("Skip"))
        for photo in photos:
            await send_photo(page, photo)
        await tap(page, zh("I gave the risk hints"))
        shown_photos = await page.locator(".bubble.me img.chat-photo").count()
        submitted = await tap(page, zh("Submit"))
        left_in_chat = await page.locator(".bubble.me img.chat-photo").count()
    case = await Case.get()
    assert case.status == CaseStatus.SUBMITTED and case.case_no
    assert case.case_no in submitted
    assert await CasePhoto.filter(case=case).count() == len(KINDS) == shown_photos
    assert left_in_chat == 0  # submitted: the customer's photos leave the chat (C10)
