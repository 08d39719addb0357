"""Delivery that never misfires (issue 11): the webhook beside the admin, a bot that comes up
late, failed sends counted, replies retried, notifications out of time, their language."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.dispatcher import OutboxDispatcher
from bot.flows import ChatRouter, Inbound
from bot.telegram import BotConfig, TelegramBot
from bot.webchat import WebChat
from domain.cases import review
from domain.models import OutboxMessage, OutboxStatus, Role, SendLease, Staff
from domain.people import binding
from domain.platform import chat, outbox, webchat
from domain.platform.actors import actor_for
from domain.platform.intents import DEFAULT_LIFETIME, Action, Intent
from fieldops.bootstrap import bootstrap
from fieldops.runtime import running
from fieldops.settings import Settings
from locales import translate
from tests.admin_support import admin_site, log_in, zh
from tests.bot_support import config as bot_config
from tests.factories import ROOT, flow_context, org_tree, person, web_user
from tests.fake_telegram import FakeTelegram
from tests.review_support import build_desk, seen, submitted_case

AGENT = 7101
SECRET = "s3cret"
HOOK = "https://bot.example/telegram/webhook"
NOTICE = "Send your bind code."


def roles_changed(staff: Staff) -> Intent:
    """The intent of a plain notice to one staff member, offering nothing to do."""
    return Intent.of("staff.roles_changed", staff.id)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A running fake Bot API server."""
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def agent(database_url: str) -> Staff:
    """A field agent in outlet a, not yet bound."""
    ids = await org_tree()
    row, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1", name="陈展业")
    return row


def settings_for(fake: FakeTelegram, database_url: str, tmp_path: Path, **extra: object
                 ) -> Settings:
    """Settings of a `fieldops run` against the fake Bot API, on a free local port."""
    return Settings(_env_file=None, database_url=database_url,  # type: ignore[call-arg]
                    media_root=tmp_path / "media", web_host="127.0.0.1", web_port=free_port(),
                    secret_key="k" * 40, data_key="a-test-secret-that-is-long-enough",
                    telegram_bot_token=fake.token, telegram_api_base_url=fake.api_base_url,
                    telegram_file_base_url=fake.file_base_url, **extra)


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def post(url: str, update: dict, secret: str | None) -> int:
    """Deliver an update to a webhook; returns the HTTP status."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    async with aiohttp.ClientSession() as session, session.post(
        url, json=update, headers=headers
    ) as response:
        return response.status


async def get(url: str) -> int:
    """GET a page; returns the HTTP status."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status


# --- the webhook in `fieldops run` -----------------------------------------------------


