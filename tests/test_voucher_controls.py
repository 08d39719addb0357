"""What a count expects is what is physically in the box (V3, V5): a serial reserved by a
case went to the customer at capture, so an honest agent is accepted at day end, at a
hand-over and in an inspection; and the count is blind (/box shows no figure while a count
waits for the holder). On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.cases import cases
from domain.models import (
    CountStatus,
    Incident,
    Inspection,
    InspectionResult,
    Role,
    TailBox,
)
from domain.oversight import inspections
from domain.platform.actors import Actor
from domain.vouchers import case_vouchers, tail_boxes, voucher_counts, voucher_stock
from tests.factories import operational, person
from tests.voucher_support import World, card, count_box, voucher_world

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 business time
EVENING = T0 + timedelta(hours=8)


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> World:
    """Three cards in the agent's box, one of them reserved by his draft (handed over)."""
    w = await voucher_world(tmp_path / "media")
    await voucher_stock.set_cap(w.ops, w.ids["outlet_a"], w.card_type.id, 10)
    await voucher_stock.receive_range(w.ops, w.ids["outlet_a"], w.card_type.id, card(1), card(5),
                                      T0)
    await voucher_stock.allocate(w.ops, w.box.id, w.card_type.id, count=3, now=T0)
    case = await cases.start_draft(w.agent, w.business_type_id, w.ctx, T0)
    await case_vouchers.reserve_for_case(w.agent, case.id, card(1), T0)
    return w


async def supervisor_of(world: World) -> Actor:
    return (await person(world.ids["sub_a"], Role.SUPERVISOR, no="S001"))[1]


async def test_the_box_is_expected_to_hold_only_its_in_box_serials(world: World) -> None:
    assert await tail_boxes.expected_in_box(world.box.id) == {"CARD": 2}


async def test_an_agent_with_a_reserved_serial_counts_honestly_at_day_end(world: World) -> None:
    count = await count_box(world.agent, world.box, EVENING, {"CARD": 2})
    assert (count.status, count.attempts) == (CountStatus.MATCHED, 1)
    assert count.expected == {"CARD": 2}
    assert not await Incident.exists()


async def test_a_box_with_a_reserved_serial_is_handed_over_on_honest_counts(
        world: World) -> None:
    taker_row, taker = await person(world.ids["outlet_a"], Role.FIELD_AGENT, no="F009")
    await operational(taker_row, tablet=False)
    pending = await voucher_counts.hand_over(world.agent, world.box.id, taker_row.id, {"CARD": 2},
                                       EVENING)
    confirmed = await voucher_counts.answer_count(taker, pending.id, {"CARD": 2}, EVENING)
    assert confirmed.status == CountStatus.MATCHED
    assert (await TailBox.get(id=world.box.id)).holder_id == taker_row.id  # type: ignore[attr-defined]


async def test_an_inspection_of_a_box_with_a_reserved_serial_matches_honest_counts(
        world: World) -> None:
    supervisor = await supervisor_of(world)
    await inspections.create_monthly_inspections(T0)
    row = await Inspection.get(box_id=world.box.id)
    await inspections.start_inspection(supervisor, row.id, EVENING)
    await inspections.record_count(world.agent, row.id, {"CARD": 2}, EVENING)
    done = await inspections.record_count(supervisor, row.id, {"CARD": 2}, EVENING)
    assert (done.result, done.expected) == (InspectionResult.OK, {"CARD": 2})
    assert not await Incident.exists()


async def test_box_shows_no_figure_while_an_inspection_waits_for_the_holder(
        world: World) -> None:
    [before] = await voucher_counts.my_boxes(world.agent)
    assert [(t.code, n) for t, n in before.balance] == [("CARD", 2)] and not before.blind
    supervisor = await supervisor_of(world)
    await inspections.create_monthly_inspections(T0)
    row = await Inspection.get(box_id=world.box.id)
    await inspections.start_inspection(supervisor, row.id, EVENING)
    [during] = await voucher_counts.my_boxes(world.agent)
    assert during.blind and during.balance == []
    await inspections.record_count(world.agent, row.id, {"CARD": 2}, EVENING)
    [after] = await voucher_counts.my_boxes(world.agent)
    assert [(t.code, n) for t, n in after.balance] == [("CARD", 2)] and not after.blind
