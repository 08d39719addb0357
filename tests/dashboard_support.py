"""Dashboard test helpers: the seeded world and its cards."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from domain.cases import review
from domain.ledgers import devices, incidents, qualification_basis, qualifications
from domain.ledgers.incidents import LossReport
from domain.models import (
    BoxCount,
    Callback,
    CallbackStatus,
    Case,
    CountKind,
    Device,
    Inspection,
    InspectionKind,
    InspectionStatus,
    Qualification,
    QualificationBasis,
    Role,
    TailBox,
    VoidKind,
)
from domain.platform.actors import Actor
from domain.vouchers import day_end_counts, tail_boxes, voids, voucher_counts, voucher_stock
from domain.vouchers.voucher_stock import VoucherTypeForm
from tests.case_support import MONDAY_10AM, ZONE, bound_agent
from tests.clock_support import SteadyClock
from tests.factories import ROOT, person
from tests.review_support import Desk, build_desk, seen, submitted_case

NOW = MONDAY_10AM + timedelta(hours=2)  # Monday 2026-11-23 12:00 in Shanghai
TODAY = NOW.astimezone(ZONE).date()
FRIDAY = MONDAY_10AM - timedelta(days=3)
THURSDAY = MONDAY_10AM - timedelta(days=4)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


@dataclass
class World:
    """The review desk plus a second field agent in branch b and the seeded cases."""

    desk: Desk
    agent_b: Actor
    cases: list[Case]


# (agent a or b, submitted at, decision, minutes until the decision); the SLA is 20 minutes.
PLAN = (
    ("a", MONDAY_10AM, "approve", 5),
    ("a", MONDAY_10AM, "return", 10),
    ("a", MONDAY_10AM, "reject", 30),
    ("a", MONDAY_10AM + minutes(30), None, 0),  # overdue at noon
    ("a", MONDAY_10AM + minutes(110), None, 0),  # still in time at noon
    ("b", MONDAY_10AM, "approve", 10),
    ("a", FRIDAY, "approve", 5),
    ("a", THURSDAY, "approve", 40),
    ("b", FRIDAY, "approve", 5),
    ("b", FRIDAY, None, 0),  # overdue since Friday
)


async def seed_cases(desk: Desk, agent_b: Actor) -> list[Case]:
    """Cases in several states today and on earlier days, in both branches (C8, S1)."""
    rows = []
    for seed, (who, at, decision, after) in enumerate(PLAN):
        agent, reviewer = (desk.agent, desk.reviewer) if who == "a" else (agent_b, desk.outsider)
        case = await submitted_case(desk, seed=seed, at=at, agent=agent)
        moment = at + minutes(after)
        if decision == "approve":
            await seen(reviewer, case.id)
            await review.approve(reviewer, case.id, desk.ctx, moment)
        elif decision == "return":
            await review.return_case(reviewer, case.id, ["unclear_image"], "", desk.ctx,
                                     now=moment)
        elif decision == "reject":
            await review.reject(reviewer, case.id, "identity_doubt", "", desk.ctx, moment)
        rows.append(case)
    return rows


async def seed_vouchers(desk: Desk, agent_b: Actor) -> None:
    """Stock in both outlets' vaults, allocations to both boxes, one void waiting, and
    today's day-end count answered in branch a only (V1, V3, V6)."""
    key = await voucher_stock.define_voucher_type(desk.ops, "USB_KEY", VoucherTypeForm(
        "网银盾", "E-banking USB key", r"UK\d{8}", "none"))
    for outlet, first, last, allocated in (("outlet_a", 1, 10, 4), ("outlet_b", 11, 16, 2)):
        org_id = desk.ids[outlet]
        await voucher_stock.receive_range(desk.ops, org_id, key.id, f"UK{first:08d}",
                                          f"UK{last:08d}")
        await voucher_stock.set_cap(desk.ops, org_id, key.id, 50)
        agent = desk.agent if outlet == "outlet_a" else agent_b
        box = await tail_boxes.box_for_device((await Device.get(holder_id=agent.staff_id)).id)
        await voucher_stock.allocate(desk.ops, box.id, key.id, count=allocated)
    await voids.request_void(desk.ops, ["UK00000010"], VoidKind.EXPIRED, "有效期已过")
    await day_end_counts.request_day_end_counts(NOW)
    box_a = await TailBox.get(holder_id=desk.agent.staff_id)
    count = await BoxCount.get(box_id=box_a.id, kind=CountKind.DAY_END)
    await voucher_counts.answer_count(desk.agent, count.id,
                                      await tail_boxes.expected_in_box(box_a.id), NOW)