async def test_run_serves_the_webhook_beside_the_admin_outside_its_csrf_check(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(fake, database_url, tmp_path, webhook_url=HOOK,
                            webhook_secret=SECRET)
    base = f"http://127.0.0.1:{settings.web_port}"
    async with running(bootstrap(settings)):
        assert fake.webhook["url"] == HOOK
        assert await post(f"{base}/telegram/webhook", fake.message(AGENT, "/help"), SECRET) == 200
        assert fake.texts(AGENT) and "/bind" in fake.texts(AGENT)[0]  # help, not bound yet
        assert await post(f"{base}/telegram/webhook", fake.message(AGENT, "/help"),
                          "wrong") == 403
        assert await post(f"{base}/telegram/webhook", fake.message(AGENT, "/help"), None) == 403
        assert await get(f"{base}/login") == 200
        assert await post(f"{base}/login", {}, None) == 403  # the admin's CSRF check stays
    assert len(fake.texts(AGENT)) == 1


async def test_only_web_does_not_pretend_to_serve_the_webhook(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(fake, database_url, tmp_path, webhook_url=HOOK,
                            webhook_secret=SECRET)
    base = f"http://127.0.0.1:{settings.web_port}"
    async with running(bootstrap(settings), "web"):
        assert await post(f"{base}/telegram/webhook", fake.message(AGENT, "/help"), SECRET) == 404
        assert await get(f"{base}/login") == 200
    assert fake.calls == []


async def test_only_bot_serves_the_webhook_alone(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(fake, database_url, tmp_path, webhook_url=HOOK,
                            webhook_secret=SECRET)
    base = f"http://127.0.0.1:{settings.web_port}"
    async with running(bootstrap(settings), "bot"):
        assert await post(f"{base}/telegram/webhook", fake.message(AGENT, "/help"), SECRET) == 200
        assert await get(f"{base}/login") == 404
    assert len(fake.texts(AGENT)) == 1


# --- a Bot API that fails at start ------------------------------------------------------


async def test_a_failing_bot_api_at_start_leaves_the_admin_up_and_the_bot_comes_up_later(
    fake: FakeTelegram, database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next("getMe", count=2, status=502)
    fake.answer_malformed_next("getMe")
    settings = settings_for(fake, database_url, tmp_path, bot_retry_first_seconds=0.2,
                            bot_retry_max_seconds=0.5)
    async with running(bootstrap(settings)) as parts:
        assert parts.bot is not None and not parts.bot.ready
        assert await get(f"http://127.0.0.1:{settings.web_port}/login") == 200
        fake.push(fake.message(AGENT, "/help"))
        await fake.wait_until(lambda: bool(fake.texts(AGENT)))
        assert parts.bot.ready
    starts = [c.at for c in fake.calls if c.method == "getMe"]
    assert len(starts) == 4
    waits = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert waits[0] >= 0.2 and waits[1] >= 0.4 and waits[2] >= 0.5
    failures = [r for r in caplog.records if "telegram bot cannot start" in r.getMessage()]
    assert len(failures) == 3 and "admin site" in failures[0].getMessage()


# --- a send that raises something unexpected ---------------------------------------------


def config(fake: FakeTelegram, **extra: object) -> BotConfig:
    """Bot settings pointing at the fake server, with quick reply retries."""
    return bot_config(fake, reply_backoff_seconds=0.05, **extra)


@pytest.fixture
async def bot(database_url: str, fake: FakeTelegram, tmp_path: Path
              ) -> AsyncIterator[TelegramBot]:
    """The FieldOps bot, long polling the fake server."""
    telegram = TelegramBot(config(fake), flow_context(tmp_path))
    await telegram.start()
    try:
        yield telegram
    finally:
        await telegram.stop()


async def bind(member: Staff, user: int = AGENT) -> None:
    """Bind a staff member's Telegram account through the domain."""
    code, _ = await binding.issue_bind_code(ROOT, member.id)
    await binding.bind_chat("telegram", str(user), str(user), code)


def dispatcher_for(bot: TelegramBot, max_attempts: int = 5) -> OutboxDispatcher:
    """A dispatcher sending through the bot, with fast backoff."""
    return OutboxDispatcher({"telegram": bot}, poll_seconds=0.05, backoff_seconds=0.05,
                            max_attempts=max_attempts, default_locale="zh_CN")


async def dispatch_until(bot: TelegramBot, done: Callable[[], Awaitable[bool]],
                         max_attempts: int = 5) -> None:
    """Run dispatch rounds until a condition holds."""
    dispatcher = dispatcher_for(bot, max_attempts)
    async with asyncio.timeout(10):
        while not await done():
            await dispatcher.run_once()
            await asyncio.sleep(0.05)


async def row(key: str) -> OutboxMessage:
    """The outbox row with an idempotency key."""
    return await OutboxMessage.get(idempotency_key=key)


async def test_an_unexpected_answer_while_sending_is_a_counted_failed_attempt(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff
) -> None:
    await bind(agent)
    await outbox.enqueue(agent.id, NOTICE, intent=roles_changed(agent), idempotency_key="odd")
    fake.answer_malformed_next("sendMessage", count=10)

    async def dead() -> bool:
        return (await row("odd")).status == OutboxStatus.DEAD

    await dispatch_until(bot, dead, max_attempts=3)
    message = await row("odd")
    assert message.attempts == 3 and "unexpected error" in message.last_error
    assert len([c for c in fake.calls if c.method == "sendMessage"]) == 3


async def test_a_claim_lost_mid_send_counts_as_an_attempt_and_ends_dead(agent: Staff) -> None:
    await bind(agent)
    await outbox.enqueue(agent.id, NOTICE, intent=roles_changed(agent), idempotency_key="crash")
    start = (await row("crash")).next_attempt_at
    for minutes in range(0, 9, 3):  # each claim's sender dies; its lease runs out
        claimed = await outbox.claim_due(channels=("telegram",), max_attempts=3,
                                         now=start + timedelta(minutes=minutes))
        assert [d.message_id for d in claimed] == [(await row("crash")).id]
    assert await outbox.claim_due(max_attempts=3, now=start + timedelta(minutes=9)) == []
    message = await row("crash")
    assert (message.status, message.attempts) == (OutboxStatus.DEAD, 3)


# --- replies to the user's own action ----------------------------------------------------


async def say(fake: FakeTelegram, text: str, language_code: str | None = None) -> None:
    """Send a text as the agent and wait until the bot handled it."""
    before = len([c for c in fake.calls if c.method == "sendMessage"])
    fake.push(fake.message(AGENT, text, language_code))
    await fake.wait_until(
        lambda: len([c for c in fake.calls if c.method == "sendMessage"]) > before)


async def test_a_reply_is_retried_in_place_after_a_server_error_and_a_short_flood_wait(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff
) -> None:
    fake.fail_next("sendMessage", status=500)
    fake.fail_next("sendMessage", status=429, retry_after=1)
    fake.push(fake.message(AGENT, "/help"))
    await fake.wait_until(lambda: bool(fake.texts(AGENT)))
    attempts = [c for c in fake.calls if c.method == "sendMessage"]
    assert [c.status for c in attempts] == [500, 429, 200]
    assert attempts[2].at - attempts[1].at >= 1.0
    assert await OutboxMessage.all().count() == 0
    # the 429 paused the whole bot, here and for the process that sends notices (issue 14)
    assert bot.pacer.paused_until > 0
    assert (await SendLease.get(name="telegram")).paused_until is not None


async def test_a_reply_that_cannot_go_out_now_is_delivered_through_the_outbox(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff
) -> None:
    await bind(agent)
    fake.fail_next("sendMessage", count=3, status=502)
    fake.push(fake.message(AGENT, "/whoami"))

    async def delivered() -> bool:
        return await OutboxMessage.filter(kind="reply", status=OutboxStatus.SENT).exists()

    await dispatch_until(bot, delivered)
    [reply] = fake.texts(AGENT)
    assert "陈展业" in reply and "F1" in reply
    assert [c.status for c in fake.calls if c.method == "sendMessage"] == [502, 502, 502, 200]


# --- notifications out of time -----------------------------------------------------------


async def test_a_notice_past_its_lifetime_expires_unsent(agent: Staff) -> None:
    await bind(agent)
    await outbox.enqueue(agent.id, NOTICE, intent=roles_changed(agent),
                         idempotency_key="staff.roles:1")
    message = await row("staff.roles:1")
    assert message.kind == "staff.roles_changed"
    assert message.expires_at - message.created_at == DEFAULT_LIFETIME
    assert await outbox.claim_due(now=message.expires_at + timedelta(seconds=1)) == []
    assert (await row("staff.roles:1")).status == OutboxStatus.EXPIRED
    assert Intent.of("case.submitted", 7, revision=2).lifetime == timedelta(days=1)


async def test_a_reviewer_bound_late_gets_the_open_case_but_not_the_decided_one(
    bot: TelegramBot, fake: FakeTelegram, tmp_path: Path
) -> None:
    desk = await build_desk(tmp_path)
    decided = await submitted_case(desk, seed=1)
    waiting = await submitted_case(desk, seed=2)
    reviewer_rows = OutboxMessage.filter(recipient_id=desk.reviewer.staff_id,
                                         kind="case.submitted")
    assert await reviewer_rows.count() == 2

    async def settled() -> bool:
        return not await reviewer_rows.filter(status=OutboxStatus.PENDING).exists()

    await dispatch_until(bot, settled)
    assert {m.status for m in await reviewer_rows} == {OutboxStatus.WAITING}
    assert all(m.attempts == 0 for m in await reviewer_rows)
    await review.claim(desk.second, decided.id)
    await seen(desk.second, decided.id)
    await review.approve(desk.second, decided.id, desk.ctx)
    await bind(await Staff.get(id=desk.reviewer.staff_id))

    async def released() -> bool:
        return not await reviewer_rows.filter(
            status__in=[OutboxStatus.PENDING, OutboxStatus.WAITING]).exists()

    await dispatch_until(bot, released)
    statuses = {m.params["case_no"]: m.status for m in await reviewer_rows}
    assert statuses == {decided.case_no: OutboxStatus.EXPIRED,
                        waiting.case_no: OutboxStatus.SENT}
    [notice] = fake.texts(AGENT)
    assert waiting.case_no in notice and decided.case_no not in notice


# --- the language of notifications -------------------------------------------------------


async def test_notifications_use_the_language_the_replies_use(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff
) -> None:
    await bind(agent)
    await say(fake, "/help", "en")  # the client says English, nothing was chosen

    async def sent(key: str) -> Callable[[], Awaitable[bool]]:
        await outbox.enqueue(agent.id, NOTICE, intent=roles_changed(agent), idempotency_key=key)

        async def done() -> bool:
            return (await row(key)).status == OutboxStatus.SENT
        return done

    await dispatch_until(bot, await sent("client-language"))
    assert fake.texts(AGENT)[-1] == NOTICE
    router = ChatRouter(flow_context(Path("unused")), "zh_CN")
    await router.handle(Inbound.button("telegram", "90", str(AGENT), str(AGENT), "lang:zh_CN",
                                       "q90", "en"))
    await dispatch_until(bot, await sent("chosen-language"))
    assert fake.texts(AGENT)[-1] == translate("zh_CN", NOTICE)
    assert chat.preferred_locale(None, None, "en", "zh_CN") == "en"


async def test_the_admin_outbox_lists_expired_messages_and_those_waiting_for_a_chat(
    agent: Staff
) -> None:
    await outbox.enqueue(agent.id, NOTICE,
                         intent=Intent.of("special.requested", 4, Action.APPROVE, Action.OPEN),
                         idempotency_key="special:4:requested:9")
    await outbox.enqueue(agent.id, NOTICE, intent=Intent.of("staff.activation_changed", agent.id),
                         idempotency_key="staff.active:3")
    expiry = (await row("special:4:requested:9")).expires_at
    for _ in range(2):  # a claim takes the head of each chat
        for delivery in await outbox.claim_due(now=expiry - timedelta(seconds=1)):
            await outbox.wait_for_binding(delivery)
    await outbox.expire_overdue(expiry)
    async with admin_site() as client:
        _, username = await web_user(agent.org_id, Role.SYSADMIN, no="S001")
        await log_in(client, username)
        expired = await (await client.get("/outbox?state=expired")).text()
        waiting = await (await client.get("/outbox?state=waiting")).text()
    assert f'<a href="/special-approvals">{zh("Special approval requested")}</a>' in expired
    assert zh("Account activated or deactivated") not in expired
    assert zh("Account activated or deactivated") in waiting


async def test_a_notice_waiting_for_a_chat_goes_to_the_browser_chat_once_opened(
    bot: TelegramBot, agent: Staff, tmp_path: Path
) -> None:
    await outbox.enqueue(agent.id, NOTICE, intent=roles_changed(agent),
                         idempotency_key="staff.active:8")
    browser = WebChat(flow_context(tmp_path), "en")
    dispatcher = OutboxDispatcher({"telegram": bot, "web": browser}, default_locale="en")
    assert await dispatcher.run_once() == 0
    assert (await row("staff.active:8")).status == OutboxStatus.WAITING
    await webchat.bind_web_chat(agent.id)
    assert await dispatcher.run_once() == 1
    message = await row("staff.active:8")
    assert (message.status, message.channel, message.attempts) == (OutboxStatus.SENT, "web", 0)
    lines = await webchat.transcript(await actor_for(agent))
    assert [line.text for line in lines] == [NOTICE]


# --- edits (issue 14) --------------------------------------------------------------------

EDITED = "Claimed by %(name)s."


async def test_a_sent_notice_is_edited_an_unsent_one_rewritten_a_dead_one_left_alone(
    bot: TelegramBot, fake: FakeTelegram, agent: Staff
) -> None:
    await bind(agent)

    def status_of(key: str, *wanted: OutboxStatus) -> Callable[[], Awaitable[bool]]:
        async def reached() -> bool:
            return (await row(key)).status in wanted
        return reached

    await outbox.enqueue(agent.id, NOTICE, intent=roles_changed(agent), idempotency_key="n1")
    await dispatch_until(bot, status_of("n1", OutboxStatus.SENT))
    assert await outbox.enqueue_edit("n1", EDITED, {"name": "R2"}, intent=roles_changed(agent),
                                     idempotency_key="n1:edit") == OutboxStatus.PENDING
    await dispatch_until(bot, status_of("n1:edit", OutboxStatus.SENT))
    [edit] = [c for c in fake.calls if c.method == "editMessageText"]
    assert edit.params["message_id"] == (await row("n1")).external_message_id
    assert edit.params["text"] == "Claimed by R2." and len(fake.sent(AGENT)) == 1

    await outbox.enqueue(agent.id, NOTICE, intent=roles_changed(agent), idempotency_key="n2")
    assert await outbox.enqueue_edit("n2", EDITED, {"name": "R3"}, intent=roles_changed(agent),
                                     idempotency_key="n2:edit") == OutboxStatus.SENT
    await dispatch_until(bot, status_of("n2", OutboxStatus.SENT))
    assert fake.texts(AGENT)[-1] == "Claimed by R3."

    await outbox.enqueue(agent.id, NOTICE, intent=roles_changed(agent), idempotency_key="n3")
    [claimed] = await outbox.claim_due()
    await outbox.mark_failed(claimed, "chat not found", backoff=timedelta(seconds=1),
                             max_attempts=5, permanent=True)
    await outbox.enqueue_edit("n3", EDITED, {"name": "R4"}, intent=roles_changed(agent),
                              idempotency_key="n3:edit")
    await dispatch_until(bot, status_of("n3:edit", OutboxStatus.EXPIRED))
    assert len([c for c in fake.calls if c.method == "editMessageText"]) == 1
    assert await outbox.enqueue_edit("none", EDITED, {"name": "R5"}, intent=roles_changed(agent),
                                     idempotency_key="none:edit") is None


async def test_an_edit_replaces_the_notice_in_the_browser_chat(
    agent: Staff, tmp_path: Path
) -> None:
    await webchat.bind_web_chat(agent.id)
    await outbox.enqueue(agent.id, NOTICE, intent=roles_changed(agent), idempotency_key="w1")
    dispatcher = OutboxDispatcher({"web": WebChat(flow_context(tmp_path), "en")},
                                  default_locale="en")
    assert await dispatcher.run_once() == 1
    await outbox.enqueue_edit("w1", EDITED, {"name": "R2"}, intent=roles_changed(agent),
                              idempotency_key="w1:edit")
    assert await dispatcher.run_once() == 1
    lines = await webchat.transcript(await actor_for(agent))
    assert [line.text for line in lines] == ["Claimed by R2."]
