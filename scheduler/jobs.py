"""The sweeps the scheduler runs and their triggers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import time, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from domain.cases import cases_purge, review_sla
from domain.cases.capture_gate import CaptureContext
from domain.ledgers import devices, idle_accounts, major_incidents, qualifications
from domain.people import role_grants, sessions
from domain.platform import audit, chat_privacy, digest, housekeeping
from domain.platform.calendar import Calendar
from domain.platform.clock import utcnow
from domain.platform.sweeps import SweepReport, SweepResult
from domain.vouchers import day_end_counts
from scheduler import calendar_sweeps

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One sweep: a name (also its lease name), a coroutine and how often it runs."""

    name: str
    sweep: Callable[[], Awaitable[object]]
    every: timedelta
    lease: timedelta = timedelta(minutes=5)
    at_start: bool = False


@dataclass(frozen=True)
class LedgerSettings:
    """What the ledger sweeps read from the settings (Q4, Q7, K2)."""

    idle_account_days: int = 90
    idle_account_grace_days: int = 14
    major_incident_threshold: int = 2


@dataclass(frozen=True)
class CountSettings:
    """When the day-end count is asked, reminded and escalated (V3, S1)."""

    closing_time: str = "17:30"  # HH:MM business time
    answer_minutes: int = 30
    escalate_minutes: int = 60


async def prune_bookkeeping(retention: housekeeping.Retention,
                            progress: housekeeping.Progress | None = None) -> dict[str, int]:
    """Prune finished outbox rows, processed-update marks and other bookkeeping past the
    retention, in batches (issue 14); each kind logs its count."""
    return await housekeeping.prune(retention, progress=progress)


async def sweep_web_sessions() -> tuple[int, int]:
    """End admin sessions past their idle or absolute lifetime; drop rows ended a day ago (S3)."""
    ended, removed = await sessions.sweep_sessions()
    if ended or removed:
        log.info("web sessions: %d ended, %d old rows removed", ended, removed)
    return ended, removed


async def write_audit_checkpoint(path: Path) -> audit.Checkpoint:
    """Anchor the audit chain outside the database: its row count and head hash, signed
    with the audit key, to the log and to the append-only checkpoint file (S3)."""
    mark = await audit.checkpoint()
    line = await asyncio.to_thread(audit.append_checkpoint, path, mark)
    log.info("audit checkpoint: %d rows, head row %d, hash %s; signed line %s", mark.rows,
             mark.head_id, mark.head_hash, line)
    return mark


async def sweep_review_sla(capture: CaptureContext, repeat: timedelta) -> SweepResult:
    """Remind reviewers at half time and escalate overdue cases to supervisors (S1)."""
    result = await review_sla.sweep_sla(utcnow(), repeat, capture)
    if result.reminded or result.escalated:
        log.info("review SLA: %d reminded, %d escalated", result.reminded, result.escalated)
    return result


async def purge_idle_drafts(capture: CaptureContext, idle_days: int) -> int:
    """Purge drafts idle past the setting, with their photos, and drop the week-old notes of
    chat messages already deleted (C10)."""
    now = utcnow()
    purged = await cases_purge.purge_idle_drafts(now, idle_days, capture)
    if purged:
        log.info("draft purge: %d drafts idle for %d days purged", purged, idle_days)
    await chat_privacy.prune_finished(now)
    return purged


async def sweep_qualification_expiry(zone: ZoneInfo) -> SweepReport:
    """Warn holders a week before expiry and expire lapsed qualifications (Q1)."""
    result = await qualifications.sweep_expiry(utcnow().astimezone(zone).date())
    log.info("qualification expiry: %d warned, %d expired", result.warned, result.changed)
    return result


async def sweep_idle_accounts(zone: ZoneInfo, idle_days: int, grace_days: int) -> SweepReport:
    """Flag idle accounts and disable them after the grace period (Q7)."""
    result = await idle_accounts.sweep_idle_accounts(utcnow(), idle_days, grace_days, zone=zone)
    log.info("idle accounts: %d flagged, %d disabled", result.warned, result.changed)
    return result


async def sweep_major_incidents(threshold: int) -> SweepReport:
    """Flag retraining at the configured count of major incidents (Q4, K2)."""
    result = await major_incidents.sweep_major_incidents(utcnow(), threshold)
    log.info("major incidents: %d staff flagged for retraining", result.changed)
    return result


async def sweep_device_receipts(zone: ZoneInfo) -> SweepReport:
    """Flag tablets whose receipt is unconfirmed after 24 hours (D1)."""
    result = await devices.sweep_unconfirmed_receipts(utcnow(), zone=zone)
    if result.changed:
        log.info("device receipts: %d unconfirmed issues flagged", result.changed)
    return result


async def request_day_end_counts(zone: ZoneInfo, closing: time) -> int:
    """Ask holders of open boxes for the day-end count once closing time has passed (V3)."""
    asked = await day_end_counts.request_day_end_counts(utcnow(), zone, closing=closing)
    if asked:
        log.info("day-end count: %d holders asked", asked)
    return asked


