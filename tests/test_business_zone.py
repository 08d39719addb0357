"""Every edge reads a qualification on the business date of the configured time zone (Q1):
a qualification valid through 8 December still holds at 21:30 on 8 December in New York,
though it is already 9 December in Shanghai, the default zone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.ledgers import devices
from domain.models import Device, Qualification, Role, Staff, Voucher, VoucherState
from domain.platform.actors import Actor
from domain.vouchers import tail_boxes, voucher_stock
from domain.vouchers.voucher_stock import VoucherTypeForm
from tests.admin_support import CONFIG, admin_site, log_in, submit
from tests.case_support import KINDS
from tests.clock_support import SteadyClock
from tests.factories import ROOT, operational, org_tree, person, web_user

# Wednesday 10:30 in Shanghai is Tuesday 21:30 in New York.
MOMENT = datetime(2026, 12, 9, 2, 30, tzinfo=UTC)
VALID_THROUGH = date(2026, 12, 8)


async def agent_valid_through_yesterday_in_shanghai(org_id: int, no: str,
                                                   tablet: bool) -> Staff:
    """A field agent whose every qualification ends on 8 December."""
    agent, _ = await person(org_id, Role.FIELD_AGENT, no=no, name=f"代理{no}")
    await operational(agent, tablet=tablet)
    await Qualification.filter(staff_id=agent.id).update(valid_until=VALID_THROUGH)
    return agent


async def card_stock(ops: Actor, org_id: int) -> int:
    """A USB-key voucher type with ten serials in the vault of the org, capped at ten."""
    key = await voucher_stock.define_voucher_type(ops, "USB_KEY", VoucherTypeForm(
        "网银盾", "E-banking USB key", r"\d{8}", "none"))
    await voucher_stock.set_cap(ops, org_id, key.id, 10)
    await voucher_stock.receive_range(ops, org_id, key.id, "10000001", "10000010")
    return key.id


@pytest.mark.parametrize(("zone", "holds"), [("America/New_York", True),
                                             ("Asia/Shanghai", False)])
async def test_allocation_and_tablet_issue_read_the_configured_business_date(
    database_url: str, test_clock: SteadyClock, zone: str, holds: bool
) -> None:
    test_clock.move_to(MOMENT)
    ids = await org_tree()
    await business_types.create_business_type(
        ROOT, "USB_KEY_OPEN", BusinessTypeForm("网银盾申领", "E-banking USB key",
                                               frozenset(KINDS)), voucher_type_code="USB_KEY")
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O001", name="钱运营")
    holder = await agent_valid_through_yesterday_in_shanghai(ids["outlet_a"], "F001", True)
    waiting = await agent_valid_through_yesterday_in_shanghai(ids["outlet_a"], "F002", False)
    key_id = await card_stock(ops, ids["outlet_a"])
    box = await tail_boxes.box_for_device((await Device.get(holder_id=holder.id)).id)
    tablet = await devices.register_device(ROOT, devices.DeviceForm(
        asset_tag="PAD09999", serial="SN09999", imei=None, model="Huawei MatePad",
        purchase_date=date(2025, 3, 1), org_id=ids["outlet_a"]))
    _, username = await web_user(ids["province"], Role.OPS_ADMIN, Role.IT_ADMIN, no="O002")
    async with admin_site(replace(CONFIG, business_timezone=zone)) as client:
        assert (await log_in(client, username)).url.path == "/"
        allocated = await submit(client, f"/vouchers/boxes/{box.id}/allocate", {
            "voucher_type_id": str(key_id), "count": "3"}, page=f"/vouchers/boxes/{box.id}")
        issued = await submit(client, f"/devices/{tablet.id}/issue", {
            "staff_id": str(waiting.id), "note": ""}, page=f"/devices/{tablet.id}")
    in_box = await Voucher.filter(box_id=box.id, state=VoucherState.IN_BOX).count()
    assert (allocated.status, in_box) == (200, 3 if holds else 0)  # refused: shown on the box
    await tablet.refresh_from_db()
    assert (tablet.holder_id == waiting.id) is holds
    assert issued.status == 200