async def seed_ledgers(desk: Desk, agent_b: Actor) -> None:
    """A lost tablet with its open incident (branch a), a tablet unconfirmed for 25 hours
    (branch b), qualifications expiring and suspended in both branches (D1, D3, Q5)."""
    agent_c = await bound_agent(desk.ids["outlet_a"], "F003")
    lost = await Device.get(holder_id=agent_c.staff_id)
    await incidents.report_loss(agent_c, LossReport("device", lost.asset_tag, None, "地铁",
                                                    "下车时遗落"))
    agent_d, _ = await person(desk.ids["outlet_b"], Role.FIELD_AGENT, no="F004")
    await qualification_basis.record_counter_qualification(ROOT, agent_d.id, "GT-F004",
                                                      date(2020, 1, 6))
    await qualifications.grant(ROOT, agent_d.id, [desk.plain_type_id], QualificationBasis.COUNTER)
    late = await devices.register_device(ROOT, devices.DeviceForm(
        asset_tag="PAD-LATE", serial="SN-LATE", imei=None, model="MatePad", purchase_date=None,
        org_id=desk.ids["outlet_b"]))
    await devices.issue_device(ROOT, late.id, agent_d.id)
    await Device.filter(id=late.id).update(issued_at=NOW - timedelta(hours=25))
    await Qualification.filter(staff_id=desk.agent.staff_id, business_type_id=desk.plain_type_id
                               ).update(valid_until=TODAY + timedelta(days=10))
    await Qualification.filter(staff_id=agent_b.staff_id).update(
        valid_until=TODAY + timedelta(days=45))
    for staff_id in (agent_c.staff_id, agent_d.id):
        grant = await Qualification.filter(staff_id=staff_id).first()
        assert grant is not None
        await qualifications.suspend(desk.ops, grant.id, "整改期间暂停")


async def seed_calendar(desk: Desk, cases: list[Case]) -> None:
    """Vault inspections due, overdue and done; callbacks due, overdue and completed with a
    satisfaction (V5, K1)."""
    boxes = {box.org_id: box for box in await TailBox.all()}  # type: ignore[attr-defined]
    box_a, box_b = boxes[desk.ids["outlet_a"]], boxes[desk.ids["outlet_b"]]
    moment = datetime(2026, 11, 1, tzinfo=ZONE)
    for box, kind, period, status, due in (
            (box_a, InspectionKind.MONTHLY, "2026-11", InspectionStatus.SCHEDULED, "2026-11-30"),
            (box_a, InspectionKind.SURPRISE, "S-1", InspectionStatus.OVERDUE, "2026-11-20"),
            (box_b, InspectionKind.MONTHLY, "2026-11", InspectionStatus.COMPLETED, "2026-11-30"),
            (box_b, InspectionKind.MONTHLY, "2026-10", InspectionStatus.OVERDUE, "2026-10-31"),
            (box_b, InspectionKind.SURPRISE, "S-2", InspectionStatus.IN_PROGRESS, "2026-11-25"),
            (box_a, InspectionKind.MONTHLY, "2026-12", InspectionStatus.SCHEDULED, "2026-12-31")):
        await Inspection.create(kind=kind, period=period, box=box, org_id=box.org_id,  # type: ignore[attr-defined]
                                status=status, created_at=moment,
                                due_at=datetime.fromisoformat(f"{due}T17:00+08:00"))
    for index, status, due, satisfaction, completed in (
            (0, CallbackStatus.SCHEDULED, NOW + timedelta(hours=3), None, None),
            (6, CallbackStatus.ATTEMPTED, MONDAY_10AM - timedelta(hours=1), None, None),
            (7, CallbackStatus.COMPLETED, FRIDAY + timedelta(hours=6), 4,
             FRIDAY + timedelta(hours=5)),
            (8, CallbackStatus.COMPLETED, FRIDAY + timedelta(hours=6), 2,
             FRIDAY + timedelta(hours=6)),
            (5, CallbackStatus.COMPLETED, NOW + timedelta(hours=3), 5, MONDAY_10AM + minutes(60))):
        case = cases[index]
        await Callback.create(
            case=case, org_id=case.org_id, business_type_id=case.business_type_id,  # type: ignore[attr-defined]
            field_agent_id=case.agent_id, status=status, draw=1, scheduled_at=due,  # type: ignore[attr-defined]
            due_at=due, satisfaction=satisfaction, completed_at=completed, created_at=moment)


@pytest.fixture
async def world(database_url: str, tmp_path: Path, test_clock: SteadyClock) -> World:
    """The seeded world, its pages read at its own noon whatever moment the suite runs at."""
    test_clock.move_to(NOW)
    desk = await build_desk(tmp_path)
    agent_b = await bound_agent(desk.ids["outlet_b"], "F002")
    cases = await seed_cases(desk, agent_b)
    await seed_vouchers(desk, agent_b)
    await seed_ledgers(desk, agent_b)
    await seed_calendar(desk, cases)
    return World(desk, agent_b, cases)


def cards(page: str) -> dict[str, tuple[str, str]]:
    """Caption → (link, figure) of every card on the dashboard."""
    return {caption: (href.replace("&amp;", "&"), figure) for href, figure, caption in re.findall(
        r'<a class="card[^"]*" href="([^"]+)">\s*<span class="figure">([^<]*)</span>\s*'
        r'<span class="caption">([^<]*)</span>', page)}
