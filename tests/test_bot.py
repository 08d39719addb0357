"""The Telegram bot end to end: the real python-telegram-bot Application against a fake Bot API."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot

from bot.flows import ChatRouter, Inbound
from bot.pacer import Pacer
from bot.telegram import TelegramBot
from domain.models import BindCode, OutboxMessage, OutboxStatus, Role, Staff
from domain.people import binding, duties, staff
from domain.platform import outbox
from domain.platform.clock import utcnow
from domain.platform.intents import Intent
from locales import translate
from tests.bot_support import (
    AGENT,
    NOT_BOUND,
    bound_agent,
    code_for,
    config,
    dispatcher_for,
    dispatching,
    press,
    say,
)
from tests.factories import ROOT, flow_context, org_tree, person
from tests.fake_telegram import FakeTelegram

OTHER = 7002


@pytest.fixture
async def agent(database_url: str) -> Staff:
    """A field agent in outlet a, not yet bound."""
    ids = await org_tree()
    row, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1", name="陈展业")
    return row


async def test_start_deep_link_binds_and_whoami_names_staff_and_org(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff
) -> None:
    bound = await say(fake, AGENT, f"/start {await code_for(agent)}")
    assert "陈展业" in bound and "F1" in bound
    me = await say(fake, AGENT, "/whoami")
    assert "陈展业" in me and "F1" in me and "网点a" in me
    assert translate("zh_CN", duties.ROLE_LABELS[Role.FIELD_AGENT]) in me
    assert await say(fake, AGENT, "/start") == translate(
        "zh_CN", "Welcome back, %(name)s. Send /help to see what I can do.", name="陈展业")
    assert bot.username == "fieldops_bot"


async def test_bind_command_binds_and_bare_bind_asks_for_the_code(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff
) -> None:
    assert await say(fake, AGENT, "/start") == translate(
        "zh_CN", "Welcome to FieldOps. Send the bind code your administrator gave you.")
    assert await say(fake, AGENT, "NOSUCHCODE") == translate(
        "zh_CN", "This bind code is not valid. Check it or ask for a new one.")
    assert await say(fake, AGENT, "/bind") == translate("zh_CN", "Send your bind code.")
    assert "陈展业" in await say(fake, AGENT, await code_for(agent))
    assert (await binding.bound_staff("telegram", str(AGENT))).id == agent.id
    other, _ = await person(agent.org_id, Role.REVIEWER, no="R1", name="审核员")
    assert "审核员" in await say(fake, OTHER, f"/bind@fieldops_bot {await code_for(other)}")


async def test_unbound_whoami_is_refused_with_how_to_bind(
    bot: TelegramBot, fake: FakeTelegram, database_url: str
) -> None:
    assert await say(fake, AGENT, "/whoami") == translate("zh_CN", NOT_BOUND)
    assert await say(fake, AGENT, "/whoami", "en") == NOT_BOUND


async def test_bad_codes_and_deactivated_staff_are_refused_in_the_chosen_language(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff
) -> None:
    used = await code_for(agent)
    await say(fake, OTHER, f"/bind {used}")
    expired, row = await binding.issue_bind_code(ROOT, agent.id)
    await BindCode.filter(id=row.id).update(expires_at=utcnow() - timedelta(seconds=1))
    refusals = {
        used: "This bind code has already been used. Ask for a new one.",
        expired: "This bind code has expired. Ask your administrator for a new one.",
        "NOSUCHCODE": "This bind code is not valid. Check it or ask for a new one.",
    }
    for code, msgid in refusals.items():
        assert await say(fake, AGENT, f"/bind {code}") == translate("zh_CN", msgid)
    await press(fake, AGENT, "lang:en")
    for code, msgid in refusals.items():
        assert await say(fake, AGENT, f"/bind {code}") == msgid


async def test_deactivated_staff_can_neither_bind_nor_use_the_bot(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff
) -> None:
    deactivated = "Your staff account is deactivated. Contact your administrator."
    await say(fake, OTHER, f"/bind {await code_for(agent)}")
    code = await code_for(agent)
    await staff.set_active(ROOT, agent.id, False)
    assert await say(fake, AGENT, f"/start {code}") == translate("zh_CN", deactivated)
    assert await say(fake, OTHER, "/whoami") == translate("zh_CN", deactivated)
    assert await say(fake, OTHER, "/start") == translate("zh_CN", deactivated)
    await press(fake, OTHER, "lang:en")
    assert await say(fake, OTHER, "/whoami") == deactivated


async def test_language_buttons_switch_the_reply_language(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff
) -> None:
    await say(fake, AGENT, "/language")
    markup = fake.sent(AGENT)[-1].params["reply_markup"]["inline_keyboard"]
    labels = {button["text"]: button["callback_data"] for row in markup for button in row}
    assert set(labels) == {"中文", "English"}
    assert await press(fake, AGENT, labels["English"]) == "From now on I answer in English."
    assert await say(fake, AGENT, "hello") == (
        "I did not understand that. Send /help to see what I can do.")
    assert [c.method for c in fake.calls].count("answerCallbackQuery") == 1
    await press(fake, AGENT, labels["中文"])
    assert await say(fake, AGENT, "/whoami") == translate("zh_CN", NOT_BOUND)


async def test_stale_button_is_answered_as_no_longer_valid(
    bot: TelegramBot, fake: FakeTelegram, database_url: str
) -> None:
    assert await press(fake, AGENT, "case:42:approve") == translate(
        "zh_CN", "This button is no longer valid.")
    assert [c.method for c in fake.calls].count("answerCallbackQuery") == 1


async def test_the_same_update_delivered_twice_is_handled_once(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff
) -> None:
    update = fake.message(AGENT, f"/bind {await code_for(agent)}", "en")
    fake.push(update, update, fake.message(AGENT, "/help", "en"))
    await fake.wait_until(lambda: any("/whoami" in text for text in fake.texts(AGENT)))
    assert len(fake.texts(AGENT)) == 2
    assert "陈展业" in fake.texts(AGENT)[0]


async def test_router_keeps_the_awaited_step_in_the_database(agent: Staff,
                                                             tmp_path: Path) -> None:
    first, second = ChatRouter(flow_context(tmp_path), "en"), ChatRouter(flow_context(tmp_path),
                                                                         "en")
    await first.handle(Inbound.message("telegram", "1", "9", "9", "/bind"))
    replies = await second.handle(Inbound.message("telegram", "2", "9", "9",
                                                  await code_for(agent)))
    assert "陈展业" in replies[0].text


@pytest.fixture
async def webhook(database_url: str, fake: FakeTelegram, tmp_path: Path
                  ) -> AsyncIterator[tuple[TelegramBot, str]]:
    """The bot in webhook mode behind a real aiohttp server; yields it and the hook URL."""
    app = web.Application()
    runner = web.AppRunner(app)
    telegram = TelegramBot(config(fake, webhook_url="https://bot.example/hook",
                                  webhook_secret="s3cret"), flow_context(tmp_path))
    app.router.add_post("/hook", telegram.handle_webhook)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await telegram.start()
    try:
        yield telegram, f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    finally:
        await telegram.stop()
        await runner.cleanup()


async def post(url: str, update: dict, secret: str | None) -> int:
    """Deliver an update to the webhook; returns the HTTP status."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    async with aiohttp.ClientSession() as session, session.post(
        url, json=update, headers=headers
    ) as response:
        return response.status


