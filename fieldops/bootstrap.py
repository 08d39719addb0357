"""The composition root's object graph, built once from the settings and handed to every part.

`bootstrap(settings)` builds each dependency once (cipher, media store, calendar, clock, the
chat senders, the scheduled jobs) and wires them into the contexts of web, bot and scheduler,
so that no part builds its own copy (Cosmic Python's `bootstrap()`).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import timedelta

from aiohttp import web

from admin_web.app import init_app
from admin_web.config import AdminConfig
from bot.dispatcher import Sender
from bot.flows.context import FlowContext
from bot.telegram import BotConfig, TelegramBot
from bot.webchat import WebChat
from bot.wecom.bot import WeComBot
from bot.wecom.config import wecom_config
from domain.cases.capture_gate import CaptureContext, LocationMode, WorkingHours
from domain.ledgers.major_incidents import IncidentRules
from domain.people.auth import LoginRules
from domain.people.passwords import PasswordPolicy
from domain.platform import audit, clock
from domain.platform.calendar import Calendar
from domain.platform.chat_limits import InboundLimit
from domain.platform.images import MIB, PhotoLimits
from domain.platform.media import MediaStore
from domain.platform.privacy import FieldCipher, RevealLimits
from fieldops import db
from fieldops.settings import Settings, hours_before, start_and_end, weekday_numbers
from scheduler.jobs import CountSettings, Job, LedgerSettings, scheduled_jobs

# Worker processes that check photos (C7) beside the event loop; spawned on first use.
PHOTO_CHECK_WORKERS = 2


@dataclass(frozen=True)
class Graph:
    """Every dependency of the processes, built once by `bootstrap`.

    `telegram` is None when no bot token is set, `wecom` when no FIELDOPS_WECOM_* setting is
    (issue 15); `admin` names the bot from the settings
    until a running bot reports its own user name. `photo_checks` is the process pool the
    photo checks run in (issue 14), shut down when `fieldops.runtime.running` ends.
    """

    settings: Settings
    clock: clock.Clock
    cipher: FieldCipher
    media: MediaStore
    calendar: Calendar
    capture: CaptureContext
    incidents: IncidentRules
    flows: FlowContext
    webchat: WebChat
    telegram: TelegramBot | None
    wecom: WeComBot | None
    admin: AdminConfig
    jobs: tuple[Job, ...]
    photo_checks: ProcessPoolExecutor

    def database(self) -> AbstractAsyncContextManager[None]:
        """The database open while the block runs; nested blocks share the outermost one."""
        return db.opened(self.settings.database_url)

    @property
    def senders(self) -> dict[str, Sender]:
        """The outbox senders by channel: the browser chat, and Telegram and WeCom when
        configured; each gets its own lane of the dispatcher (lease, pacer)."""
        return ({"web": self.webchat} | ({"telegram": self.telegram} if self.telegram else {})
                | ({"wecom": self.wecom} if self.wecom else {}))


def bootstrap(settings: Settings) -> Graph:
    """Build the graph of one process from its settings."""
    if settings.audit_key:  # always so from load_settings; tests may build Settings bare
        audit.use_keys(settings.audit_key, settings.audit_keys_before)  # process-wide (S3)
    cipher, media, hours = (FieldCipher(settings.data_key), MediaStore(settings.media_root),
                            _working_hours(settings))
    photo_checks = ProcessPoolExecutor(PHOTO_CHECK_WORKERS,
                                       mp_context=multiprocessing.get_context("spawn"))
    calendar = _calendar(settings, hours)
    capture = _capture(settings, cipher, media, hours, photo_checks)
    incidents = IncidentRules(major_incident_threshold=settings.major_incident_threshold,
                              mass_loss_threshold=settings.mass_loss_threshold)
    flows = FlowContext(capture=capture, incidents=incidents, public_url=settings.public_url)
    inbound = InboundLimit(settings.chat_inbound_limit, settings.chat_inbound_window_seconds)
    webchat = WebChat(flows, settings.default_locale, inbound)
    telegram = (TelegramBot(_bot_config(settings, inbound), flows)
                if settings.telegram_bot_token else None)
    return Graph(
        settings=settings, clock=clock.utcnow, cipher=cipher, media=media, calendar=calendar,
        capture=capture, incidents=incidents, flows=flows, webchat=webchat, telegram=telegram,
        wecom=_wecom(settings, flows, inbound),
        admin=_admin_config(settings, capture, calendar, incidents, webchat),
        jobs=_jobs(settings, capture, calendar), photo_checks=photo_checks,
    )


def admin_app(graph: Graph, bot_username: str | None = None) -> web.Application:
    """The admin site on its own database: opening the app opens it (unless this process
    has it open already), closing the app closes it; named after the running bot when one
    has reported its user name."""
    config = graph.admin if bot_username is None else replace(graph.admin,
                                                               bot_username=bot_username)
    return init_app(config, database=graph.database)


def _working_hours(settings: Settings) -> WorkingHours:
    """The working days and hours cases are captured in (C2)."""
    start, end = start_and_end(settings.working_hours)
    return WorkingHours(weekdays=weekday_numbers(settings.working_days), start=start, end=end)


def _calendar(settings: Settings, hours: WorkingHours) -> Calendar:
    """The calendar of inspections, callbacks and off-site audits (V5, K1, K3)."""
    return Calendar(
        zone=settings.zone, working_weekdays=hours.weekdays,
        inspection_reminder_hours=hours_before(settings.inspection_reminder_hours),
        surprise_due_hours=settings.surprise_inspection_due_hours,
        callback_window_days=settings.callback_window_days,
        calling_hours=start_and_end(settings.calling_hours),
        calling_weekdays=weekday_numbers(settings.calling_days),
        callback_max_attempts=settings.callback_max_attempts,
        audit_share_percent=settings.audit_share_percent,
        audit_errors_for_retraining=settings.audit_errors_for_retraining,
        mis_issue_recovery_days=settings.mis_issue_recovery_days,
        mis_issue_reminder_hours=hours_before(settings.mis_issue_reminder_hours))


def _capture(settings: Settings, cipher: FieldCipher, media: MediaStore, hours: WorkingHours,
             photo_checks: ProcessPoolExecutor) -> CaptureContext:
    """Cipher (C10), media store (C9), photo limits (C7) and the pool they are checked in,
    hours (C2) and location mode."""
    return CaptureContext(
        cipher=cipher, media=media,
        photo_limits=PhotoLimits(max_bytes=settings.photo_max_mb * MIB,
                                 min_width=settings.photo_min_width,
                                 min_height=settings.photo_min_height),
        hours=hours,
        zone=settings.zone,
        location_mode=LocationMode(settings.location_mode),
        mis_issue_recovery_days=settings.mis_issue_recovery_days,
        reveal_limits=RevealLimits(settings.reveals_per_hour, settings.reveal_alert_from),
        photo_checks=photo_checks,
    )


def _bot_config(settings: Settings, inbound: InboundLimit) -> BotConfig:
    """The Telegram bot's token, Bot API addresses, webhook and inbound limit."""
    return BotConfig(
        token=settings.telegram_bot_token,
        api_base_url=settings.telegram_api_base_url,
        file_base_url=settings.telegram_file_base_url,
        webhook_url=settings.webhook_url,
        webhook_secret=settings.webhook_secret,
        default_locale=settings.default_locale,
        inbound_limit=inbound,
    )


