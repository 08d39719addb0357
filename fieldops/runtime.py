"""Wiring of the processes: admin web, chat bot, outbox dispatcher and scheduler in one loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.dispatcher import OutboxDispatcher
from bot.telegram import TelegramBot
from bot.telegram.polling import PollingElsewhere
from bot.wecom.callback import WeComCallback
from fieldops import db
from fieldops.bootstrap import Graph, admin_app
from fieldops.settings import Settings
from scheduler.runner import build_scheduler

log = logging.getLogger("fieldops.run")
# How long a stopping process waits for its dispatcher to hand back its lease and claims.
DISPATCHER_STOP_SECONDS = 10


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


async def _start_bot(graph: Graph, stack: AsyncExitStack) -> TelegramBot | None:
    """The Telegram bot, up or coming up: a Bot API that fails at start is retried with
    back-off in the background while the rest of the process runs (issue 11)."""
    bot, settings = graph.telegram, graph.settings
    if bot is None:
        log.warning("FIELDOPS_TELEGRAM_BOT_TOKEN is not set: the Telegram bot stays off; "
                    "the browser chat (/chat) and the rest run")
        return None
    stack.push_async_callback(bot.stop)
    first = timedelta(seconds=settings.bot_retry_first_seconds)
    if not await _try_start(bot, first):
        task = asyncio.create_task(
            keep_bot_up(bot, first, timedelta(seconds=settings.bot_retry_max_seconds)),
            name="telegram-bot-start")
        stack.push_async_callback(_cancel, task)
    return bot


async def keep_bot_up(bot: TelegramBot, first: timedelta, ceiling: timedelta) -> None:
    """Try to start the bot until it is up, waiting `first`, doubling up to `ceiling`."""
    wait = first
    while True:
        await asyncio.sleep(wait.total_seconds())
        wait = min(wait * 2, ceiling)
        if await _try_start(bot, wait):
            return


async def _try_start(bot: TelegramBot, next_try: timedelta) -> bool:
    try:
        await bot.start()
    except PollingElsewhere as error:  # a second poller stops: Telegram allows one (issue 14)
        log.error("telegram bot not started: %s", error)
        raise StartupError(f"fieldops: {error}") from error
    except Exception as error:  # unreachable, refused or a malformed answer: try again later
        log.error("telegram bot cannot start (%s: %s); the admin site, browser chat and "
                  "scheduler keep running; next try in %d s",
                  type(error).__name__, error, next_try.total_seconds())
        return False
    return True


async def _start_wecom(graph: Graph, stack: AsyncExitStack) -> WeComCallback | None:
    """The WeCom app's bot and its callback (issue 15), or None with one log line while the
    channel is not configured. A WeCom that cannot be reached at start does not stop it: the
    bot logs that its menu was not set, and what it cannot send waits in the outbox."""
    bot = graph.wecom
    if bot is None:
        log.warning("FIELDOPS_WECOM_* are not set: the WeCom channel stays off")
        return None
    stack.push_async_callback(bot.stop)
    await bot.start()
    callback = WeComCallback(bot)
    await callback.start()
    stack.push_async_callback(callback.stop)
    log.info("WeCom callback served at %s", bot.config.callback_path)
    return callback


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _start_dispatcher(graph: Graph, stack: AsyncExitStack) -> None:
    settings, senders = graph.settings, graph.senders
    dispatcher = OutboxDispatcher(
        senders, poll_seconds=settings.outbox_poll_seconds,
        backoff_seconds=settings.outbox_backoff_seconds,
        max_attempts=settings.outbox_max_attempts, default_locale=settings.default_locale,
    )
    task = asyncio.create_task(dispatcher.run_forever(), name="outbox-dispatcher")
    stack.push_async_callback(_stop_task, dispatcher, task)
    log.info("outbox dispatcher started for %s", ", ".join(sorted(senders)))


async def _stop_task(dispatcher: OutboxDispatcher, task: asyncio.Task[None]) -> None:
    """Stop the dispatcher; one still waiting for the database after `DISPATCHER_STOP_SECONDS`
    is cancelled (its claims lapse and are retried, never sent twice: they are fenced)."""
    dispatcher.stop()
    try:
        await asyncio.wait_for(task, timeout=DISPATCHER_STOP_SECONDS)
    except TimeoutError:
        log.warning("outbox dispatcher did not stop within %s s and was cancelled; its "
                    "claims lapse and are retried", DISPATCHER_STOP_SECONDS)
    except asyncio.CancelledError:
        pass


async def _start_web(settings: Settings, app: web.Application,
                     stack: AsyncExitStack) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.TCPSite(runner, settings.web_host, settings.web_port).start()
    log.info("web server on http://%s:%s/", settings.web_host, settings.web_port)
    return runner


def webhook_path(settings: Settings) -> str:
    """The path Telegram posts updates to, from the webhook URL."""
    return urlsplit(settings.webhook_url).path or "/telegram/webhook"


def web_application(graph: Graph, only: str | None, bot: TelegramBot | None,
                    wecom: WeComCallback | None = None) -> web.Application | None:
    """What this process serves over HTTP: the admin site (all, `web`), the webhook (all and
    `bot`, in webhook mode), the WeCom callback (all and `bot`, when configured), or
    nothing."""
    settings = graph.settings
    hooks: dict[tuple[str, str], Handler] = {}
    if bot is not None and settings.webhook_url:
        hooks[("POST", webhook_path(settings))] = bot.handle_webhook
    elif settings.webhook_url and only != "bot":
        hooks[("POST", webhook_path(settings))] = _webhook_elsewhere
    if graph.wecom is not None and (wecom is not None or only == "web"):
        handle = wecom.handle if wecom is not None else _wecom_elsewhere
        path = graph.wecom.config.callback_path
        hooks |= {("GET", path): handle, ("POST", path): handle}
    if only == "bot":
        if not hooks:
            return None
        app = web.Application()
        for (method, path), hook in hooks.items():
            app.router.add_route(method, path, hook)
        return app
    if only not in (None, "web"):
        return None
    admin = admin_app(graph, bot.username if bot is not None and bot.ready else None)
    return with_hooks(admin, hooks) if hooks else admin


async def _webhook_elsewhere(request: web.Request) -> web.Response:
    """The webhook path of a web-only process: not found here, said plainly."""
    return web.Response(status=404, text="The Telegram webhook is served by `fieldops run` "
                        "or `fieldops run --only bot`, not by `--only web`.\n")


async def _wecom_elsewhere(request: web.Request) -> web.Response:
    """The WeCom callback path of a web-only process: not found here, said plainly."""
    return web.Response(status=404, text="The WeCom callback is served by `fieldops run` "
                        "or `fieldops run --only bot`, not by `--only web`.\n")


def with_webhook(admin: web.Application, path: str, hook: Handler) -> web.Application:
    """The admin site with the webhook beside it, outside the admin's session and CSRF
    middlewares: Telegram posts no session or CSRF token, the webhook checks its secret."""
    return with_hooks(admin, {("POST", path): hook})


def with_hooks(admin: web.Application, hooks: Mapping[tuple[str, str], Handler]
               ) -> web.Application:
    """The admin site with the platforms' callbacks (method and path → handler) beside it,
    outside the admin's session and CSRF middlewares: Telegram and WeCom send no session or
    CSRF token; the Telegram webhook checks its secret, the WeCom callback its signature."""

    @web.middleware
    async def webhook_beside_admin(request: web.Request, handler: Handler) -> web.StreamResponse:
        hook = hooks.get((request.method, request.path))
        if hook is not None:
            return await hook(request)
        return await handler(request)

    root = web.Application(middlewares=[webhook_beside_admin])
    root.add_domain("*", admin)  # every host; the admin's own middlewares wrap only its pages
    return root


@dataclass(frozen=True)
class Running:
    """The parts a running process started: the bot (maybe still coming up), the web server,
    the WeCom callback (issue 15)."""

    bot: TelegramBot | None
    server: web.AppRunner | None
    wecom: WeComCallback | None = None


@contextlib.asynccontextmanager
async def running(graph: Graph, only: str | None = None) -> AsyncIterator[Running]:
    """Start every part (or `only` one) on the database and stop them on exit."""
    settings = graph.settings
    async with graph.database(), AsyncExitStack() as stack:
        stack.callback(graph.photo_checks.shutdown, cancel_futures=True)
        bot = await _start_bot(graph, stack) if only in (None, "bot") else None
        wecom = await _start_wecom(graph, stack) if only in (None, "bot") else None
        if only in (None, "bot"):
            _start_dispatcher(graph, stack)
        app = web_application(graph, only, bot, wecom)
        runner = await _start_web(settings, app, stack) if app is not None else None
        if only in (None, "scheduler"):
            scheduler = build_scheduler(graph.jobs, zone=settings.zone)
            scheduler.start()
            stack.callback(scheduler.shutdown, wait=False)
            log.info("scheduler started with %d job(s)", len(scheduler.get_jobs()))
        yield Running(bot, runner, wecom)


async def serve(graph: Graph, only: str | None = None) -> None:
    """Run every part (or `only` one) until SIGINT/SIGTERM."""
    async with graph.database():
        await check_migrations(graph.settings)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        async with running(graph, only):
            await stopping.wait()
            log.info("stopping")
