"""The capture gate holds to the end (issue 11): checked again when a voucher is reserved and
when the case is submitted, the case keeps the tablet it was captured with (D2), one Q1 check
on the business date for every caller, and the domain says what is missing (C11)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from admin_web.app import AdminConfig
from domain.cases import capture_gate, case_summaries, cases
from domain.cases.capture_gate import WorkingHours
from domain.ledgers import devices, incidents, qualifications
from domain.models import (
    Case,
    CaseStatus,
    Device,
    PhotoKind,
    Qualification,
    Role,
    TailBox,
    Voucher,
    VoucherState,
)
from domain.platform.errors import DomainError
from domain.vouchers import case_vouchers, tail_boxes, voucher_counts, voucher_stock
from tests.admin_support import admin_site, log_in
from tests.factories import ROOT, operational, person, web_user
from tests.review_support import photo
from tests.voucher_support import World, agent_with_box, card, voucher_world

ZONE = ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=ZONE).astimezone(UTC)
AFTER_HOURS = datetime(2026, 11, 23, 17, 45, tzinfo=ZONE).astimezone(UTC)
LAST_DAY = date(2026, 11, 23)  # the last day a qualification is valid in the Q1 tests
TUESDAY_1AM = datetime(2026, 11, 24, 1, 0, tzinfo=ZONE).astimezone(UTC)  # 11-23 17:00 UTC
MONDAY_2330 = datetime(2026, 11, 23, 23, 30, tzinfo=ZONE).astimezone(UTC)
ALWAYS = WorkingHours(weekdays=frozenset(range(7)), start=time(0, 0), end=time(23, 59, 59))
ID_NUMBER = "11010519491231002X"
MOBILE = "13812345678"
KINDS = (PhotoKind.ID_FRONT, PhotoKind.ID_BACK, PhotoKind.ONSITE_WITH_AGENT)
TABLET_LOST = ("A device loss you reported (incident #%(incident)s) is still open. You can "
               "capture cases again once an administrator closes it or issues you another "
               "tablet.")
OUT_OF_HOURS = ("Cases can be captured only in working hours (%(start)s to %(end)s on working "
                "days). Outside them, ask for a special approval first.")


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> World:
    w = await voucher_world(tmp_path / "media")
    await voucher_stock.set_cap(w.ops, w.ids["outlet_a"], w.card_type.id, 50)
    await voucher_stock.receive_range(w.ops, w.ids["outlet_a"], w.card_type.id, card(1), card(10),
                                      MONDAY_10AM)
    await voucher_stock.allocate(w.ops, w.box.id, w.card_type.id, count=5, now=MONDAY_10AM)
    return w


async def refusal(call, *args, **kwargs) -> DomainError:  # type: ignore[no-untyped-def]
    """The DomainError a service call raises."""
    with pytest.raises(DomainError) as refused:
        await call(*args, **kwargs)
    return refused.value


async def draft_with_photos(w: World) -> Case:
    """A draft started at Monday 10:00 with the customer and every photo, no voucher yet."""
    case = await cases.start_draft(w.agent, w.business_type_id, w.ctx, MONDAY_10AM)
    await cases.set_customer(w.agent, case.id, "张三", ID_NUMBER, MOBILE, w.ctx)
    for index, kind in enumerate(KINDS):
        await cases.add_photo(w.agent, case.id, kind, photo(index), f"{kind}.jpg",
                              "image/jpeg", w.ctx)
    return case


async def ready_draft(w: World) -> Case:
    """A complete draft: customer, photos, the voucher handed over, the risk hints given."""
    case = await draft_with_photos(w)
    await cases.set_voucher(w.agent, case.id, card(1), w.ctx, MONDAY_10AM)
    await cases.confirm_risk_hint(w.agent, case.id)
    return case


async def not_submitted(case: Case) -> bool:
    """The case is still a draft without a number and its serial stays reserved."""
    row = await Case.get(id=case.id)
    return row.status == CaseStatus.DRAFT and row.case_no is None


async def test_a_suspended_qualification_refuses_the_reservation_and_the_submission(
        world: World) -> None:
    w = world
    [qualification] = await Qualification.filter(staff_id=w.agent.staff_id)
    case = await draft_with_photos(w)
    await qualifications.suspend(w.ops, qualification.id, "凭证遗失，待整改", MONDAY_10AM)
    refused = await refusal(cases.set_voucher, w.agent, case.id, card(1), w.ctx, MONDAY_10AM)
    assert (refused.key, refused.params) == (qualifications.GATE_SUSPENDED, {
        "business_type": "借记卡开户", "reason": "凭证遗失，待整改"})
    assert not await Voucher.exists(state=VoucherState.RESERVED)
    await qualifications.reinstate(w.ops, qualification.id, "已整改", MONDAY_10AM)
    await cases.set_voucher(w.agent, case.id, card(1), w.ctx, MONDAY_10AM)
    await cases.confirm_risk_hint(w.agent, case.id)
    await qualifications.suspend(w.ops, qualification.id, "客户投诉待查", MONDAY_10AM)
    refused = await refusal(cases.submit, w.agent, case.id, w.ctx, MONDAY_10AM)
    assert (refused.key, refused.params["reason"]) == (qualifications.GATE_SUSPENDED,
                                                        "客户投诉待查")
    assert await not_submitted(case)


async def test_a_tablet_reported_lost_refuses_the_reservation_and_the_submission(
        world: World) -> None:
    w = world
    case = await draft_with_photos(w)
    await cases.confirm_risk_hint(w.agent, case.id)
    incident = await incidents.report_loss(w.agent, incidents.LossReport(
        "device", w.asset_tag, None, "地铁二号线", "下车时遗落"), MONDAY_10AM)
    reserving = await refusal(cases.set_voucher, w.agent, case.id, card(1), w.ctx, MONDAY_10AM)
    submitting = await refusal(cases.submit, w.agent, case.id, w.ctx, MONDAY_10AM)
    for refused in (reserving, submitting):
        assert (refused.key, refused.params) == (TABLET_LOST, {"incident": incident.id})
    assert await not_submitted(case)


async def test_the_end_of_working_hours_refuses_the_reservation_and_the_submission(
        world: World) -> None:
    w = world
    case = await draft_with_photos(w)
    await cases.confirm_risk_hint(w.agent, case.id)
    refused = await refusal(cases.set_voucher, w.agent, case.id, card(1), w.ctx, AFTER_HOURS)
    assert (refused.key, refused.params) == (OUT_OF_HOURS, {"start": "08:30", "end": "17:30"})
    await cases.set_voucher(w.agent, case.id, card(1), w.ctx, AFTER_HOURS - timedelta(hours=1))
    refused = await refusal(cases.submit, w.agent, case.id, w.ctx, AFTER_HOURS)
    assert refused.key == OUT_OF_HOURS
    assert await not_submitted(case)
    submitted = await cases.submit(w.agent, case.id, w.ctx, AFTER_HOURS - timedelta(minutes=20))
    assert submitted.status == CaseStatus.SUBMITTED


async def test_the_case_keeps_its_tablet_and_the_admin_case_page_shows_it(
        world: World, tmp_path: Path) -> None:
    w = world
    case = await ready_draft(w)
    device = await Device.get(asset_tag=w.asset_tag)
    assert (await Case.get(id=case.id)).device_id == device.id  # type: ignore[attr-defined]
    await cases.submit(w.agent, case.id, w.ctx, MONDAY_10AM)
    _, username = await web_user(w.ids["branch_a"], Role.REVIEWER, no="R001")
    async with admin_site(AdminConfig(secret_key="test-secret", capture=w.ctx)) as client:
        await log_in(client, username)
        page = await (await client.get(f"/cases/{case.id}")).text()
    assert f'<dd class="case-device">{w.asset_tag}</dd>' in page


async def test_a_draft_started_with_another_tablet_is_not_submitted(world: World) -> None:
    w = world
    case = await ready_draft(w)
    first = await Device.get(asset_tag=w.asset_tag)
    await case_vouchers.release_for_case(w.agent, case.id, MONDAY_10AM)
    await devices.return_device(ROOT, first.id, "换机", MONDAY_10AM)
    second = await devices.register_device(ROOT, devices.DeviceForm(
        asset_tag="PAD09999", serial="SN09999999", imei=None, model="Huawei MatePad",
        purchase_date=date(2025, 3, 1), org_id=w.ids["outlet_a"]))
    await devices.issue_device(ROOT, second.id, w.agent.staff_id or 0, now=MONDAY_10AM)
    await devices.confirm_receipt(w.agent, second.id, MONDAY_10AM)
    refused = await refusal(cases.submit, w.agent, case.id, w.ctx, MONDAY_10AM)
    assert (refused.key, refused.params) == (capture_gate.OTHER_TABLET, {
        "started": w.asset_tag, "now": "PAD09999"})
    assert await not_submitted(case)


async def test_submission_without_the_risk_hints_is_refused_by_the_domain(world: World) -> None:
    w = world
    case = await draft_with_photos(w)
    await cases.set_voucher(w.agent, case.id, card(1), w.ctx, MONDAY_10AM)
    summary = await case_summaries.case_summary(w.agent, case.id, w.ctx)
    assert [(m.item, m.message) for m in summary.missing] == [
        (cases.ITEM_RISK, cases.MISSING_RISK_HINT)]
    refused = await refusal(cases.submit, w.agent, case.id, w.ctx, MONDAY_10AM)
    assert refused.key == cases.MISSING_RISK_HINT
    assert await not_submitted(case)
    await cases.confirm_risk_hint(w.agent, case.id)
    assert (await case_summaries.case_summary(w.agent, case.id, w.ctx)).missing == ()
    assert (await cases.submit(w.agent, case.id, w.ctx, MONDAY_10AM)).case_no


# --- Q1 on the business date: 01:00 in Shanghai is still the previous day in UTC ----------


async def last_valid_on(staff_id: int, day: date) -> None:
    """Every qualification of the staff member is valid until `day` (inclusive)."""
    await Qualification.filter(staff_id=staff_id).update(valid_until=day)


async def test_capture_refuses_at_one_in_the_morning_after_the_last_valid_day(
        world: World) -> None:
    w = world
    assert w.agent.staff_id is not None
    await last_valid_on(w.agent.staff_id, LAST_DAY)
    ctx = replace(w.ctx, hours=ALWAYS)
    await capture_gate.capture_gate(w.agent.staff_id, w.business_type_id, MONDAY_2330, ctx)
    refused = await refusal(capture_gate.capture_gate, w.agent.staff_id, w.business_type_id,
                            TUESDAY_1AM, ctx)
    assert (refused.key, refused.params["valid_until"]) == (qualifications.GATE_EXPIRED,
                                                            "2026-11-23")


async def test_device_issue_refuses_at_one_in_the_morning_after_the_last_valid_day(
        world: World) -> None:
    w = world
    agent, _ = await person(w.ids["outlet_a"], Role.FIELD_AGENT, no="F009")
    await operational(agent, tablet=False)
    await last_valid_on(agent.id, LAST_DAY)
    tablet = await devices.register_device(ROOT, devices.DeviceForm(
        asset_tag="PAD08888", serial="SN08888888", imei=None, model="Huawei MatePad",
        purchase_date=date(2025, 3, 1), org_id=w.ids["outlet_a"]))
    refused = await refusal(devices.issue_device, ROOT, tablet.id, agent.id, now=TUESDAY_1AM,
                            zone=ZONE)
    assert refused.key.startswith("%(name)s holds no active qualification")
    await devices.issue_device(ROOT, tablet.id, agent.id, now=MONDAY_2330, zone=ZONE)


async def test_allocation_refuses_at_one_in_the_morning_after_the_last_valid_day(
        world: World) -> None:
    w = world
    holder, box, _ = await agent_with_box(w.ids["outlet_a"], "F010")
    assert holder.staff_id is not None
    await last_valid_on(holder.staff_id, LAST_DAY)
    refused = await refusal(voucher_stock.allocate, w.ops, box.id, w.card_type.id, count=1,
                            now=TUESDAY_1AM)
    assert refused.key == voucher_stock.HOLDER_UNQUALIFIED
    await voucher_stock.allocate(w.ops, box.id, w.card_type.id, count=1, now=MONDAY_2330)


async def test_hand_over_refuses_at_one_in_the_morning_after_the_last_valid_day(
        world: World) -> None:
    w = world
    taker, _ = await person(w.ids["outlet_a"], Role.FIELD_AGENT, no="F011", name="王接收")
    await operational(taker, tablet=False)
    await last_valid_on(taker.id, LAST_DAY)
    box = await TailBox.get(id=w.box.id)
    counted = await tail_boxes.expected_in_box(box.id)
    refused = await refusal(voucher_counts.hand_over, w.agent, box.id, taker.id, counted,
                            TUESDAY_1AM, zone=ZONE)
    assert refused.key.startswith("%(name)s is not an active, qualified field agent")
    await voucher_counts.hand_over(w.agent, box.id, taker.id, counted, MONDAY_2330, zone=ZONE)
