"""Mis-issued vouchers (V6, Q4): a serial handed to a customer by mistake leaves the box,
is recovered and voided, or counts as lost and makes the incident major; every refusal
writes nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from domain.models import (
    AuditLog,
    Incident,
    IncidentKind,
    MisIssue,
    MisIssueStatus,
    OutboxMessage,
    Role,
    Staff,
    VoidKind,
    VoidStatus,
    Voucher,
    VoucherMovement,
    VoucherState,
)
from domain.platform.errors import DomainError, NotFound, PermissionDenied
from domain.vouchers import _ledger, mis_issues, tail_boxes, voids, voucher_reports, voucher_stock
from tests.admin_support import sent_back, session, submit, zh
from tests.case_support import MONDAY_10AM
from tests.factories import person
from tests.voucher_support import World, agent_with_box, card, count_box, voucher_world

T0 = MONDAY_10AM


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> World:
    w = await voucher_world(tmp_path / "media")
    await voucher_stock.set_cap(w.ops, w.ids["outlet_a"], w.card_type.id, 5)
    await voucher_stock.receive_range(w.ops, w.ids["outlet_a"], w.card_type.id, card(1), card(10),
                                      T0)
    await voucher_stock.allocate(w.ops, w.box.id, w.card_type.id, count=3, now=T0)
    await person(w.ids["outlet_a"], Role.SUPERVISOR, no="S001", name="周主管")
    return w


async def state_of(serial: str) -> VoucherState:
    return (await Voucher.get(serial=serial)).state


async def test_a_mis_issue_takes_the_serial_out_of_the_box_and_asks_for_recovery(
        world: World) -> None:
    mis = await mis_issues.record_mis_issue(world.ops, card(2), "给客户拿错了卡", now=T0)
    assert await state_of(card(2)) == VoucherState.MIS_ISSUED
    assert mis.status == MisIssueStatus.RECOVERING and mis.holder_id == world.agent.staff_id  # type: ignore[attr-defined]
    assert mis.recover_by == T0 + timedelta(days=mis_issues.MIS_ISSUE_RECOVERY_DAYS)
    incident = await Incident.get(id=mis.incident_id)  # type: ignore[attr-defined]
    assert (incident.kind, incident.major, incident.item) == (IncidentKind.MIS_ISSUE, False,
                                                              card(2))
    told = await OutboxMessage.filter(template__in=[mis_issues.MIS_ISSUE_TO_HOLDER,
                                                    mis_issues.MIS_ISSUE_TO_SUPERVISOR])
    chain = [world.ops2, world.both]  # operations management, the recorder (ops) aside
    supervisor = await Staff.get(employee_no="S001")
    assert sorted((m.template, m.recipient_id) for m in told) == sorted([  # type: ignore[attr-defined]
        (mis_issues.MIS_ISSUE_TO_HOLDER, world.agent.staff_id),
        (mis_issues.MIS_ISSUE_TO_SUPERVISOR, supervisor.id),
        *((mis_issues.MIS_ISSUE_TO_SUPERVISOR, actor.staff_id) for actor in chain)])
    assert await tail_boxes.expected_in_box(world.box.id) == {"CARD": 2}
    await count_box(world.agent, world.box, T0 + timedelta(hours=9))
    refused = await refusal(voucher_stock.allocate, world.ops, world.box.id, world.card_type.id,
                            count=3, now=T0 + timedelta(hours=9))
    assert refused.key == voucher_stock.CAP_PASSED  # the mis-issued card still counts (V2)
    assert await AuditLog.filter(action="mis_issue.recorded").count() == 1


async def refusal(call, *args, **kwargs) -> DomainError:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as refused:
        await call(*args, **kwargs)
    return refused.value


async def test_a_recovered_serial_is_voided_with_both_signatures(world: World) -> None:
    mis = await mis_issues.record_mis_issue(world.ops, card(1), "拿错卡", now=T0)
    request = await mis_issues.record_recovery(world.ops, mis.id, "客户已交回", T0)
    assert (request.kind, request.incident_id) == (VoidKind.MIS_ISSUED, mis.incident_id)  # type: ignore[attr-defined]
    assert await state_of(card(1)) == VoucherState.VOID_PENDING
    settled = await MisIssue.get(id=mis.id)
    assert (settled.status, settled.void_request_id) == (MisIssueStatus.RECOVERED, request.id)  # type: ignore[attr-defined]
    again = await refusal(mis_issues.record_recovery, world.ops, mis.id, "再次", T0)
    assert again.key == mis_issues.MIS_ISSUE_SETTLED
    await voids.sign_void(world.head, request.id, T0)
    done = await voids.sign_void(world.ops2, request.id, T0)
    assert done.status == VoidStatus.VOIDED and await state_of(card(1)) == VoucherState.VOIDED


async def test_an_unrecoverable_serial_counts_as_lost_and_the_incident_turns_major(
        world: World) -> None:
    mis = await mis_issues.record_mis_issue(world.ops, card(3), "客户失联", now=T0)
    request = await mis_issues.write_off_mis_issue(world.ops, mis.id, "多次联系未果", T0)
    assert request.kind == VoidKind.LOST
    incident = await Incident.get(id=mis.incident_id)  # type: ignore[attr-defined]
    assert incident.major and incident.detail["major_reason"] == "mis_issue_unrecovered"
    assert incident.staff_id == world.agent.staff_id  # type: ignore[attr-defined]
    assert (await MisIssue.get(id=mis.id)).status == MisIssueStatus.UNRECOVERABLE
    refused = await voids.refuse_void(world.head, request.id, "仍可追回", T0)
    assert refused.status == VoidStatus.REFUSED
    assert await state_of(card(3)) == VoucherState.MIS_ISSUED
    back = await MisIssue.get(id=mis.id)
    assert (back.status, back.void_request_id) == (MisIssueStatus.RECOVERING, None)  # type: ignore[attr-defined]


async def test_mis_issue_refusals_name_the_fault_and_write_nothing(world: World) -> None:
    moves = await VoucherMovement.all().count()
    in_vault = await refusal(mis_issues.record_mis_issue, world.ops, card(9), "?", now=T0)
    assert in_vault.key == _ledger.CANNOT_TAKE_STEP and card(9) in in_vault.params["serials"]
    late = await refusal(mis_issues.record_mis_issue, world.ops, card(1), "拿错",
                         recover_by=T0 - timedelta(hours=1), now=T0)
    assert late.key == mis_issues.RECOVER_BY_PAST
    unknown = await refusal(mis_issues.record_mis_issue, world.ops, card(1), "拿错",
                            case_no="YD20990101-000001", now=T0)
    assert isinstance(unknown, NotFound) and unknown.params["case"] == "YD20990101-000001"
    blank = await refusal(mis_issues.record_mis_issue, world.ops, card(1), "  ", now=T0)
    assert blank.key == _ledger.REASON_REQUIRED
    other, _, _ = await agent_with_box(world.ids["outlet_a"], "F002")
    agent = await refusal(mis_issues.record_mis_issue, other, card(1), "拿错", now=T0)
    assert isinstance(agent, PermissionDenied) and card(1) in agent.params["serials"]
    direct = await refusal(voids.request_void, world.ops, [card(1)], "mis_issued", "拿错",
                           T0)
    assert direct.key == voids.MIS_ISSUE_VOID_BY_RECOVERY
    assert await VoucherMovement.all().count() == moves
    assert not await MisIssue.exists() and not await Incident.exists()
    assert await state_of(card(1)) == VoucherState.IN_BOX


async def test_the_reconciliation_holds_a_mis_issued_serial_until_it_is_voided(
        world: World) -> None:
    await mis_issues.record_mis_issue(world.ops, card(1), "拿错", now=T0)
    month = date(T0.year, T0.month, 1)
    row = (await voucher_reports.reconciliation(world.ops, month))[0]
    assert (row.mis_issued, row.issued, row.closing) == (1, 0, 10)
    balance = next(b for b in await voucher_reports.balances(world.ops) if b.box_id == world.box.id)
    assert (balance.in_box, balance.mis_issued) == (2, 1)


async def test_ops_admin_records_and_settles_mis_issues_on_the_page(world: World) -> None:
    async with session(world.ids["province"], Role.OPS_ADMIN, "O009") as client:
        recorded = await submit(client, "/vouchers/mis-issues", {
            "serial": card(2), "case_no": "", "reason": "柜面交接拿错", "recover_by": ""},
            page="/vouchers/mis-issues")
        page = await recorded.text()
        bad = await submit(client, "/vouchers/mis-issues", {
            "serial": card(8), "reason": "拿错", "recover_by": "2026-13-40"},
            page="/vouchers/mis-issues")
        bad_page = await bad.text()
        mis = await MisIssue.get(voucher__serial=card(2))
        recovered = await submit(client, f"/vouchers/mis-issues/{mis.id}/recovered",
                                 {"note": "客户交回"}, page="/vouchers/mis-issues")
        stale = await submit(client, f"/vouchers/mis-issues/{mis.id}/unrecoverable",
                             {"note": "重复提交"}, page="/vouchers/mis-issues")
        stale_page = await stale.text()
    assert recorded.status == 200 and card(2) in page
    assert zh("The mis-issue is recorded; the holder is told to recover the serial.") in page
    assert sent_back(bad, "/vouchers/mis-issues")
    assert "YYYY-MM-DD" in bad_page and "拿错" in bad_page
    assert recovered.status == 200 and await state_of(card(2)) == VoucherState.VOID_PENDING
    assert sent_back(stale, "/vouchers/mis-issues")
    assert zh("Mis-issue #%(mis_issue)s is no longer being recovered.") % {
        "mis_issue": mis.id} in stale_page
    assert (await MisIssue.get(id=mis.id)).status == MisIssueStatus.RECOVERED


async def test_another_branch_cannot_see_or_settle_a_mis_issue(world: World) -> None:
    mis = await mis_issues.record_mis_issue(world.ops, card(2), "拿错", now=T0)
    _, outsider = await person(world.ids["branch_b"], Role.OPS_ADMIN, no="O077")
    assert await mis_issues.mis_issues(outsider) == []
    refused = await refusal(mis_issues.record_recovery, outsider, mis.id, "交回", T0)
    assert isinstance(refused, NotFound)
    assert (await MisIssue.get(id=mis.id)).status == MisIssueStatus.RECOVERING
