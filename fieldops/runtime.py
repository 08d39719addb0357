"""Wiring of the processes: admin web, chat bot, outbox dispatcher and scheduler in one loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from contextlib import AsyncExitStack
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web

from admin_web.app import AdminConfig, init_app
from bot.dispatcher import OutboxDispatcher, Sender
from bot.telegram import BotConfig, TelegramBot
from bot.webchat import WebChat
from fieldops import db
from fieldops.settings import Settings
from fieldops.wiring import capture_context, flow_context
from scheduler.jobs import CountSettings, LedgerSettings, scheduled_jobs
from scheduler.runner import build_scheduler

log = logging.getLogger("fieldops.run")


class StartupError(Exception):
    """The process cannot start; the message says what fixes it."""


async def check_migrations(settings: Settings) -> None:
    """Refuse to start on a database with unapplied migrations."""
    pending = await db.pending_migrations(settings.database_url)
    if pending:
        raise StartupError(
            f"fieldops: the database lacks {len(pending)} migration(s) ({', '.join(pending)}); "
            "run `fieldops migrate` and start again"
        )


def bot_config(settings: Settings) -> BotConfig:
    """The chat bot's configuration from the settings."""
    return BotConfig(
        token=settings.telegram_bot_token,
        api_base_url=settings.telegram_api_base_url,
        file_base_url=settings.telegram_file_base_url,
        webhook_url=settings.webhook_url,
        webhook_secret=settings.webhook_secret,
        default_locale=settings.default_locale,
    )


def admin_config(settings: Settings, bot_username: str, chat: WebChat | None = None
                 ) -> AdminConfig:
    """The admin site's configuration from the settings, with the browser chat when given."""
    return AdminConfig(
        secret_key=settings.secret_key,
        session_idle_minutes=settings.session_idle_minutes,
        default_locale=settings.default_locale,
        business_timezone=settings.business_timezone,
        bot_username=bot_username,
        secure_cookies=settings.secure_cookies,
        capture=capture_context(settings),
        chat=chat,
        box_count_max_age_hours=settings.box_count_max_age_hours,
        calendar=settings.calendar,
    )


async def _start_bot(settings: Settings, stack: AsyncExitStack) -> TelegramBot | None:
    if not settings.telegram_bot_token:
        log.warning("FIELDOPS_TELEGRAM_BOT_TOKEN is not set: the Telegram bot stays off; "
                    "the browser chat (/chat) and the rest run")
        return None
    bot = TelegramBot(bot_config(settings), flow_context(settings))
    await bot.start()
    stack.push_async_callback(bot.stop)
    log.info("chat bot @%s started (%s)", bot.username,
             "webhook" if settings.webhook_url else "long polling")
    return bot


def _start_dispatcher(settings: Settings, senders: dict[str, Sender],
                      stack: AsyncExitStack) -> None:
    dispatcher = OutboxDispatcher(
        senders, poll_seconds=settings.outbox_poll_seconds,
        backoff_seconds=settings.outbox_backoff_seconds,
        max_attempts=settings.outbox_max_attempts, default_locale=settings.default_locale,
    )
    task = asyncio.create_task(dispatcher.run_forever(), name="outbox-dispatcher")
    stack.push_async_callback(_stop_task, dispatcher, task)
    log.info("outbox dispatcher started for %s", ", ".join(sorted(senders)))


async def _stop_task(dispatcher: OutboxDispatcher, task: asyncio.Task[None]) -> None:
    dispatcher.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)


async def _start_web(settings: Settings, app: web.Application, stack: AsyncExitStack) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.TCPSite(runner, settings.web_host, settings.web_port).start()
    log.info("admin site on http://%s:%s/", settings.web_host, settings.web_port)


async def serve(settings: Settings, only: str | None = None) -> None:
    """Run every part (or `only` one) until SIGINT/SIGTERM; the database is already open."""
    await check_migrations(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    webchat = WebChat(flow_context(settings), settings.default_locale)
    async with AsyncExitStack() as stack:
        bot = await _start_bot(settings, stack) if only in (None, "bot") else None
        if only in (None, "bot"):
            senders: dict[str, Sender] = {"web": webchat}
            _start_dispatcher(settings, senders | ({"telegram": bot} if bot else {}), stack)
        webhook = bot is not None and bool(settings.webhook_url)
        if only in (None, "web") or webhook:
            username = bot.username if bot else settings.telegram_bot_username
            config = admin_config(settings, username, webchat)
            app = init_app(config) if only != "bot" else web.Application()
            if webhook and bot is not None:
                path = urlsplit(settings.webhook_url).path or "/telegram/webhook"
                app.router.add_post(path, bot.handle_webhook)
            await _start_web(settings, app, stack)
        if only in (None, "scheduler"):
            scheduler = build_scheduler(scheduled_jobs(
                capture_context(settings),
                timedelta(minutes=settings.sla_escalation_repeat_minutes),
                LedgerSettings(settings.idle_account_days, settings.idle_account_grace_days,
                               settings.major_incident_threshold),
                CountSettings(settings.day_end_closing_time, settings.day_end_answer_minutes,
                              settings.day_end_escalate_minutes), settings.calendar))
            scheduler.start()
            stack.callback(scheduler.shutdown, wait=False)
            log.info("scheduler started with %d job(s)", len(scheduler.get_jobs()))
        await stopping.wait()
        log.info("stopping")
