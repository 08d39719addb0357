"""Scheduler jobs run under a lease, survive failures and actually fire."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from domain.models import JobLease
from domain.platform import leases
from domain.platform.clock import utcnow
from scheduler.jobs import Job
from scheduler.runner import build_scheduler, run_leased


async def test_a_failing_job_is_logged_and_does_not_raise(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> None:
        raise RuntimeError("disk full")

    with caplog.at_level(logging.ERROR):
        assert await run_leased(Job("broken", broken, every=timedelta(minutes=1)), "p1") is False
    assert "job broken failed" in caplog.text
    assert (await JobLease.get(name="broken")).finished_at is not None


async def test_a_job_leased_elsewhere_is_skipped(database_url: str) -> None:
    runs: list[str] = []

    async def sweep() -> None:
        runs.append("ran")

    job = Job("sweep", sweep, every=timedelta(minutes=1))
    assert await leases.acquire("sweep", "other-process", timedelta(minutes=5))
    assert await run_leased(job, "this-process") is False
    await JobLease.filter(name="sweep").update(expires_at=utcnow() - timedelta(seconds=1))
    assert await run_leased(job, "this-process") is True
    assert runs == ["ran"]


async def test_scheduler_fires_the_job_on_its_interval(database_url: str) -> None:
    fired = asyncio.Event()

    async def sweep() -> None:
        fired.set()

    scheduler = build_scheduler([Job("tick", sweep, every=timedelta(milliseconds=200))], "p1")
    scheduler.start()
    try:
        await asyncio.wait_for(fired.wait(), timeout=10)
    finally:
        scheduler.shutdown(wait=False)
