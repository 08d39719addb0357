"""The confidentiality pledge (保密协议, C10): asked on binding, confirmed with its date and
text version, and until then the capture commands answer with it (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.telegram import TelegramBot
from domain.models import (
    AuditLog,
    ChatBinding,
    ConfidentialityPledge,
    Role,
    Staff,
    WebChatMessage,
)
from domain.people import auth, binding, staff
from domain.platform.actors import actor_for
from domain.platform.clock import utcnow
from fieldops.demo import PEOPLE, seed_demo
from locales import translate
from tests.admin_support import admin_site, demo_log_in, log_in
from tests.bot_support import AGENT, code_for, press, say
from tests.chat_support import chat_config
from tests.factories import ROOT, org_tree
from tests.fake_telegram import FakeTelegram
from tests.webchat_support import open_chat
from tests.webchat_support import press as press_in_browser
from tests.webchat_support import say as say_in_browser

PLEDGE = translate("zh_CN", binding.PLEDGE, version=binding.PLEDGE_VERSION)
NOTHING_TO_CAPTURE = translate("zh_CN", "No business type is offered for new cases yet.")
CONFIRM = f"pledge:{binding.PLEDGE_VERSION}"
BOUND = translate("zh_CN", "This chat is now bound to %(name)s (%(employee_no)s). Send /help to "
                  "see what I can do.", name="新人", employee_no="F9")


@pytest.fixture
async def newcomer(database_url: str) -> Staff:
    """A field agent who has not confirmed the pledge yet."""
    ids = await org_tree()
    return await staff.create_staff(ROOT, staff.StaffForm(
        employee_no="F9", name="新人", org_id=ids["outlet_a"],
        roles=frozenset({Role.FIELD_AGENT})))


async def test_binding_asks_for_the_pledge_and_capture_waits_for_it(
    bot: TelegramBot, fake: FakeTelegram, newcomer: Staff
) -> None:
    await say(fake, AGENT, f"/bind {await code_for(newcomer)}")
    await fake.wait_until(lambda: len(fake.sent(AGENT)) >= 2)
    bound, asked = fake.sent(AGENT)[:2]
    assert bound.params["text"] == BOUND
    assert asked.params["text"] == PLEDGE
    assert asked.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == CONFIRM
    assert await say(fake, AGENT, "/new") == PLEDGE
    assert await say(fake, AGENT, "/resume") == PLEDGE
    assert await press(fake, AGENT, "cap:new:1") == PLEDGE
    assert not await ConfidentialityPledge.exists(staff=newcomer)

    confirmed = await press(fake, AGENT, CONFIRM)
    assert confirmed == translate("zh_CN", "Thank you: your confirmation of the confidentiality "
                                  "pledge is recorded. Send /new to capture a case.")
    pledge = await ConfidentialityPledge.get(staff=newcomer)
    assert (pledge.version, pledge.channel) == (binding.PLEDGE_VERSION, "telegram")
    assert abs((utcnow() - pledge.confirmed_at).total_seconds()) < 60
    assert await AuditLog.exists(action="chat.pledge_confirmed", object_id=str(newcomer.id),
                                 detail={"version": binding.PLEDGE_VERSION})
    assert await say(fake, AGENT, "/new") == NOTHING_TO_CAPTURE  # past the pledge, at the gate
    assert await press(fake, AGENT, CONFIRM) == translate(
        "zh_CN", "You have already confirmed the confidentiality pledge.")


async def test_an_older_pledge_text_is_not_taken_as_confirmed(newcomer: Staff) -> None:
    with pytest.raises(Exception) as refused:
        await binding.confirm_pledge(newcomer.id, "telegram", "0")
    assert getattr(refused.value, "key", "") == binding.STALE_PLEDGE
    assert not await binding.pledge_confirmed(newcomer.id)


async def test_the_browser_chat_asks_for_the_pledge_at_binding_as_telegram_does(
    newcomer: Staff, tmp_path: Path
) -> None:
    username, password = "u_newcomer", "Secret-pass-123"
    initial = await staff.grant_web_login(ROOT, newcomer.id, username)
    await auth.change_password(await actor_for(newcomer), initial, password, password)
    async with admin_site(chat_config(tmp_path)) as client:
        await log_in(client, username)
        opened = await open_chat(client)  # nothing typed yet: opening it binds the chat
        assert PLEDGE in opened and f'value="{CONFIRM}"' in opened
        assert await ChatBinding.exists(staff=newcomer, channel="web")
        await open_chat(client)
        told = await WebChatMessage.filter(staff=newcomer).values_list("text", flat=True)
        assert told == [PLEDGE], "asked once, at binding"
        page = await say_in_browser(client, "/new")
        assert page.count(PLEDGE) == 2 and NOTHING_TO_CAPTURE not in page
        await press_in_browser(client, CONFIRM)
        pledge = await ConfidentialityPledge.get(staff=newcomer)
        assert pledge.channel == "web"
        await say_in_browser(client, "/new")
        last = await WebChatMessage.filter(staff=newcomer).order_by("-id").first()
        assert last is not None and last.text == NOTHING_TO_CAPTURE


async def test_a_browser_chat_bound_after_the_pledge_was_confirmed_is_not_asked_again(
    newcomer: Staff, tmp_path: Path
) -> None:
    await binding.confirm_pledge(newcomer.id, "telegram", binding.PLEDGE_VERSION)
    username, password = "u_newcomer", "Secret-pass-123"
    initial = await staff.grant_web_login(ROOT, newcomer.id, username)
    await auth.change_password(await actor_for(newcomer), initial, password, password)
    async with admin_site(chat_config(tmp_path)) as client:
        await log_in(client, username)
        opened = await open_chat(client)
    assert PLEDGE not in opened and await ChatBinding.exists(staff=newcomer, channel="web")
    assert not await WebChatMessage.exists(staff=newcomer)


async def test_the_demo_agents_start_at_capture_as_the_walk_through_says(
    database_url: str, tmp_path: Path
) -> None:
    await seed_demo(lambda *_: None)
    agents = [p.employee_no for p in PEOPLE if Role.FIELD_AGENT in p.roles]
    assert await ConfidentialityPledge.filter(
        staff__employee_no__in=agents, version=binding.PLEDGE_VERSION).count() == len(agents)
    async with admin_site(chat_config(tmp_path)) as client:
        await demo_log_in(client, "agent1")
        assert PLEDGE not in await open_chat(client)
        page = await say_in_browser(client, "/new")
    assert PLEDGE not in page and "借记卡开户" in page