def _wecom(settings: Settings, flows: FlowContext, inbound: InboundLimit) -> WeComBot | None:
    """The WeCom app's bot, None while no FIELDOPS_WECOM_* setting is set (issue 15);
    `load_settings` has already refused settings that cannot work."""
    config = wecom_config(settings)
    if config is None:
        return None
    return WeComBot(config, flows, default_locale=settings.default_locale,
                    inbound_limit=inbound)


def _admin_config(settings: Settings, capture: CaptureContext, calendar: Calendar,
                  incidents: IncidentRules, webchat: WebChat) -> AdminConfig:
    """The admin site's settings, with the browser chat."""
    return AdminConfig(
        secret_key=settings.secret_key,
        session_idle_minutes=settings.session_idle_minutes,
        session_max_hours=settings.session_max_hours,
        metrics_token=settings.metrics_token,
        default_locale=settings.default_locale,
        business_timezone=settings.business_timezone,
        bot_username=settings.telegram_bot_username,
        secure_cookies=settings.secure_cookies,
        capture=capture,
        chat=webchat,
        box_count_max_age_hours=settings.box_count_max_age_hours,
        calendar=calendar,
        incidents=incidents,
        login=_login_rules(settings),
        trusted_proxies=settings.proxy_networks,
    )


def _login_rules(settings: Settings) -> LoginRules:
    """The password policy of web log-ins; the throttle keeps its documented defaults (S3)."""
    max_age = settings.password_max_age_days
    return LoginRules(passwords=PasswordPolicy(
        min_length=settings.password_min_length, min_classes=settings.password_min_classes,
        history=settings.password_history,
        one_time_lifetime=timedelta(hours=settings.one_time_password_hours),
        max_age=timedelta(days=max_age) if max_age else None))


def _jobs(settings: Settings, capture: CaptureContext, calendar: Calendar) -> tuple[Job, ...]:
    """Every scheduled sweep with its configured thresholds and times (S1, Q7, V3, V5, K1,
    C10)."""
    return scheduled_jobs(
        capture, timedelta(minutes=settings.sla_escalation_repeat_minutes),
        LedgerSettings(settings.idle_account_days, settings.idle_account_grace_days,
                       settings.major_incident_threshold),
        CountSettings(settings.day_end_closing_time, settings.day_end_answer_minutes,
                      settings.day_end_escalate_minutes), calendar,
        audit_checkpoints=settings.audit_checkpoint_file,
        draft_purge_days=settings.draft_purge_days, retention_days=settings.retention_days)
