"""Off-site case audit (事后稽核): weekly draw, findings, retraining, error rates (K2, K3)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from domain.ledgers import major_incidents
from domain.models import (
    AuditDraw,
    AuditLog,
    CaseAudit,
    CaseAuditStatus,
    OutboxMessage,
    Role,
    Staff,
)
from domain.oversight import case_audits, dashboard
from domain.oversight.case_audits import AuditFilters, Finding
from domain.platform.actors import Actor
from domain.platform.clock import utcnow
from domain.platform.errors import DomainError, NotFound, PermissionDenied
from scheduler.calendar_sweeps import draw_weekly_case_audits
from tests.case_audit_support import CALENDAR, DRAW_49, approved, other_seed
from tests.case_support import MONDAY_10AM, ZONE, bound_agent
from tests.clock_support import SteadyClock
from tests.factories import person
from tests.review_support import Desk, build_desk, submitted_case

DRAW_50 = MONDAY_10AM + timedelta(days=14)


@dataclass
class Audit:
    """The review desk plus an agent in outlet b and auditors at the province and branch b."""

    desk: Desk
    agent_b: Actor
    auditor: Actor
    auditor_b: Actor


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> Audit:
    desk = await build_desk(tmp_path)
    _, auditor = await person(desk.ids["province"], Role.AUDITOR, no="A001", name="稽核甲")
    _, auditor_b = await person(desk.ids["branch_b"], Role.AUDITOR, no="A002", name="稽核乙")
    return Audit(desk, await bound_agent(desk.ids["outlet_b"], "F002"), auditor, auditor_b)


async def drawn_in(org_id: int, week: str) -> list[int]:
    return await CaseAudit.filter(org_id=org_id, draw__week=week).values_list("case_id",
                                                                             flat=True)


async def one_audit(world: Audit) -> CaseAudit:
    """A single approved case of outlet a, drawn."""
    await approved(world.desk, 1)
    await case_audits.draw_weekly(DRAW_49, CALENDAR)
    return await CaseAudit.get(field_agent_id=world.desk.agent.staff_id)


def error(code: str = "missing_paper", *, agent: bool = True, reviewer: bool = False,
          note: str = "") -> Finding:
    return Finding("error", code, against_agent=agent, against_reviewer=reviewer, note=note)


async def test_weekly_draw_takes_the_share_of_each_orgs_approved_cases_rounded_up(
    world: Audit,
) -> None:
    ids = world.desk.ids
    cases_a = await approved(world.desk, 10)
    cases_b = await approved(world.desk, 4, agent=world.agent_b)
    await submitted_case(world.desk)  # still waiting for review: not in the population
    await approved(world.desk, 1, at=DRAW_49 + timedelta(hours=1))  # approved this week
    assert await case_audits.draw_weekly(DRAW_49, CALENDAR) == 5
    drawn_a, drawn_b = await drawn_in(ids["outlet_a"], "2026-W48"), await drawn_in(
        ids["outlet_b"], "2026-W48")
    assert (len(drawn_a), len(drawn_b)) == (3, 2)
    assert set(drawn_a) <= {c.id for c in cases_a} and set(drawn_b) <= {c.id for c in cases_b}
    draws = await AuditDraw.filter(week="2026-W48").order_by("org_id")
    assert [d.population for d in draws] == [[c.id for c in cases_a], [c.id for c in cases_b]]
    assert {d.share_percent for d in draws} == {30}
    assert await AuditDraw.filter(org_id=ids["outlet_b"]).count() == 1  # no row for empty orgs
    assert await AuditDraw.all().count() == 2
    assert await AuditLog.filter(action="case_audit.drawn").count() == 2


async def test_rerun_and_concurrent_runs_draw_nothing_twice(world: Audit) -> None:
    await approved(world.desk, 4)
    await approved(world.desk, 3, agent=world.agent_b)
    runs = await asyncio.gather(case_audits.draw_weekly(DRAW_49, CALENDAR),
                                case_audits.draw_weekly(DRAW_49, CALENDAR))
    assert sum(runs) == 2 + 1
    assert await case_audits.draw_weekly(DRAW_49 + timedelta(days=2), CALENDAR) == 0
    assert await CaseAudit.all().count() == 3
    assert await AuditDraw.all().count() == 2


async def test_next_weeks_draw_does_not_take_last_weeks_cases(world: Audit) -> None:
    last_week = {c.id for c in await approved(world.desk, 3)}
    await case_audits.draw_weekly(DRAW_49, CALENDAR)
    this_week = {c.id for c in await approved(world.desk, 2, at=DRAW_49 + timedelta(hours=2))}
    assert await case_audits.draw_weekly(DRAW_50, CALENDAR) == 1
    [draw] = await AuditDraw.filter(week="2026-W49")
    assert set(draw.population) == this_week
    assert set(await drawn_in(world.desk.ids["outlet_a"], "2026-W49")) <= this_week - last_week


async def test_the_draw_is_reproducible_from_its_seed(world: Audit) -> None:
    await approved(world.desk, 10)
    await case_audits.draw_weekly(DRAW_49, CALENDAR)
    draw = await AuditDraw.get(week="2026-W48")
    check = await case_audits.verify_draw(world.auditor, draw.id)
    assert check.matches and len(check.chosen) == 3
    assert check.chosen == case_audits.choose(draw.seed, draw.population, 30)
    assert sorted(check.case_nos) == sorted(draw.population)
    await AuditDraw.filter(id=draw.id).update(seed=other_seed(draw))
    assert not (await case_audits.verify_draw(world.auditor, draw.id)).matches
    with pytest.raises(NotFound):
        await case_audits.verify_draw(world.auditor_b, draw.id)


async def test_the_final_approver_of_a_four_eyes_case_is_the_reviewer_charged(
    world: Audit,
) -> None:
    [case] = await approved(world.desk, 1, four_eyes=True)
    await case_audits.draw_weekly(DRAW_49, CALENDAR)
    row = await CaseAudit.get(case_id=case.id)
    assert row.reviewer_id == world.desk.second.staff_id  # type: ignore[attr-defined]
    assert row.field_agent_id == world.desk.agent.staff_id  # type: ignore[attr-defined]


async def test_an_error_against_the_agent_counts_in_his_errors_and_the_report(
    world: Audit,
) -> None:
    await approved(world.desk, 7)
    await case_audits.draw_weekly(DRAW_49, CALENDAR)
    first, second, third = await CaseAudit.all().order_by("id")
    moment = DRAW_49 + timedelta(hours=3)
    done = await case_audits.record_finding(world.auditor, first.id, error(), CALENDAR, moment)
    assert (done.status, done.error_code, done.audited_by_id) == (  # type: ignore[attr-defined]
        CaseAuditStatus.ERROR, "missing_paper", world.auditor.staff_id)
    await case_audits.record_finding(world.auditor, second.id, Finding("ok"), CALENDAR, moment)
    await case_audits.record_finding(world.auditor, third.id, error("data_mismatch",
                                     agent=False, reviewer=True), CALENDAR, moment)
    agent_id = world.desk.agent.staff_id
    assert await case_audits.errors_against(agent_id, moment) == 1  # type: ignore[arg-type]
    assert await case_audits.errors_against(world.desk.second.staff_id, moment) == 1  # type: ignore[arg-type]
    rates = await case_audits.error_rates(world.auditor, date(2026, 11, 30),
                                          date(2026, 11, 30), ZONE)
    assert [(r.name, r.audited, r.errors, str(r.rate)) for r in rates.agents] == [
        ("F001 员工F001", 3, 1, "33.3")]
    assert [(r.audited, r.errors) for r in rates.reviewers] == [(3, 1)]
    assert [(r.name, r.audited, r.errors) for r in rates.orgs] == [("网点a", 3, 2)]
    assert (await case_audits.error_rates(world.auditor_b, date(2026, 11, 30),
                                          date(2026, 11, 30), ZONE)).orgs == []
    later = await case_audits.error_rates(world.auditor, date(2026, 12, 1),
                                          date(2026, 12, 31), ZONE)
    assert later.agents == []


async def test_errors_reaching_the_threshold_flag_retraining_once(world: Audit) -> None:
    desk = world.desk
    await approved(world.desk, 14)
    await case_audits.draw_weekly(DRAW_49, CALENDAR)
    rows = await CaseAudit.all().order_by("id")
    assert len(rows) == 5
    moment = DRAW_49 + timedelta(hours=3)
    for row in rows[:2]:
        await case_audits.record_finding(world.auditor, row.id, error(), CALENDAR, moment)
    agent = await Staff.get(id=desk.agent.staff_id)
    assert agent.retraining_flagged_at is None
    for row in rows[2:]:
        await case_audits.record_finding(world.auditor, row.id, error(), CALENDAR, moment)
    agent = await Staff.get(id=desk.agent.staff_id)
    assert agent.retraining_flagged_at == moment
    told = await OutboxMessage.filter(template=case_audits.RETRAINING_TO_STAFF)
    assert [(m.recipient_id, m.params) for m in told] == [  # type: ignore[attr-defined]
        (agent.id, {"count": 3})]
    assert await OutboxMessage.filter(template=case_audits.RETRAINING_TO_OPERATIONS,
                                      recipient_id=desk.ops.staff_id).count() == 1
    assert [s.id for s in await major_incidents.withdrawal_proposals(desk.ops)] == [agent.id]
    assert await AuditLog.filter(action="staff.retraining_flagged").count() == 1


async def test_a_reviewer_flagged_by_audit_errors_is_listed_for_retraining(world: Audit
                                                                          ) -> None:
    await approved(world.desk, 10)
    await case_audits.draw_weekly(DRAW_49, CALENDAR)
    moment = DRAW_49 + timedelta(hours=3)
    for row in await CaseAudit.all().order_by("id"):
        await case_audits.record_finding(world.auditor, row.id, error(
            "portrait_mismatch_passed", agent=False, reviewer=True), CALENDAR, moment)
    reviewer_id = world.desk.second.staff_id
    assert [s.id for s in await major_incidents.retraining_flagged(world.desk.ops)] == [
        reviewer_id]
    assert await major_incidents.withdrawal_proposals(world.desk.ops) == []  # no qualification
    board = await dashboard.overview(world.desk.ops, ZONE, moment)
    assert [s.id for s in board.retraining or []] == [reviewer_id]


async def test_errors_older_than_90_days_do_not_count(world: Audit) -> None:
    await approved(world.desk, 7)
    await case_audits.draw_weekly(DRAW_49, CALENDAR)
    rows = await CaseAudit.all().order_by("id")
    start = DRAW_49 + timedelta(hours=3)
    await case_audits.record_finding(world.auditor, rows[0].id, error(), CALENDAR, start)
    later = start + timedelta(days=91)
    for row in rows[1:]:
        await case_audits.record_finding(world.auditor, row.id, error(), CALENDAR, later)
    assert await case_audits.errors_against(world.desk.agent.staff_id, later) == 2  # type: ignore[arg-type]
    assert (await Staff.get(id=world.desk.agent.staff_id)).retraining_flagged_at is None


async def test_an_auditor_of_another_org_or_a_non_auditor_is_refused(world: Audit) -> None:
    row = await one_audit(world)
    with pytest.raises(NotFound):
        await case_audits.record_finding(world.auditor_b, row.id, Finding("ok"), CALENDAR)
    with pytest.raises(PermissionDenied):
        await case_audits.record_finding(world.desk.ops, row.id, Finding("ok"), CALENDAR)
    assert (await case_audits.list_case_audits(world.auditor_b, AuditFilters())).rows == []
    listed = await case_audits.list_case_audits(world.desk.ops, AuditFilters())
    assert [r.id for r in listed.rows] == [row.id]
    assert (await CaseAudit.get(id=row.id)).status == CaseAuditStatus.PENDING


@pytest.mark.parametrize(("finding", "message"), [
    (Finding("error", "made_up", against_agent=True), "Choose an error code from the list."),
    (Finding("error", "missing_paper"),
     "Say whom the error is against: the field agent, the reviewer or both."),
    (Finding("error", "other", against_agent=True),
     "Describe the error in the note when you choose Other."),
    (Finding("maybe"), "Choose OK or an error."),
])
async def test_bad_findings_are_refused_and_write_nothing(world: Audit, finding: Finding,
                                                          message: str) -> None:
    row = await one_audit(world)
    log_rows = await AuditLog.all().count()
    with pytest.raises(DomainError) as refused:
        await case_audits.record_finding(world.auditor, row.id, finding, CALENDAR)
    assert refused.value.key == message
    assert (await CaseAudit.get(id=row.id)).status == CaseAuditStatus.PENDING
    assert await AuditLog.all().count() == log_rows


async def test_a_second_finding_on_a_done_audit_is_refused(world: Audit) -> None:
    row = await one_audit(world)
    await case_audits.record_finding(world.auditor, row.id, Finding("ok", note="齐全"), CALENDAR)
    with pytest.raises(DomainError) as refused:
        await case_audits.record_finding(world.auditor, row.id, error(), CALENDAR)
    assert refused.value.key == case_audits.ALREADY_AUDITED
    done = await CaseAudit.get(id=row.id)
    assert (done.status, done.note) == (CaseAuditStatus.OK, "齐全")
    assert await AuditLog.filter(action="case_audit.record").count() == 1


async def test_the_scheduled_draw_takes_last_weeks_cases(world: Audit,
                                                         test_clock: SteadyClock) -> None:
    test_clock.move_to(DRAW_49)  # the job draws the week before its own now
    await approved(world.desk, 2, at=utcnow() - timedelta(days=7))
    assert await draw_weekly_case_audits(CALENDAR) == 1
    assert await draw_weekly_case_audits(CALENDAR) == 0
