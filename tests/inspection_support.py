"""A vault-inspection world for the tests: orgs, operations management, supervisors at two
levels, and field agents holding stocked tail boxes (V5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.models import BoxCount, Role, Staff, TailBox, VoucherType
from domain.platform.actors import Actor
from domain.vouchers import day_end_counts, tail_boxes, voucher_counts, voucher_stock
from domain.vouchers.voucher_stock import VoucherTypeForm
from tests.case_support import KINDS
from tests.factories import org_tree, person
from tests.voucher_support import agent_with_box

ZONE = ZoneInfo("Asia/Shanghai")
NOV_1 = datetime(2026, 11, 1, 9, 0, tzinfo=ZONE).astimezone(UTC)
NOV_DUE = datetime(2026, 11, 30, 23, 59, tzinfo=ZONE).astimezone(UTC)
STOCK = {"KEY": 3, "SIM": 2}


@dataclass
class Vault:
    """Outlet a: holder (box with STOCK) and a second agent (empty box); outlet b: one agent.
    The supervisor sits at sub-branch a, his superior at branch a, a far supervisor at
    sub-branch b, operations management at the province."""

    ids: dict[str, int]
    ops: Actor
    supervisor: Actor
    branch_supervisor: Actor
    far_supervisor: Actor
    holder: Actor
    box: TailBox
    tag: str
    other_box: TailBox
    far_box: TailBox
    types: dict[str, VoucherType]


async def staff_of(actor: Actor) -> Staff:
    return await Staff.get(id=actor.staff_id)


async def day_end_count(holder: Actor, box: TailBox, now: datetime) -> BoxCount:
    """The day's count of the box, answered by its holder with the ledger's figures (V3)."""
    await day_end_counts.request_day_end_counts(now)
    count = await BoxCount.filter(box_id=box.id).order_by("-id").first()
    assert count is not None
    expected = await tail_boxes.expected_in_box(box.id)
    types = await voucher_counts.types_to_count(expected)
    return await voucher_counts.answer_count(holder, count.id, {
        t.code: expected.get(t.code, 0) for t in types}, now)


async def stock(ops: Actor, holder: Actor, box: TailBox, types: dict[str, VoucherType],
                figures: dict[str, int], now: datetime) -> None:
    """Serials received into the vault of the box org and allocated to the box, one type a
    day, the box counted by its holder before each later allocation (V4)."""
    first = 1
    for step, (code, n) in enumerate(figures.items()):
        moment = now + timedelta(days=step)
        if step:
            await day_end_count(holder, box, moment)
        await voucher_stock.receive_range(ops, box.org_id, types[code].id,  # type: ignore[attr-defined]
                                          f"{first:08d}", f"{first + n - 1:08d}", now=moment)
        await voucher_stock.allocate(ops, box.id, types[code].id, count=n,
                                     now=moment + timedelta(minutes=1))
        first += n


async def vault_world(now: datetime = NOV_1 - timedelta(days=3)) -> Vault:
    """The world above, stocked in the days before the month starts."""
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O001", name="钱运营")
    _, supervisor = await person(ids["sub_a"], Role.SUPERVISOR, no="S001", name="孙主管")
    _, branch_supervisor = await person(ids["branch_a"], Role.SUPERVISOR, no="S002",
                                        name="周分行")
    _, far_supervisor = await person(ids["sub_b"], Role.SUPERVISOR, no="S003", name="吴远")
    types = {}
    for code, zh, en in (("KEY", "网银盾", "USB key"), ("SIM", "SIM卡", "SIM card")):
        types[code] = await voucher_stock.define_voucher_type(ops, code, VoucherTypeForm(
            zh, en, r"\d{8}", "none"))
        await voucher_stock.set_cap(ops, ids["province"], types[code].id, 100)
    await business_types.create_business_type(ops, "USB_KEY_OPEN", BusinessTypeForm(
        "网银盾申领", "E-banking USB key", frozenset(KINDS)), voucher_type_code="KEY")
    holder, box, tag = await agent_with_box(ids["outlet_a"], "F001")
    _, other_box, _ = await agent_with_box(ids["outlet_a"], "F002")
    _, far_box, _ = await agent_with_box(ids["outlet_b"], "F003")
    await stock(ops, holder, box, types, STOCK, now)
    return Vault(ids, ops, supervisor, branch_supervisor, far_supervisor, holder, box, tag,
                 other_box, far_box, types)