async def sweep_unanswered_counts(zone: ZoneInfo, remind: timedelta, escalate: timedelta
                                  ) -> int:
    """Remind, then escalate day-end counts nobody answered (V3, S1)."""
    done = await day_end_counts.sweep_unanswered_counts(utcnow(), remind, escalate, zone=zone)
    if done:
        log.info("day-end count: %d counts reminded or escalated", done)
    return done


def count_jobs(zone: ZoneInfo, counts: CountSettings) -> tuple[Job, ...]:
    """The day-end count jobs, every minute; the domain decides what is due (V3)."""
    minute = timedelta(minutes=1)
    return (
        Job("day_end_count_requests", partial(request_day_end_counts, zone,
                                              time.fromisoformat(counts.closing_time)),
            every=minute, lease=timedelta(minutes=2)),
        Job("day_end_count_sweep", partial(
            sweep_unanswered_counts, zone, timedelta(minutes=counts.answer_minutes),
            timedelta(minutes=counts.escalate_minutes)), every=minute,
            lease=timedelta(minutes=2)),
    )


JOBS: tuple[Job, ...] = (
    Job("web_sessions", sweep_web_sessions, every=timedelta(minutes=5)),
    Job("role_grant_lapses", role_grants.sweep_lapsed_grants, every=timedelta(minutes=15)),
)


def ledger_jobs(zone: ZoneInfo, ledgers: LedgerSettings) -> tuple[Job, ...]:
    """The daily ledger sweeps, run once at start too, and the hourly receipt sweep."""
    day = timedelta(days=1)
    return (
        Job("qualification_expiry", partial(sweep_qualification_expiry, zone), every=day,
            at_start=True),
        Job("idle_accounts", partial(sweep_idle_accounts, zone, ledgers.idle_account_days,
                                     ledgers.idle_account_grace_days), every=day,
            at_start=True),
        Job("major_incidents", partial(sweep_major_incidents,
                                       ledgers.major_incident_threshold), every=day,
            at_start=True),
        Job("device_receipts", partial(sweep_device_receipts, zone), every=timedelta(hours=1),
            at_start=True),
    )


def calendar_jobs(calendar: Calendar) -> tuple[Job, ...]:
    """The calendar's jobs: vault inspections, mis-issue recovery deadlines, customer
    callbacks, the weekly off-site audit draw and the daily digest (V5, V6, K1, K3, S1,
    issue 14); each sweep is idempotent, so a rerun creates nothing twice."""
    quarter = timedelta(minutes=15)
    return (
        Job("monthly_inspections", partial(calendar_sweeps.create_monthly_inspections,
                                           calendar), every=timedelta(hours=1), at_start=True),
        Job("inspection_deadlines", partial(calendar_sweeps.sweep_inspection_deadlines,
                                            calendar), every=quarter),
        Job("mis_issue_deadlines", partial(calendar_sweeps.sweep_mis_issue_deadlines,
                                           calendar), every=quarter),
        Job("callback_sampling", partial(calendar_sweeps.sample_callbacks, calendar),
            every=timedelta(minutes=5)),
        Job("callback_deadlines", partial(calendar_sweeps.sweep_callback_deadlines, calendar),
            every=quarter),
        Job("weekly_case_audit_draw", partial(calendar_sweeps.draw_weekly_case_audits,
                                              calendar), every=timedelta(hours=1),
            at_start=True),
        Job("daily_digest", partial(digest.send_due_digests, calendar), every=quarter),
    )


def scheduled_jobs(capture: CaptureContext, sla_repeat: timedelta,
                   ledgers: LedgerSettings | None = None, counts: CountSettings | None = None,
                   calendar: Calendar | None = None, *, audit_checkpoints: Path | None = None,
                   draft_purge_days: int = 7, retention_days: int = 30) -> tuple[Job, ...]:
    """Every job of a running process: the plain ones plus those that need the settings;
    the hourly audit checkpoint when it has a file to go to (S3)."""
    anchor = (Job("audit_checkpoint", partial(write_audit_checkpoint, audit_checkpoints),
                  every=timedelta(hours=1), at_start=True),) if audit_checkpoints else ()
    return (*JOBS, *anchor,
            Job("review_sla", partial(sweep_review_sla, capture, sla_repeat),
                every=timedelta(minutes=1), lease=timedelta(minutes=2)),
            Job("draft_purge", partial(purge_idle_drafts, capture, draft_purge_days),
                every=timedelta(hours=1), at_start=True),
            Job("retention", partial(prune_bookkeeping, housekeeping.Retention(retention_days)),
                every=timedelta(hours=6), lease=timedelta(minutes=30)),
            *ledger_jobs(capture.zone, ledgers or LedgerSettings()),
            *count_jobs(capture.zone, counts or CountSettings()),
            *calendar_jobs(calendar or Calendar(zone=capture.zone)))
