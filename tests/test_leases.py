"""Scheduler jobs run once per interval across processes (issue 14): two runners with
different holder names on one database and an injected clock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.models import JobLease
from domain.platform import leases
from domain.platform.clock import utcnow
from scheduler.jobs import Job
from scheduler.runner import first_trigger, run_leased
from tests.clock_support import SteadyClock

ZONE = ZoneInfo("Asia/Shanghai")
MINUTE = timedelta(minutes=1)
# a Wednesday, 10:00:20 business time
MORNING = datetime(2026, 12, 9, 10, 0, 20, tzinfo=ZONE).astimezone(UTC)


class Counted:
    """A sweep that counts its runs and raises while told to."""

    def __init__(self) -> None:
        self.runs = 0
        self.failing = False

    async def __call__(self) -> None:
        self.runs += 1
        if self.failing:
            raise RuntimeError("disk full")


async def test_each_interval_runs_once_across_two_processes(
    database_url: str, test_clock: SteadyClock
) -> None:
    sweep = Counted()
    job = Job("tick", sweep, every=MINUTE)
    test_clock.move_to(MORNING)
    assert await run_leased(job, "p1", ZONE)
    assert not await run_leased(job, "p2", ZONE)  # the run ended; its interval stays taken
    test_clock.move_to(MORNING + timedelta(seconds=30))
    assert not await run_leased(job, "p1", ZONE)
    test_clock.move_to(MORNING + MINUTE)
    assert await run_leased(job, "p2", ZONE)
    assert not await run_leased(job, "p1", ZONE)
    assert sweep.runs == 2


async def test_a_run_that_raises_is_run_again_in_the_next_interval(
    database_url: str, test_clock: SteadyClock, caplog: pytest.LogCaptureFixture
) -> None:
    sweep = Counted()
    sweep.failing = True
    job = Job("tick", sweep, every=MINUTE)
    test_clock.move_to(MORNING)
    with caplog.at_level(logging.ERROR):
        assert not await run_leased(job, "p1", ZONE)
    assert "job tick failed" in caplog.text
    assert not await run_leased(job, "p2", ZONE)
    sweep.failing = False
    test_clock.move_to(MORNING + MINUTE)
    assert await run_leased(job, "p2", ZONE)
    assert sweep.runs == 2


async def test_a_process_that_died_mid_run_holds_the_job_until_its_lease_expires(
    database_url: str, test_clock: SteadyClock
) -> None:
    test_clock.move_to(MORNING)
    start = leases.slot_start(MINUTE, utcnow(), ZONE)
    assert await leases.take_slot("tick", "p1", start, 2 * MINUTE)  # p1 dies: no finish
    sweep = Counted()
    job = Job("tick", sweep, every=MINUTE, lease=2 * MINUTE)
    test_clock.move_to(MORNING + MINUTE)
    assert not await run_leased(job, "p2", ZONE)
    test_clock.move_to(MORNING + 2 * MINUTE + timedelta(seconds=1))
    assert await run_leased(job, "p2", ZONE)
    assert sweep.runs == 1


async def test_a_holder_overtaken_cannot_record_the_newer_holders_run(
    database_url: str, test_clock: SteadyClock, caplog: pytest.LogCaptureFixture
) -> None:
    test_clock.move_to(MORNING)
    first = await leases.take_slot("tick", "p1", leases.slot_start(MINUTE, utcnow(), ZONE),
                                   MINUTE)
    test_clock.move_to(MORNING + 2 * MINUTE)  # p1's run outlasted its lease
    second = await leases.take_slot("tick", "p2", leases.slot_start(MINUTE, utcnow(), ZONE),
                                    2 * MINUTE)
    assert first is not None and second is not None and second.epoch == first.epoch + 1
    with caplog.at_level(logging.WARNING):
        assert not await leases.finish(first)
    assert "was taken over while it ran" in caplog.text
    assert (await JobLease.get(name="tick")).finished_at is None
    test_clock.move_to(MORNING + 3 * MINUTE)
    assert await leases.take_slot("tick", "p3", leases.slot_start(MINUTE, utcnow(), ZONE),
                                  MINUTE) is None  # p2 still runs
    assert await leases.finish(second)
    assert await leases.take_slot("tick", "p3", leases.slot_start(MINUTE, utcnow(), ZONE),
                                  MINUTE)


async def test_a_start_up_job_runs_once_per_business_day_whatever_the_restarts(
    database_url: str, test_clock: SteadyClock
) -> None:
    sweep = Counted()
    job = Job("daily", sweep, every=timedelta(days=1), at_start=True)
    test_clock.move_to(MORNING)
    assert await run_leased(job, "p1", ZONE)  # the start-up run of the first process
    test_clock.move_to(MORNING + timedelta(hours=5))
    assert not await run_leased(job, "p1-restarted", ZONE)
    assert not await run_leased(job, "p2", ZONE)
    test_clock.move_to(datetime(2026, 12, 10, 0, 0, 5, tzinfo=ZONE))  # the next business day
    assert await run_leased(job, "p2", ZONE)
    assert sweep.runs == 2


def test_intervals_start_at_business_midnight_or_on_multiples_of_the_interval() -> None:
    assert leases.slot_start(timedelta(days=1), MORNING, ZONE) == datetime(
        2026, 12, 9, tzinfo=ZONE)
    assert leases.slot_start(timedelta(minutes=15), MORNING, ZONE) == datetime(
        2026, 12, 9, 10, tzinfo=ZONE)
    assert first_trigger(timedelta(days=1), MORNING, ZONE) == datetime(
        2026, 12, 10, 0, 0, 5, tzinfo=ZONE)
    assert first_trigger(MINUTE, MORNING, ZONE) == datetime(2026, 12, 9, 10, 1, 5,
                                                          tzinfo=ZONE)
