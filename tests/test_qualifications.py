"""Qualification ledger (issue 4): grants on their basis (Q2), suspension and withdrawal
(Q3, Q5), the capture gate's reasons (Q1), expiry and idle sweeps (Q7), major incidents (K2)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.ledgers import idle_accounts as idle
from domain.ledgers import major_incidents as majors
from domain.ledgers import qualification_basis as basis
from domain.ledgers import qualifications as q
from domain.models import (
    AuditLog,
    Incident,
    IncidentKind,
    OutboxMessage,
    PhotoKind,
    Qualification,
    QualificationBasis,
    QualificationEvent,
    QualificationStatus,
    Role,
    Staff,
    WithdrawalReason,
)
from domain.platform.actors import Actor
from domain.platform.clock import utcnow
from domain.platform.errors import DomainError, NotFound
from domain.vouchers import voids, voucher_stock
from scheduler.jobs import LedgerSettings, ledger_jobs
from scheduler.runner import build_scheduler
from tests.clock_support import SteadyClock
from tests.clock_support import test_now as clock_start
from tests.factories import org_tree, person
from tests.voucher_support import card, voucher_world

ZONE = ZoneInfo("Asia/Shanghai")
KINDS = frozenset({PhotoKind.ID_FRONT, PhotoKind.ID_BACK, PhotoKind.ONSITE_WITH_AGENT})
TODAY = clock_start().astimezone(ZoneInfo("Asia/Shanghai")).date()  # the test clock's business day
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=ZONE)  # a Monday in working hours


@dataclass
class Ledger:
    """An org tree with operations management at province and branch a, two agents, two types."""

    ids: dict[str, int]
    ops: Actor
    ops_a: Actor
    ops_b: Actor
    agent: Staff
    agent_b: Staff
    debit: int
    sim: int


@pytest.fixture
async def ledger(database_url: str) -> Ledger:
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O001")
    _, ops_a = await person(ids["branch_a"], Role.OPS_ADMIN, no="O002")
    _, ops_b = await person(ids["branch_b"], Role.OPS_ADMIN, no="O003")
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001", name="张展业")
    agent_b, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F002", name="李展业")
    debit = await business_types.create_business_type(
        ops, "DEBIT_CARD", BusinessTypeForm("借记卡开户", "Debit card opening", KINDS))
    sim = await business_types.create_business_type(
        ops, "SIM_CARD", BusinessTypeForm("手机卡办理", "SIM card sign-up", KINDS))
    return Ledger(ids, ops, ops_a, ops_b, agent, agent_b, debit.id, sim.id)


async def refusal(call, *args, **kwargs) -> DomainError:  # type: ignore[no-untyped-def]
    """The DomainError a service call raises."""
    with pytest.raises(DomainError) as refused:
        await call(*args, **kwargs)
    return refused.value


def training(course: str = "移动展业上岗培训", on: date = date(2026, 3, 2)) -> basis.TrainingForm:
    return basis.TrainingForm(course=course, completed_on=on, hours=Decimal("16"), trainer="王老师")


def exam(score: str, on: date = date(2026, 3, 9)) -> basis.ExamForm:
    return basis.ExamForm(exam="移动展业资格考试", taken_on=on, score=Decimal(score),
                      pass_mark=Decimal("80"))


async def told(staff: Staff, template: str) -> int:
    """How many chat messages of one kind the staff member is due to receive."""
    return await OutboxMessage.filter(recipient_id=staff.id, template=template).count()


async def counter_qualified(lg: Ledger, staff: Staff | None = None) -> list[Qualification]:
    holder = staff or lg.agent
    await basis.record_counter_qualification(lg.ops, holder.id, "GT-0001", date(2019, 5, 6))
    return await q.grant(lg.ops, holder.id, [lg.debit], QualificationBasis.COUNTER)


async def test_grant_without_basis_names_what_is_missing(ledger: Ledger) -> None:
    lg, agent = ledger, ledger.agent
    no_counter = await refusal(q.grant, lg.ops, agent.id, [lg.debit], QualificationBasis.COUNTER)
    assert no_counter.key == q.NO_COUNTER and no_counter.params["staff"] == "F001 张展业"
    both = QualificationBasis.TRAINING_AND_EXAM
    assert (await refusal(q.grant, lg.ops, agent.id, [lg.debit], both)).key == q.NO_TRAINING
    await basis.record_training(lg.ops, agent.id, training())
    assert (await refusal(q.grant, lg.ops, agent.id, [lg.debit], both)).key == q.NO_EXAM
    await basis.record_exam(lg.ops, agent.id, exam("79.5"))
    failed = await refusal(q.grant, lg.ops, agent.id, [lg.debit], both)
    assert failed.key == q.EXAM_FAILED
    assert (failed.params["score"], failed.params["pass_mark"]) == ("79.5", "80.0")
    other_training = await basis.record_training(lg.ops, lg.agent_b.id, training())
    other_exam = await basis.record_exam(lg.ops, lg.agent_b.id, exam("95"))
    assert (await refusal(q.grant, lg.ops, agent.id, [lg.debit], both,
                          training_id=other_training.id)).key == q.TRAINING_OF_OTHER
    assert (await refusal(q.grant, lg.ops, agent.id, [lg.debit], both,
                          exam_id=other_exam.id)).key == q.EXAM_OF_OTHER
    assert not await Qualification.exists(staff_id=agent.id)


async def test_grant_on_counter_qualification_covers_several_types_and_tells_the_holder(
    ledger: Ledger,
) -> None:
    lg = ledger
    await basis.record_counter_qualification(lg.ops, lg.agent.id, "GT-0001", date(2019, 5, 6))
    granted = await q.grant(lg.ops_a, lg.agent.id, [lg.debit, lg.sim], QualificationBasis.COUNTER)
    assert {row.status for row in granted} == {QualificationStatus.ACTIVE}
    assert {row.business_type_id for row in granted} == {lg.debit, lg.sim}  # type: ignore[attr-defined]
    for business_type_id in (lg.debit, lg.sim):
        await q.require_active(lg.agent.id, business_type_id, utcnow(), ZONE)
    messages = await OutboxMessage.filter(recipient_id=lg.agent.id).order_by("id")
    assert [m.template for m in messages] == [q.GRANTED_TO_HOLDER] * 2
    assert {m.params["business_type"] for m in messages} == {"借记卡开户", "手机卡办理"}
    events = await QualificationEvent.filter(qualification__staff_id=lg.agent.id)
    assert [(e.kind, e.actor_label) for e in events] == [("granted", lg.ops_a.label)] * 2
    assert await AuditLog.filter(action="qualification.granted").count() == 2


async def test_grant_on_training_and_a_passed_exam_rests_on_them(ledger: Ledger) -> None:
    lg = ledger
    course = await basis.record_training(lg.ops, lg.agent.id, training())
    await basis.record_exam(lg.ops, lg.agent.id, exam("70", on=date(2026, 3, 9)))
    passed = await basis.record_exam(lg.ops, lg.agent.id, exam("88", on=date(2026, 3, 16)))
    until = TODAY + timedelta(days=365)
    [row] = await q.grant(lg.ops, lg.agent.id, [lg.debit], QualificationBasis.TRAINING_AND_EXAM,
                          valid_until=until)
    assert (row.training_id, row.exam_id, row.valid_until) == (  # type: ignore[attr-defined]
        course.id, passed.id, until)
    message = await OutboxMessage.get(recipient_id=lg.agent.id)
    assert message.template == q.GRANTED_UNTIL_TO_HOLDER
    assert message.params["valid_until"] == until.isoformat()


async def test_only_active_field_agents_in_scope_can_be_granted(ledger: Ledger) -> None:
    lg = ledger
    reviewer, _ = await person(lg.ids["outlet_a"], Role.REVIEWER, no="R001")
    await basis.record_counter_qualification(lg.ops, reviewer.id, "GT-0009", date(2019, 5, 6))
    assert (await refusal(q.grant, lg.ops, reviewer.id, [lg.debit], QualificationBasis.COUNTER)
            ).key == "Only field agents can be granted a qualification."
    await basis.record_counter_qualification(lg.ops, lg.agent_b.id, "GT-0002", date(2019, 5, 6))
    with pytest.raises(NotFound):
        await q.grant(lg.ops_a, lg.agent_b.id, [lg.debit], QualificationBasis.COUNTER)
    with pytest.raises(NotFound):
        await basis.record_training(lg.ops_a, lg.agent_b.id, training())
    with pytest.raises(NotFound):
        await q.staff_ledger(lg.ops_a, lg.agent_b.id)
    await Staff.filter(id=lg.agent_b.id).update(active=False)
    assert "deactivated" in (await refusal(q.grant, lg.ops_b, lg.agent_b.id, [lg.debit],
                                           QualificationBasis.COUNTER)).key
    assert not await Qualification.exists(staff_id=lg.agent_b.id)


async def test_permanent_withdrawal_refuses_any_later_grant_and_says_why(ledger: Ledger) -> None:
    lg = ledger
    [row] = await counter_qualified(lg)
    withdrawn = await q.withdraw(lg.ops, row.id, WithdrawalReason.MALICIOUS_OPERATION,
                                 "冒用客户身份办理业务")
    assert withdrawn.status == QualificationStatus.REVOKED_PERMANENTLY
    for types in ([lg.debit], [lg.sim]):
        refused = await refusal(q.grant, lg.ops, lg.agent.id, types, QualificationBasis.COUNTER)
        assert refused.key == q.PERMANENT_REFUSAL[WithdrawalReason.MALICIOUS_OPERATION]
    gate = await refusal(q.require_active, lg.agent.id, lg.debit, utcnow(), ZONE)
    assert gate.key == q.GATE_WITHDRAWN_FOR_GOOD
    assert await told(lg.agent, q.WITHDRAWN_TO_HOLDER[WithdrawalReason.MALICIOUS_OPERATION]) == 1
    event = await QualificationEvent.filter(kind="revoked_permanently").get()
    assert (event.withdrawal_reason, event.reason) == (WithdrawalReason.MALICIOUS_OPERATION,
                                                       "冒用客户身份办理业务")


async def test_withdrawal_after_transfer_allows_qualifying_again(ledger: Ledger) -> None:
    lg = ledger
    [row] = await counter_qualified(lg)
    await q.withdraw(lg.ops, row.id, WithdrawalReason.TRANSFER_OR_RESIGNATION, "调往柜面岗位")
    assert (await refusal(q.require_active, lg.agent.id, lg.debit, utcnow(), ZONE)
            ).key == q.GATE_WITHDRAWN
    again = await refusal(q.withdraw, lg.ops, row.id, WithdrawalReason.JOINT_DECISION, "再次")
    assert again.key == q.NOT_WITHDRAWABLE
    [regranted] = await q.grant(lg.ops, lg.agent.id, [lg.debit], QualificationBasis.COUNTER)
    assert (regranted.id, regranted.status) == (row.id, QualificationStatus.ACTIVE)
    await q.require_active(lg.agent.id, lg.debit, utcnow(), ZONE)
    kinds = await QualificationEvent.filter(qualification_id=row.id).values_list("kind",
                                                                                 flat=True)
    assert kinds == ["granted", "revoked", "granted"]


async def test_suspend_and_reinstate_reach_the_gate_and_the_holder(ledger: Ledger) -> None:
    lg = ledger
    [row] = await counter_qualified(lg)
    assert (await refusal(q.suspend, lg.ops, row.id, "  ")).key == q.REASON_REQUIRED
    await q.suspend(lg.ops, row.id, "凭证遗失，待整改")
    gate = await refusal(q.require_active, lg.agent.id, lg.debit, utcnow(), ZONE)
    assert (gate.key, gate.params) == (q.GATE_SUSPENDED, {"business_type": "借记卡开户",
                                                          "reason": "凭证遗失，待整改"})
    assert (await refusal(q.suspend, lg.ops, row.id, "again")).key == q.SUSPEND.refusal
    assert (await refusal(q.grant, lg.ops, lg.agent.id, [lg.debit], QualificationBasis.COUNTER)
            ).key.startswith("The qualification of %(staff)s")
    await q.reinstate(lg.ops, row.id, "已整改")
    await q.require_active(lg.agent.id, lg.debit, utcnow(), ZONE)
    assert (await refusal(q.reinstate, lg.ops, row.id, "again")).key == q.REINSTATE.refusal
    assert await told(lg.agent, q.SUSPENDED_TO_HOLDER) == 1
    assert await told(lg.agent, q.REINSTATED_TO_HOLDER) == 1


async def test_a_voucher_loss_suspends_every_active_qualification(
    database_url: str, tmp_path: Path,
) -> None:
    w = await voucher_world(tmp_path / "media")
    agent = await Staff.get(id=w.agent.staff_id)
    sim = await business_types.create_business_type(
        w.ops, "SIM_CARD", BusinessTypeForm("手机卡办理", "SIM card sign-up", KINDS))
    await q.grant(w.ops, agent.id, [sim.id], QualificationBasis.COUNTER, now=T0)
    await voucher_stock.set_cap(w.ops, w.ids["outlet_a"], w.card_type.id, 10)
    await voucher_stock.receive_range(w.ops, w.ids["outlet_a"], w.card_type.id, card(1), card(4),
                                      T0)
    await voucher_stock.allocate(w.ops, w.box.id, w.card_type.id, count=4, now=T0)
    await voids.report_lost_serials(w.ops, [card(1)], "客户遗失", now=T0)
    assert await Qualification.filter(staff_id=agent.id,
                                       status=QualificationStatus.ACTIVE).count() == 2
    request = await voids.report_lost_serials(w.ops, [card(2)], "尾箱未加锁",
                                              lax_management=True, now=T0)
    held = await Qualification.filter(staff_id=agent.id).values_list("status", flat=True)
    assert held == [QualificationStatus.SUSPENDED] * 2
    gate = await refusal(q.require_active, agent.id, sim.id, T0, ZONE)
    assert (gate.key, gate.params["reason"]) == (
        q.GATE_SUSPENDED, f"#{request.incident_id} 尾箱未加锁")  # type: ignore[attr-defined]
    assert await told(agent, q.SUSPENDED_TO_HOLDER) == 2


async def test_the_gate_names_each_reason_in_the_agents_language(ledger: Ledger) -> None:
    lg = ledger
    await Staff.filter(id=lg.agent.id).update(locale="en")
    missing = await refusal(q.require_active, lg.agent.id, lg.debit, utcnow(), ZONE)
    assert (missing.key, missing.params) == (q.NOT_QUALIFIED,
                                             {"business_type": "Debit card opening"})
    await basis.record_counter_qualification(lg.ops, lg.agent.id, "GT-0001", date(2019, 5, 6))
    until = TODAY + timedelta(days=3)
    await q.grant(lg.ops, lg.agent.id, [lg.debit], QualificationBasis.COUNTER, valid_until=until)
    await q.require_active(lg.agent.id, lg.debit, utcnow(), ZONE)
    lapsed = await refusal(q.require_active, lg.agent.id, lg.debit,
                           utcnow() + timedelta(days=5), ZONE)
    assert (lapsed.key, lapsed.params["valid_until"]) == (q.GATE_EXPIRED, until.isoformat())
    assert (await refusal(q.require_active, lg.agent.id, lg.sim, utcnow(), ZONE)
            ).key == q.NOT_QUALIFIED


async def test_expiry_sweep_warns_once_a_week_ahead_and_expires_once(ledger: Ledger) -> None:
    lg = ledger
    await basis.record_counter_qualification(lg.ops, lg.agent.id, "GT-0001", date(2019, 5, 6))
    until = TODAY + timedelta(days=10)
    [row] = await q.grant(lg.ops, lg.agent.id, [lg.debit], QualificationBasis.COUNTER,
                          valid_until=until)
    assert await q.sweep_expiry(until - timedelta(days=8)) == q.SweepReport(0, 0)
    assert await q.sweep_expiry(until - timedelta(days=7)) == q.SweepReport(1, 0)
    assert await q.sweep_expiry(until - timedelta(days=6)) == q.SweepReport(0, 0)
    assert await q.sweep_expiry(until) == q.SweepReport(0, 0)
    await q.require_active(lg.agent.id, lg.debit, datetime.combine(until, time(23, 59), ZONE),
                           ZONE)
    assert await q.sweep_expiry(until + timedelta(days=1)) == q.SweepReport(0, 1)
    assert await q.sweep_expiry(until + timedelta(days=2)) == q.SweepReport(0, 0)
    assert (await Qualification.get(id=row.id)).status == QualificationStatus.EXPIRED
    assert await told(lg.agent, q.EXPIRY_WARNING_TO_HOLDER) == 1
    assert await told(lg.agent, q.EXPIRED_TO_HOLDER) == 1
    assert (await refusal(q.require_active, lg.agent.id, lg.debit, utcnow(), ZONE)
            ).key == q.GATE_EXPIRED
    renewed = TODAY + timedelta(days=400)
    await q.grant(lg.ops, lg.agent.id, [lg.debit], QualificationBasis.COUNTER, valid_until=renewed)
    await q.require_active(lg.agent.id, lg.debit, utcnow(), ZONE)


async def test_the_daily_expiry_sweep_runs_as_soon_as_the_scheduler_starts(
    ledger: Ledger,
) -> None:
    lg = ledger
    [row] = await counter_qualified(lg)
    await Qualification.filter(id=row.id).update(valid_until=TODAY - timedelta(days=2))
    [job] = [j for j in ledger_jobs(ZONE, LedgerSettings()) if j.name == "qualification_expiry"]
    assert job.every == timedelta(days=1)
    scheduler = build_scheduler([job], "p1")
    scheduler.start()
    try:
        for _ in range(100):
            if (await Qualification.get(id=row.id)).status == QualificationStatus.EXPIRED:
                break
            await asyncio.sleep(0.1)
    finally:
        scheduler.shutdown(wait=False)
    assert (await Qualification.get(id=row.id)).status == QualificationStatus.EXPIRED


async def test_idle_sweep_flags_then_disables_each_once(ledger: Ledger) -> None:
    lg = ledger
    start = utcnow()
    assert await idle.sweep_idle_accounts(start + timedelta(days=89), 90, 14) == q.SweepReport(0, 0)
    flagged_at = start + timedelta(days=91)
    assert await idle.sweep_idle_accounts(flagged_at, 90, 14) == q.SweepReport(2, 0)
    assert await idle.sweep_idle_accounts(flagged_at + timedelta(days=1), 90, 14
                                       ) == q.SweepReport(0, 0)
    assert await idle.sweep_idle_accounts(flagged_at + timedelta(days=13), 90, 14
                                       ) == q.SweepReport(0, 0)
    assert await idle.sweep_idle_accounts(flagged_at + timedelta(days=14), 90, 14
                                       ) == q.SweepReport(0, 2)
    assert await idle.sweep_idle_accounts(flagged_at + timedelta(days=15), 90, 14
                                       ) == q.SweepReport(0, 0)
    assert not (await Staff.get(id=lg.agent.id)).active
    assert (await Staff.get(employee_no="O001")).active
    assert await told(lg.agent, idle.IDLE_FLAGGED_TO_STAFF) == 1
    assert await told(lg.agent, idle.IDLE_DISABLED_TO_STAFF) == 1
    audited = await AuditLog.filter(object_id=str(lg.agent.id), action__startswith="staff.idle"
                                    ).values_list("action", flat=True)
    assert sorted(audited) == ["staff.idle_disabled", "staff.idle_flagged"]


async def test_a_kept_or_active_account_is_not_disabled(ledger: Ledger) -> None:
    lg = ledger
    flagged_at = utcnow() + timedelta(days=91)
    await idle.sweep_idle_accounts(flagged_at, 90, 14)
    keep_until = (flagged_at + timedelta(days=60)).date()
    with pytest.raises(NotFound):
        await idle.keep_idle_account(lg.ops_b, lg.agent.id, keep_until, "下月有展业任务")
    await idle.keep_idle_account(lg.ops_a, lg.agent.id, keep_until, "下月有展业任务")
    await idle.touch_activity(lg.agent_b.id, flagged_at + timedelta(days=1))
    assert await idle.sweep_idle_accounts(flagged_at + timedelta(days=14), 90, 14
                                       ) == q.SweepReport(0, 0)
    assert (await Staff.get(id=lg.agent.id)).active and (await Staff.get(id=lg.agent_b.id)).active
    assert await told(lg.agent, idle.IDLE_KEPT_TO_STAFF) == 1
    assert await AuditLog.filter(action="staff.idle_kept").count() == 1
    after_keep = datetime.combine(keep_until + timedelta(days=1), datetime.min.time(),
                                  tzinfo=flagged_at.tzinfo)
    assert await idle.sweep_idle_accounts(after_keep, 90, 14) == q.SweepReport(1, 0)
    assert await told(lg.agent, idle.IDLE_FLAGGED_TO_STAFF) == 2


async def major_incident(lg: Ledger, staff: Staff) -> None:
    await Incident.create(kind=IncidentKind.MAJOR_ERROR, major=True, staff=staff,
                          org_id=staff.org_id,  # type: ignore[attr-defined]
                          reported_at=utcnow(), description="未核实客户身份")
    await majors.major_incident_recorded(staff.id, utcnow(), majors.IncidentRules())


async def test_major_incidents_at_the_threshold_flag_retraining_and_propose_withdrawal(
    ledger: Ledger,
) -> None:
    lg = ledger
    [row] = await counter_qualified(lg)
    await major_incident(lg, lg.agent)
    assert await majors.withdrawal_proposals(lg.ops) == []
    await major_incident(lg, lg.agent)
    assert (await Staff.get(id=lg.agent.id)).retraining_flagged_at is not None
    assert [s.id for s in await majors.withdrawal_proposals(lg.ops_a)] == [lg.agent.id]
    assert await majors.withdrawal_proposals(lg.ops_b) == []
    await major_incident(lg, lg.agent)
    assert await told(lg.agent, majors.RETRAINING_TO_STAFF) == 1
    proposals = await OutboxMessage.filter(template=majors.PROPOSAL_TO_OPERATIONS
                                           ).values_list("recipient_id", flat=True)
    assert sorted(proposals) == sorted([lg.ops.staff_id, lg.ops_a.staff_id])
    assert (await Qualification.get(id=row.id)).status == QualificationStatus.ACTIVE
    withdrawn = await q.withdraw(lg.ops, row.id, WithdrawalReason.REPEATED_MAJOR_INCIDENTS,
                                 "两次重大差错")
    assert await majors.withdrawal_proposals(lg.ops) == []
    assert withdrawn.status == QualificationStatus.REVOKED_PERMANENTLY
    gate = await refusal(q.require_active, lg.agent.id, lg.debit, utcnow(), ZONE)
    assert gate.key == q.GATE_WITHDRAWN_FOR_GOOD
    assert await told(lg.agent, q.WITHDRAWN_TO_HOLDER[
        WithdrawalReason.REPEATED_MAJOR_INCIDENTS]) == 1
    for types in ([lg.debit], [lg.sim]):
        refused = await refusal(q.grant, lg.ops, lg.agent.id, types, QualificationBasis.COUNTER)
        assert (refused.key, refused.params) == (
            q.PERMANENT_REFUSAL[WithdrawalReason.REPEATED_MAJOR_INCIDENTS],
            {"staff": "F001 张展业"})


async def test_the_daily_sweep_flags_whoever_reached_a_lowered_threshold(ledger: Ledger
                                                                         ) -> None:
    lg = ledger
    await counter_qualified(lg, lg.agent_b)
    for _ in range(2):
        await Incident.create(kind=IncidentKind.MAJOR_ERROR, major=True, staff=lg.agent_b,
                              org_id=lg.agent_b.org_id,  # type: ignore[attr-defined]
                              reported_at=T0)
        await majors.major_incident_recorded(lg.agent_b.id, T0, majors.IncidentRules(3))
    assert await majors.withdrawal_proposals(lg.ops) == []
    [job] = [j for j in ledger_jobs(ZONE, LedgerSettings(major_incident_threshold=3))
             if j.name == "major_incidents"]
    await job.sweep()
    assert await majors.withdrawal_proposals(lg.ops) == []
    assert await majors.sweep_major_incidents(T0, threshold=2) == q.SweepReport(0, 1)
    assert [s.id for s in await majors.withdrawal_proposals(lg.ops_b)] == [lg.agent_b.id]


async def test_ledger_and_list_show_only_the_actors_subtree(ledger: Ledger) -> None:
    lg = ledger
    await counter_qualified(lg)
    await counter_qualified(lg, lg.agent_b)
    [row] = await q.list_qualifications(lg.ops_a)
    assert row.staff.employee_no == "F001" and row.business_type.code == "DEBIT_CARD"
    assert len(await q.list_qualifications(lg.ops, status="active")) == 2
    assert len(await q.list_qualifications(lg.ops, org_id=lg.ids["branch_b"])) == 1
    page = await q.staff_ledger(lg.ops_a, lg.agent.id)
    assert [c.certificate_no for c in page["counter"]] == ["GT-0001"]
    assert [e.kind for e in page["events"]] == ["granted"]


async def test_the_ledger_dates_by_the_business_day_at_one_in_the_morning(
        ledger: Ledger, test_clock: SteadyClock) -> None:
    lg = ledger
    test_clock.move_to(datetime(2026, 11, 23, 17, 0, tzinfo=UTC))  # 01:00 in Shanghai
    tuesday = date(2026, 11, 24)
    await basis.record_training(lg.ops, lg.agent.id, training(on=tuesday))
    await basis.record_exam(lg.ops, lg.agent.id, exam("90", on=tuesday))
    refused = await refusal(q.grant, lg.ops, lg.agent.id, [lg.debit],
                            QualificationBasis.TRAINING_AND_EXAM, valid_until=tuesday)
    assert refused.key == q.NOT_AFTER_TODAY
    [row] = await q.grant(lg.ops, lg.agent.id, [lg.debit], QualificationBasis.TRAINING_AND_EXAM,
                          valid_until=tuesday + timedelta(days=1))
    assert row.valid_until == date(2026, 11, 25)