async def test_webhook_refuses_deliveries_without_the_secret(
    webhook: tuple[TelegramBot, str], fake: FakeTelegram
) -> None:
    _, url = webhook
    assert fake.webhook["secret_token"] == "s3cret"
    assert fake.webhook["url"] == "https://bot.example/hook"
    assert not [c for c in fake.calls if c.method == "getUpdates"]
    update = fake.message(AGENT, "/help")
    assert await post(url, update, None) == 403
    assert await post(url, update, "wrong") == 403
    assert fake.sent() == []


async def test_webhook_handles_a_redelivered_update_once(
    webhook: tuple[TelegramBot, str], fake: FakeTelegram, agent: Staff
) -> None:
    _, url = webhook
    update = fake.message(AGENT, f"/start {await code_for(agent)}")
    assert await post(url, update, "s3cret") == 200
    assert await post(url, update, "s3cret") == 200
    assert len(fake.texts(AGENT)) == 1 and "陈展业" in fake.texts(AGENT)[0]


async def status_of(key: str) -> OutboxStatus:
    """The outbox state of the message with an idempotency key."""
    return (await OutboxMessage.get(idempotency_key=key)).status


async def test_notification_arrives_once_despite_flood_control_and_server_error(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff
) -> None:
    await bound_agent(agent)
    await outbox.enqueue(agent.id, "Welcome back, %(name)s. Send /help to see what I can do.",
                         {"name": "陈展业"}, intent=Intent.of("staff.roles_changed", agent.id),
                         idempotency_key="n1")
    fake.fail_next("sendMessage", status=429, retry_after=1)
    fake.fail_next("sendMessage", status=500)

    async def sent() -> bool:
        return await status_of("n1") == OutboxStatus.SENT

    await dispatching(bot, sent, max_attempts=5)
    attempts = [c for c in fake.calls if c.method == "sendMessage"]
    assert [c.status for c in attempts] == [429, 500, 200]
    assert attempts[1].at - attempts[0].at >= 1.0
    assert fake.texts(AGENT) == [translate(
        "zh_CN", "Welcome back, %(name)s. Send /help to see what I can do.", name="陈展业")]


