"""A voucher ledger world for the tests: orgs, heads, a qualified agent with his tail box."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.cases.capture_gate import CaptureContext
from domain.models import (
    BoxCount,
    Device,
    Role,
    Staff,
    TailBox,
    Voucher,
    VoucherState,
    VoucherType,
)
from domain.platform.actors import Actor
from domain.vouchers import day_end_counts, tail_boxes, voucher_counts, voucher_stock
from tests.case_support import KINDS, bound_agent
from tests.factories import capture_context, org_tree, person

CARD_PATTERN = r"62[0-9]{17}"


def luhn(body: str) -> str:
    """A card number: the body with its Luhn check digit appended."""
    digits = [int(d) for d in reversed(body)]
    total = sum(d * 2 - 9 if d * 2 > 9 else d * 2 for d in digits[0::2]) + sum(digits[1::2])
    return body + str((10 - total % 10) % 10)


def card(n: int) -> str:
    """The n-th debit card number of the test stock."""
    return luhn(f"62170000{n:010d}")


@dataclass
class World:
    ids: dict[str, int]
    ops: Actor
    ops2: Actor
    head: Actor
    both: Actor
    agent: Actor
    box: TailBox
    asset_tag: str
    card_type: VoucherType
    business_type_id: int
    ctx: CaptureContext


async def agent_with_box(org_id: int, no: str) -> tuple[Actor, TailBox, str]:
    """A bound, qualified field agent with a tablet and its tail box."""
    agent = await bound_agent(org_id, no)
    device = await Device.get(holder_id=agent.staff_id)
    return agent, await tail_boxes.box_for_device(device.id), device.asset_tag


async def voucher_world(media_root: Path) -> World:
    """Province heads, a debit card type issuing business, an outlet agent with his box."""
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O001")
    _, ops2 = await person(ids["province"], Role.OPS_ADMIN, no="O002")
    _, head = await person(ids["province"], Role.BUSINESS_HEAD, no="H001")
    _, both = await person(ids["province"], Role.BUSINESS_HEAD, Role.OPS_ADMIN, no="X001")
    card_type = await voucher_stock.define_voucher_type(ops, "CARD", voucher_stock.VoucherTypeForm(
        "借记卡", "Debit card", CARD_PATTERN, "luhn"))
    business_type = await business_types.create_business_type(
        ops, "DEBIT_CARD", BusinessTypeForm("借记卡开户", "Debit card opening", frozenset(KINDS)),
        voucher_type_code="CARD")
    agent, box, asset_tag = await agent_with_box(ids["outlet_a"], "F001")
    return World(ids, ops, ops2, head, both, agent, box, asset_tag, card_type,
                 business_type.id, capture_context(media_root))


async def count_box(agent: Actor, box: TailBox, now: datetime,
                    counted: dict[str, int] | None = None) -> BoxCount:
    """The day-end count of a box answered by its holder (V3); a wrong figure twice is a
    discrepancy."""
    await day_end_counts.request_day_end_counts(now)
    count = await BoxCount.filter(box_id=box.id).order_by("-id").first()
    assert count is not None
    figures = counted if counted is not None else await tail_boxes.expected_in_box(box.id)
    answer = await voucher_counts.answer_count(agent, count.id, figures, now)
    if counted is not None and answer.status.value == "retry":
        answer = await voucher_counts.answer_count(agent, count.id, figures, now)
    return answer


BEFORE_CLOSING = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 17:00 business time


async def voucher_types() -> dict[str, VoucherType]:
    """The card and SIM voucher types, written directly (the ledger is tested apart)."""
    return {code: await VoucherType.create(code=code, name_zh=zh, name_en=en,
                                           serial_pattern=r"\d{4}")
            for code, zh, en in (("CARD", "借记卡", "Debit card"), ("SIM", "SIM卡", "SIM card"))}


async def stock_box_directly(holder: Staff, stock: dict[str, int]) -> TailBox:
    """The tail box of the holder's tablet with vouchers in it, written directly as models
    so that these tests need nothing of the allocation service."""
    device = await Device.get(holder_id=holder.id)
    box = await TailBox.create(device=device, org_id=device.org_id,  # type: ignore[attr-defined]
                               holder=holder)
    types = {t.code: t for t in await VoucherType.all()} or await voucher_types()
    serial = await Voucher.all().count()
    for code, n in stock.items():
        for _ in range(n):
            serial += 1
            await Voucher.create(voucher_type=types[code], serial=f"{serial:04d}",
                                 state=VoucherState.IN_BOX, org_id=box.org_id,  # type: ignore[attr-defined]
                                 box=box, updated_at=BEFORE_CLOSING)
    return box
