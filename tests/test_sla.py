"""Review deadlines (S1, C8): reminder at half time, escalation at breach and again, figures."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from domain.cases import cases, review, review_sla
from domain.models import Case, CaseEvent, CaseEventKind, OutboxMessage, PhotoKind, Role
from domain.platform.clock import utcnow
from domain.platform.sweeps import SweepResult
from scheduler.jobs import scheduled_jobs
from scheduler.runner import run_leased
from tests.case_support import MONDAY_10AM
from tests.clock_support import SteadyClock
from tests.factories import person
from tests.outbox_support import chat_buttons
from tests.review_support import (
    Desk,
    build_desk,
    messages_to,
    rendered,
    retake,
    seen,
    submitted_case,
)

REPEAT = timedelta(minutes=30)
HALF = MONDAY_10AM + timedelta(minutes=10)  # the test types have a 20-minute review SLA
DUE = MONDAY_10AM + timedelta(minutes=20)


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Desk:
    return await build_desk(tmp_path)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


async def sla_events(case_id: int, kind: CaseEventKind) -> list[CaseEvent]:
    return await CaseEvent.filter(case_id=case_id, kind=kind).order_by("id")


async def test_half_time_reminds_the_claimer_once(desk: Desk) -> None:
    case = await submitted_case(desk)
    await review.claim(desk.reviewer, case.id, MONDAY_10AM + minutes(1))
    assert await review_sla.sweep_sla(HALF - minutes(1), REPEAT, desk.ctx) == SweepResult(0, 0)
    assert await review_sla.sweep_sla(HALF, REPEAT, desk.ctx) == SweepResult(1, 0)
    assert await review_sla.sweep_sla(HALF + minutes(1), REPEAT, desk.ctx) == SweepResult(0, 0)
    reminders = [m for m in await messages_to(desk.reviewer)
                 if m.template == review_sla.REMINDER_TO_CLAIMER]
    assert len(reminders) == 1
    text = rendered(reminders[0], "en")
    assert case.case_no in text and "10:20" in text and "10 minutes" in text  # type: ignore[operator]
    assert not [m for m in await messages_to(desk.second)
                if m.template.startswith("Reminder")]
    [event] = await sla_events(case.id, CaseEventKind.SLA_REMINDED)
    assert event.at == HALF and event.actor_label == "system:sla"


async def test_an_unclaimed_case_reminds_every_reviewer_in_scope(desk: Desk) -> None:
    case = await submitted_case(desk)
    assert (await review_sla.sweep_sla(HALF, REPEAT, desk.ctx)).reminded == 1
    for actor in (desk.reviewer, desk.second):
        [reminder] = [m for m in await messages_to(actor)
                      if m.template == review_sla.REMINDER_TO_REVIEWERS]
        assert ["Claim", f"rv:claim:{case.id}"] in chat_buttons(reminder)[0]
    assert not await messages_to(desk.outsider)


async def test_breach_escalates_to_the_supervisors_of_the_chain_and_repeats(desk: Desk) -> None:
    _, top = await person(desk.ids["province"], Role.SUPERVISOR, no="S009")
    case = await submitted_case(desk)
    await review.claim(desk.reviewer, case.id, MONDAY_10AM + minutes(1))
    assert await review_sla.sweep_sla(DUE, REPEAT, desk.ctx) == SweepResult(0, 1)
    assert await review_sla.sweep_sla(DUE + minutes(29), REPEAT, desk.ctx) == SweepResult(0, 0)
    assert await review_sla.sweep_sla(DUE + REPEAT, REPEAT, desk.ctx) == SweepResult(0, 1)
    for supervisor in (desk.supervisor, top):
        escalations = await messages_to(supervisor)
        assert len(escalations) == 2
        assert "claimed by R001 审核甲" in rendered(escalations[0], "en")
        assert "30 minutes past" in rendered(escalations[1], "en")
    assert not await messages_to(desk.far_supervisor)
    events = await sla_events(case.id, CaseEventKind.SLA_ESCALATED)
    assert [e.detail["round"] for e in events] == [1, 2]
    stored = await Case.get(id=case.id)
    assert (stored.escalation_count, stored.escalated_at) == (2, DUE + REPEAT)


async def test_decided_and_held_cases_are_not_chased(desk: Desk) -> None:
    approved = await submitted_case(desk, seed=1)
    held = await submitted_case(desk, seed=2)
    await seen(desk.reviewer, approved.id)
    await review.approve(desk.reviewer, approved.id, desk.ctx, MONDAY_10AM + minutes(2))
    await review.hold(desk.reviewer, held.id, "核查系统故障", desk.ctx, MONDAY_10AM + minutes(2))
    before = await OutboxMessage.all().count()
    for moment in (HALF, DUE, DUE + REPEAT):
        assert await review_sla.sweep_sla(moment, REPEAT, desk.ctx) == SweepResult(0, 0)
    assert await OutboxMessage.all().count() == before


async def test_a_resubmitted_revision_gets_its_own_reminder(desk: Desk) -> None:
    case = await submitted_case(desk)
    await review_sla.sweep_sla(HALF, REPEAT, desk.ctx)
    await review.return_case(desk.reviewer, case.id, ["portrait_mismatch"], "", desk.ctx,
                             now=HALF + minutes(1))
    await retake(desk, case.id, PhotoKind.ONSITE_WITH_AGENT, 55)
    resubmitted = await cases.submit(desk.agent, case.id, desk.ctx, DUE)
    assert resubmitted.sla_reminded_at is None
    assert (await review_sla.sweep_sla(DUE + minutes(10), REPEAT, desk.ctx)).reminded == 1
    assert len(await sla_events(case.id, CaseEventKind.SLA_REMINDED)) == 2


async def test_two_sweeps_at_once_send_nothing_twice(desk: Desk) -> None:
    case = await submitted_case(desk)
    results = await asyncio.gather(review_sla.sweep_sla(DUE, REPEAT, desk.ctx),
                                   review_sla.sweep_sla(DUE, REPEAT, desk.ctx))
    assert sum(r.escalated for r in results) == 1
    assert len(await sla_events(case.id, CaseEventKind.SLA_ESCALATED)) == 1
    assert len(await messages_to(desk.supervisor)) == 1


async def test_the_scheduled_sweep_runs_under_its_lease(desk: Desk,
                                                        test_clock: SteadyClock) -> None:
    test_clock.move_to(MONDAY_10AM + timedelta(hours=1))  # the job sweeps at its own now
    case = await submitted_case(desk, at=utcnow() - timedelta(hours=1))
    [job] = [j for j in scheduled_jobs(desk.ctx, REPEAT) if j.name == "review_sla"]
    assert job.every == timedelta(minutes=1)
    assert await run_leased(job, "p1")
    assert not await run_leased(job, "p2")  # its minute was run: skipped (issue 14)
    assert len(await sla_events(case.id, CaseEventKind.SLA_ESCALATED)) == 1
    assert len(await messages_to(desk.supervisor)) == 1


async def test_dashboard_counts_open_overdue_and_deadlines_kept(desk: Desk) -> None:
    in_time = await submitted_case(desk, seed=1)
    late = await submitted_case(desk, seed=2)
    await submitted_case(desk, seed=3)
    await submitted_case(desk, seed=4, at=MONDAY_10AM + minutes(30))
    await seen(desk.reviewer, in_time.id)
    await review.approve(desk.reviewer, in_time.id, desk.ctx, MONDAY_10AM + minutes(5))
    await review.reject(desk.reviewer, late.id, "identity_doubt", "", desk.ctx, DUE + minutes(1))
    now = MONDAY_10AM + minutes(40)
    stats = await review_sla.sla_stats(desk.supervisor, desk.ctx, now)
    assert stats == review_sla.SlaStats(open_cases=2, overdue_cases=1, decided_today=2,
                                    kept_percent=50)
    elsewhere = await review_sla.sla_stats(desk.far_supervisor, desk.ctx, now)
    assert elsewhere == review_sla.SlaStats(0, 0, 0, None)
    next_day = await review_sla.sla_stats(desk.supervisor, desk.ctx, now + timedelta(days=1))
    assert (next_day.decided_today, next_day.kept_percent) == (0, None)