async def test_unbound_recipient_waits_and_exhausted_attempts_go_dead(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff
) -> None:
    other, _ = await person(agent.org_id, Role.FIELD_AGENT, no="F2")
    await bound_agent(other, OTHER)
    await outbox.enqueue(agent.id, "Send your bind code.",
                         intent=Intent.of("staff.roles_changed", agent.id),
                         idempotency_key="unbound")
    await outbox.enqueue(other.id, "Send your bind code.",
                         intent=Intent.of("staff.roles_changed", other.id),
                         idempotency_key="failing")
    fake.fail_next("sendMessage", count=5, status=502)

    async def settled() -> bool:
        return (await status_of("unbound"), await status_of("failing")) == (
            OutboxStatus.WAITING, OutboxStatus.DEAD)

    await dispatching(bot, settled, max_attempts=2)
    unbound = await OutboxMessage.get(idempotency_key="unbound")
    assert unbound.attempts == 0 and "waiting for a telegram chat binding" in unbound.last_error
    assert (await OutboxMessage.get(idempotency_key="failing")).attempts == 2
    assert len([c for c in fake.calls if c.method == "sendMessage"]) == 2


async def test_blocked_bot_is_a_permanent_failure(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff
) -> None:
    await bound_agent(agent)
    await outbox.enqueue(agent.id, "Send your bind code.",
                         intent=Intent.of("staff.roles_changed", agent.id),
                         idempotency_key="blocked")
    fake.fail_next("sendMessage", status=403)

    async def dead() -> bool:
        return await status_of("blocked") == OutboxStatus.DEAD

    await dispatching(bot, dead, max_attempts=5)
    assert (await OutboxMessage.get(idempotency_key="blocked")).attempts == 1


async def test_messages_to_one_chat_are_a_second_apart(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff
) -> None:
    await bound_agent(agent)
    for key in ("first", "second"):
        await outbox.enqueue(agent.id, "Send your bind code.",
                             intent=Intent.of("staff.roles_changed", agent.id),
                             idempotency_key=key)
    bot.pacer = Pacer()  # Telegram's limits, which the other tests' bots lift
    dispatcher = dispatcher_for(bot)
    loop = asyncio.create_task(dispatcher.run_forever())
    await fake.wait_until(lambda: len(fake.sent(AGENT)) == 2)
    dispatcher.stop()
    await loop
    first, second = fake.sent(AGENT)
    assert second.at - first.at >= 1.0


async def test_fake_server_stores_photos_and_serves_their_files(fake: FakeTelegram) -> None:
    async with Bot(fake.token, base_url=fake.api_base_url,
                   base_file_url=fake.file_base_url) as client:
        sent = await client.send_photo(AGENT, photo=b"\x89PNG fake image")
        photo = await client.get_file(sent.photo[-1].file_id)
        assert bytes(await photo.download_as_bytearray()) == b"\x89PNG fake image"
        edited = await client.edit_message_text("changed", chat_id=AGENT,
                                                message_id=sent.message_id)
        assert edited.text == "changed"


@pytest.mark.parametrize("module", ["bot.actions", "bot.flows.messages", "bot.telegram",
                                    "bot.webchat", "bot.dispatcher"])
def test_each_entry_module_of_the_bot_imports_first_in_a_fresh_process(module: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                          text=True, cwd=Path(__file__).parent.parent, timeout=120)
    assert done.returncode == 0, done.stderr
