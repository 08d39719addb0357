"""The voucher ledger core: receipt, allocation and its refusals, use in cases, loss, void
(V1–V6, C3, Q4, Q5), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from domain.cases import cases
from domain.ledgers import incidents, qualifications
from domain.ledgers.incidents import LossReport
from domain.models import (
    Incident,
    OutboxMessage,
    Qualification,
    QualificationStatus,
    Role,
    TailBox,
    VoidStatus,
    Voucher,
    VoucherMovement,
    VoucherState,
)
from domain.platform.errors import DomainError, NotFound, PermissionDenied
from domain.platform.paging import PageRequest
from domain.vouchers import (
    _ledger,
    case_vouchers,
    tail_boxes,
    voids,
    voucher_reports,
    voucher_stock,
)
from tests.case_support import MONDAY_10AM
from tests.factories import ROOT, person
from tests.voucher_support import World, agent_with_box, card, count_box, luhn, voucher_world

T0 = MONDAY_10AM


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> World:
    w = await voucher_world(tmp_path / "media")
    await voucher_stock.set_cap(w.ops, w.ids["outlet_a"], w.card_type.id, 50)
    await voucher_stock.receive_range(w.ops, w.ids["outlet_a"], w.card_type.id, card(1), card(40),
                                      T0)
    return w


async def refusal(call, *args, **kwargs) -> DomainError:  # type: ignore[no-untyped-def]
    """The DomainError a service call raises."""
    with pytest.raises(DomainError) as refused:
        await call(*args, **kwargs)
    return refused.value


async def states(*serials: str) -> dict[str, str]:
    rows = await Voucher.filter(serial__in=list(serials))
    return {row.serial: row.state.value for row in rows}


async def test_a_card_range_is_received_with_each_check_digit_computed(world: World) -> None:
    vault = await Voucher.filter(state=VoucherState.IN_VAULT).order_by("serial")
    assert [row.serial for row in vault] == [card(n) for n in range(1, 41)]
    assert card(1) == "6217000000000000012" and luhn("411111111111111") == "4111111111111111"
    assert await VoucherMovement.filter(kind="received").count() == 40


async def test_receipt_with_malformed_or_duplicate_serials_is_refused_with_the_list(
        world: World) -> None:
    bad = card(41)[:-1] + str((int(card(41)[-1]) + 1) % 10)
    refused = await refusal(voucher_stock.receive_serials, world.ops, world.ids["outlet_a"],
                            world.card_type.id, [card(42), bad, "1234"])
    assert refused.params["count"] == 2
    assert bad in refused.params["serials"] and "1234" in refused.params["serials"]
    refused = await refusal(voucher_stock.receive_serials, world.ops, world.ids["outlet_a"],
                            world.card_type.id, [card(43), card(43), card(5)])
    assert refused.key.startswith("Nothing was received.")
    assert refused.params["serials"] == f"{card(5)}, {card(43)}"
    assert not await Voucher.filter(serial__in=[card(42), card(43)]).exists()


async def test_allocation_takes_the_lowest_serials_into_the_box(world: World) -> None:
    moved = await voucher_stock.allocate(world.ops, world.box.id, world.card_type.id, count=3,
                                         now=T0)
    assert [row.serial for row in moved] == [card(1), card(2), card(3)]
    assert await tail_boxes.my_balance(world.agent) == {"CARD": 3}
    balances = await voucher_reports.balances(world.ops)
    assert {(b.box_id, b.in_vault, b.in_box) for b in balances} == {
        (None, 37, 0), (world.box.id, 0, 3)}


async def test_allocation_to_a_frozen_box_is_refused_with_the_reason(world: World) -> None:
    await incidents.report_loss(world.agent, LossReport("device", world.asset_tag, T0, "地铁",
                                                        "平板遗失在地铁上"), T0)
    refused = await refusal(voucher_stock.allocate, world.ops, world.box.id, world.card_type.id,
                            count=1, now=T0)
    assert refused.key == voucher_stock.BOX_FROZEN
    assert refused.params["asset_tag"] == world.asset_tag
    assert "平板遗失在地铁上" in refused.params["reason"]


async def test_allocation_to_a_holder_without_qualification_is_refused(world: World) -> None:
    assert world.agent.staff_id is not None
    await qualifications.suspend_all_for_staff(ROOT, world.agent.staff_id, "培训未完成")
    refused = await refusal(voucher_stock.allocate, world.ops, world.box.id, world.card_type.id,
                            count=1, now=T0)
    assert refused.key == voucher_stock.HOLDER_UNQUALIFIED
    assert "F001" in refused.params["holder"]


async def test_allocation_needs_a_recent_matching_count_of_a_box_that_held_vouchers(
        world: World) -> None:
    await voucher_stock.allocate(world.ops, world.box.id, world.card_type.id, count=2, now=T0)
    refused = await refusal(voucher_stock.allocate, world.ops, world.box.id, world.card_type.id,
                            count=1, now=T0)
    assert refused.key == voucher_stock.COUNT_MISSING
    await count_box(world.agent, world.box, T0 + timedelta(hours=8))
    await voucher_stock.allocate(world.ops, world.box.id, world.card_type.id, count=1,
                                 now=T0 + timedelta(hours=9))
    refused = await refusal(voucher_stock.allocate, world.ops, world.box.id, world.card_type.id,
                            count=1, now=T0 + timedelta(hours=33))
    assert refused.key == voucher_stock.COUNT_TOO_OLD
    assert refused.params["hours"] == 24
    await count_box(world.agent, world.box, T0 + timedelta(days=1, hours=8), {"CARD": 1})
    refused = await refusal(voucher_stock.allocate, world.ops, world.box.id, world.card_type.id,
                            count=1, now=T0 + timedelta(days=1, hours=9))
    assert refused.key == voucher_stock.COUNT_MISMATCH


async def test_allocation_past_the_cap_of_an_org_above_is_refused(world: World) -> None:
    await voucher_stock.set_cap(world.ops, world.ids["sub_a"], world.card_type.id, 5)
    await voucher_stock.allocate(world.ops, world.box.id, world.card_type.id, count=4, now=T0)
    other, box, _ = await agent_with_box(world.ids["outlet_a"], "F002")
    refused = await refusal(voucher_stock.allocate, world.ops, box.id, world.card_type.id,
                            count=2, now=T0)
    assert refused.key == voucher_stock.CAP_PASSED
    assert refused.params == {"org": "支行a", "type": "CARD", "cap": 5, "held": 4, "count": 2}
    await voucher_stock.allocate(world.ops, box.id, world.card_type.id, serials=[card(30)], now=T0)
    assert await tail_boxes.my_balance(other) == {"CARD": 1}


async def test_concurrent_allocations_never_pass_the_cap(world: World) -> None:
    await voucher_stock.set_cap(world.ops, world.ids["outlet_a"], world.card_type.id, 10)
    await voucher_stock.allocate(world.ops, world.box.id, world.card_type.id, count=9, now=T0)
    await count_box(world.agent, world.box, T0 + timedelta(hours=1))
    later = T0 + timedelta(hours=2)
    results = await asyncio.gather(*(
        voucher_stock.allocate(world.ops, world.box.id, world.card_type.id, count=1, now=later)
        for _ in range(20)), return_exceptions=True)
    won = [r for r in results if isinstance(r, list)]
    refused = [r for r in results if not isinstance(r, list)]
    assert len(won) == 1 and len(refused) == 19
    assert all(isinstance(r, DomainError) and r.key == voucher_stock.CAP_PASSED for r in refused)
    assert await Voucher.filter(box_id=world.box.id).count() == 10


async def test_a_serial_is_reserved_once_then_issued_or_released(world: World) -> None:
    await voucher_stock.allocate(world.ops, world.box.id, world.card_type.id, count=2, now=T0)
    first = await cases.start_draft(world.agent, world.business_type_id, world.ctx, T0)
    second = await cases.start_draft(world.agent, world.business_type_id, world.ctx, T0)
    await case_vouchers.reserve_for_case(world.agent, first.id, card(1), T0)
    refused = await refusal(case_vouchers.reserve_for_case, world.agent, second.id, card(1), T0)
    assert refused.key == case_vouchers.SERIAL_RESERVED
    refused = await refusal(case_vouchers.reserve_for_case, world.agent, first.id, card(2), T0)
    assert refused.params == {"serial": card(1)}
    refused = await refusal(case_vouchers.reserve_for_case, world.agent, second.id, card(9), T0)
    assert refused.key == case_vouchers.SERIAL_NOT_YOURS
    await case_vouchers.release_for_case(world.ops, first.id, T0)
    await case_vouchers.release_for_case(world.ops, first.id, T0)
    await case_vouchers.reserve_for_case(world.agent, second.id, card(1), T0)
    await case_vouchers.issue_for_case(world.ops, second.id, T0)
    await case_vouchers.issue_for_case(world.ops, second.id, T0)
    assert await states(card(1), card(2)) == {card(1): "issued", card(2): "in_box"}
    assert await tail_boxes.my_balance(world.agent) == {"CARD": 1}
    refused = await refusal(voids.report_lost_serials, world.agent, [card(1)], "丢失")
    assert refused.key == _ledger.CANNOT_TAKE_STEP


async def test_lost_serials_named_in_a_loss_report_go_void_pending(world: World) -> None:
    await voucher_stock.allocate(world.ops, world.box.id, world.card_type.id, count=3, now=T0)
    incident = await incidents.report_loss(world.agent, LossReport(
        "vouchers", f"{card(1)}，{card(2)} 两张借记卡", T0, "客户家中", "放在桌上后不见了"), T0)
    assert await states(card(1), card(2), card(3)) == {
        card(1): "void_pending", card(2): "void_pending", card(3): "in_box"}
    pending = await voucher_reports.pending_voids(world.head)
    assert [(p.incident_id, p.kind.value, len(p.items)) for p in pending] == [  # type: ignore[attr-defined]
        (incident.id, "lost", 2)]
    assert not (await Incident.get(id=incident.id)).major
    asked = await OutboxMessage.filter(template=_ledger.VOID_TO_SIGNER).count()
    assert asked == 4  # two ops admins, the business head, the holder of both roles


async def test_mass_loss_is_major_and_lax_management_suspends_the_holder(world: World) -> None:
    await voucher_stock.allocate(world.ops, world.box.id, world.card_type.id, count=12, now=T0)
    lost = [card(n) for n in range(1, 12)]
    request = await voids.report_lost_serials(world.ops, lost, "尾箱未加锁", lax_management=True,
                                              now=T0)
    incident = await Incident.get(id=request.incident_id)  # type: ignore[attr-defined]
    assert incident.major and incident.staff_id == world.agent.staff_id  # type: ignore[attr-defined]
    held = await Qualification.filter(staff_id=world.agent.staff_id).values_list("status",
                                                                               flat=True)
    assert set(held) == {QualificationStatus.SUSPENDED}
    refused = await refusal(voucher_stock.allocate, world.ops, world.box.id, world.card_type.id,
                            count=1, now=T0)
    assert refused.key == voucher_stock.HOLDER_UNQUALIFIED


async def test_a_void_needs_two_different_signatures(world: World) -> None:
    request = await voids.request_void(world.ops, [card(39), card(40)], "expired", "过期",
                                       T0)
    refused = await refusal(voids.sign_void, world.ops, request.id, T0)
    assert isinstance(refused, PermissionDenied) and refused.key == voids.REQUESTER_CANNOT_SIGN
    signed = await voids.sign_void(world.both, request.id, T0)
    assert signed.status == VoidStatus.PENDING
    assert signed.business_head_signed_by_id == world.both.staff_id  # type: ignore[attr-defined]
    refused = await refusal(voids.sign_void, world.both, request.id, T0)
    assert refused.key == voids.ALREADY_SIGNED
    refused = await refusal(voids.sign_void, world.head, request.id, T0)
    assert refused.key == voids.SLOT_TAKEN
    assert await states(card(39), card(40)) == {card(39): "void_pending",
                                                card(40): "void_pending"}
    signed = await voids.sign_void(world.ops2, request.id, T0)
    assert signed.status == VoidStatus.VOIDED
    assert await states(card(39), card(40)) == {card(39): "voided", card(40): "voided"}
    refused = await refusal(voids.request_void, world.ops, [card(39)], "expired", "再次", T0)
    assert refused.key == _ledger.CANNOT_TAKE_STEP


async def test_a_refused_void_puts_each_serial_back_where_it_was(world: World) -> None:
    await voucher_stock.allocate(world.ops, world.box.id, world.card_type.id, count=2, now=T0)
    case = await cases.start_draft(world.agent, world.business_type_id, world.ctx, T0)
    await case_vouchers.reserve_for_case(world.agent, case.id, card(2), T0)
    request = await voids.report_lost_serials(world.ops, [card(1), card(2)], "盘点短缺",
                                              now=T0)
    await voids.sign_void(world.head, request.id, T0)
    refused = await voids.refuse_void(world.ops2, request.id, "已找回", T0)
    assert refused.status == VoidStatus.REFUSED
    rows = {row.serial: row for row in await Voucher.filter(serial__in=[card(1), card(2)])}
    assert (rows[card(1)].state, rows[card(1)].box_id) == ("in_box", world.box.id)  # type: ignore[attr-defined]
    assert (rows[card(2)].state, rows[card(2)].case_id) == ("reserved", case.id)  # type: ignore[attr-defined]
    assert await OutboxMessage.filter(template=voids.REFUSED_TO_REQUESTER).count() == 1


async def test_an_unfrozen_box_takes_allocations_again(world: World) -> None:
    await incidents.report_loss(world.agent, LossReport("device", world.asset_tag, T0, "地铁",
                                                        "平板遗失"), T0)
    box = await tail_boxes.unfreeze_box(world.ops, world.box.id, "平板已找回")
    assert not box.frozen and not (await TailBox.get(id=world.box.id)).frozen
    await voucher_stock.allocate(world.ops, world.box.id, world.card_type.id, count=1, now=T0)


async def test_the_journal_and_box_detail_show_each_movement(world: World) -> None:
    await voucher_stock.allocate(world.ops, world.box.id, world.card_type.id, count=2, now=T0)
    page = (await voucher_reports.journal(world.ops, PageRequest(3),
                                          org_id=world.ids["outlet_a"])).rows
    assert [m.kind.value for m in page] == ["allocated", "allocated", "received"]
    received = await voucher_reports.journal(world.ops, PageRequest(1), kind="received")
    older = await voucher_reports.journal(world.ops, PageRequest(50, received.following),
                                          kind="received")
    assert received.total == 40 and len(older.rows) == 39
    assert all(m.id < received.rows[0].id for m in older.rows)
    by_serial = await voucher_reports.journal(world.ops, PageRequest(), serial=card(2))
    assert [m.voucher.serial for m in by_serial.rows] == [card(2), card(2)]
    box, held, moves = await tail_boxes.box_detail(world.ops, world.box.id)
    assert box.holder.id == world.agent.staff_id
    assert [v.serial for v in held] == [card(1), card(2)] and len(moves) == 2
    _, outsider = await person(world.ids["outlet_b"], Role.OPS_ADMIN, no="O009")
    assert (await voucher_reports.journal(outsider, PageRequest())).rows == []
    with pytest.raises(NotFound):
        await tail_boxes.box_detail(outsider, world.box.id)
