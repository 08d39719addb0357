"""Forms that help: drop-downs offer only eligible choices (the service still refuses the
others), and a refused post redirects back (post/redirect/get) with the message and the typed
values shown once, so a refresh sends nothing again."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable
from datetime import date

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from domain.cases import business_types
from domain.cases.business_types import MANDATORY_PHOTO_KINDS, BusinessTypeForm
from domain.ledgers import devices, qualifications
from domain.ledgers.devices import DeviceForm
from domain.models import Device, DeviceState, Role, Staff, TrainingRecord, WebSession
from domain.vouchers import tail_boxes
from domain.vouchers.voucher_stock import HOLDER_UNQUALIFIED
from tests.admin_support import csrf_token, session, zh
from tests.factories import ROOT, operational, org_tree, person


@pytest.fixture
async def ids(database_url: str) -> dict[str, int]:
    found = await org_tree()
    await business_types.create_business_type(
        ROOT, "DEBIT_CARD", BusinessTypeForm("借记卡开户", "Debit card opening",
                                             frozenset(MANDATORY_PHOTO_KINDS)))
    return found


async def post(client: TestClient, url: str, data: dict[str, str], page: str
               ) -> ClientResponse:
    """Post a form as a browser does, without following the answer's redirect."""
    fields = [*data.items(), ("csrf_token", await csrf_token(client, page))]
    return await client.post(url, data=fields, allow_redirects=False)


def offered(page: str, select: str) -> set[int]:
    """The ids a select of a page offers (its empty choice left out)."""
    found = re.search(rf'<select name="{select}"[^>]*>(.*?)</select>', page, re.S)
    assert found, page
    return {int(value) for value in re.findall(r'<option value="(\d+)"', found.group(1))}


async def test_a_tablet_is_offered_only_to_qualified_agents_of_its_org_without_one(
        ids: dict[str, int]) -> None:
    eligible, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001", name="张三")
    unqualified, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F002", name="王五")
    elsewhere, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F003", name="李四")
    holder, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F004", name="赵六")
    await operational(eligible, tablet=False)
    await operational(elsewhere, tablet=False)
    await operational(holder)
    tablet = await devices.register_device(ROOT, DeviceForm(
        "PAD09999", "SN9999", None, "Huawei MatePad", date(2025, 3, 1), ids["branch_a"]))
    async with session(ids["province"], Role.IT_ADMIN, "I001") as client:
        page = await (await client.get(f"/devices/{tablet.id}")).text()
        listed = await (await client.get("/devices")).text()
        forced = await post(client, f"/devices/{tablet.id}/issue",
                            {"staff_id": str(unqualified.id)}, page=f"/devices/{tablet.id}")
        shown = await (await client.get(forced.headers["Location"])).text()
    assert offered(page, "staff_id") == {eligible.id}
    assert offered(listed, f"issue_to_{tablet.id}") == {eligible.id}
    assert forced.status == 303 and forced.headers["Location"] == f"/devices/{tablet.id}"
    assert zh("%(name)s holds no active qualification; a tablet is issued only to a qualified "
              "field agent.", name="王五") in shown
    assert (await Device.get(id=tablet.id)).state == DeviceState.IN_STOCK


async def statements(call: Awaitable[object]) -> int:
    """How many statements a call sends to the database (Tortoise logs each one)."""
    sent: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = sent.append  # type: ignore[method-assign]
    logger = logging.getLogger("tortoise.db_client")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        await call
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return len(sent)


async def test_the_agents_a_tablet_may_go_to_take_the_same_queries_for_two_or_eight(
        ids: dict[str, int]) -> None:
    _, it_admin = await person(ids["province"], Role.IT_ADMIN, no="I001")
    tablet = await devices.register_device(ROOT, DeviceForm(
        "PAD09999", "SN9999", None, "Huawei MatePad", date(2025, 3, 1), ids["branch_a"]))
    for number in range(1, 9):
        if number == 3:
            few = await statements(devices.eligible_holders(it_admin, [tablet]))
        agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no=f"F{number:03d}")
        await operational(agent, tablet=False)
    many = await statements(devices.eligible_holders(it_admin, [tablet]))
    assert len((await devices.eligible_holders(it_admin, [tablet]))[tablet.id]) == 8
    assert many == few


async def test_a_box_that_may_not_receive_shows_why_instead_of_the_allocation_form(
        ids: dict[str, int]) -> None:
    ready, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001", name="张三")
    suspended, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F002", name="王五")
    for agent in (ready, suspended):
        await operational(agent)
    await qualifications.suspend_all_for_staff(ROOT, suspended.id, "整改中")
    boxes = {agent.id: await tail_boxes.box_for_device((await Device.get(holder=agent)).id)
             for agent in (ready, suspended)}
    async with session(ids["province"], Role.OPS_ADMIN, "O001") as client:
        pages = {agent_id: await (await client.get(f"/vouchers/boxes/{box.id}")).text()
                 for agent_id, box in boxes.items()}
    assert f"/vouchers/boxes/{boxes[ready.id].id}/allocate" in pages[ready.id]
    assert f"/vouchers/boxes/{boxes[suspended.id].id}/allocate" not in pages[suspended.id]
    device = await Device.get(holder=suspended)
    assert zh(HOLDER_UNQUALIFIED, holder="F002 王五", asset_tag=device.asset_tag) in pages[
        suspended.id]


async def test_a_refused_form_redirects_and_shows_the_message_and_typed_values_once(
        ids: dict[str, int]) -> None:
    await devices.register_device(ROOT, DeviceForm(
        "PAD00001", "SN1", None, "Huawei MatePad", date(2025, 3, 1), ids["branch_a"]))
    typed = {"asset_tag": "PAD00001", "serial": "SN-TYPED-2", "imei": "", "model": "平板型号X",
             "purchase_date": "2025-03-01", "org_id": str(ids["branch_a"])}
    async with session(ids["province"], Role.IT_ADMIN, "I001") as client:
        refused = await post(client, "/devices", typed, page="/devices")
        shown = await client.get(refused.headers["Location"])
        text = await shown.text()
        refreshed = await (await client.get("/devices")).text()
    assert refused.status == 303 and refused.headers["Location"] == "/devices"
    assert shown.status == 200
    message = zh("A tablet with asset tag %(value)s is already registered.", value="PAD00001")
    assert message in text and 'value="SN-TYPED-2"' in text and 'value="平板型号X"' in text
    assert message not in refreshed and "SN-TYPED-2" not in refreshed
    assert await Device.all().count() == 1


async def test_typed_values_stay_on_the_server_not_in_the_cookie(ids: dict[str, int]) -> None:
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001", name="张三")
    ledger = f"/staff/{agent.id}/qualifications"
    async with session(ids["province"], Role.OPS_ADMIN, "O001") as client:
        refused = await post(client, f"{ledger}/training", {
            "course": "移动展业合规培训" * 40, "completed_on": "2099-01-01", "hours": "8",
            "trainer": "培训师"}, page=ledger)
        cookie = refused.cookies["fieldops_admin"].value
        kept = await WebSession.filter(page_note__isnull=False).count()
        text = await (await client.get(ledger)).text()
    assert refused.status == 303 and kept == 1
    assert "移动展业合规培训" not in cookie and len(cookie) < 1000
    assert "移动展业合规培训" * 40 in text and 'value="培训师"' in text
    assert await WebSession.filter(page_note__isnull=False).count() == 0
    assert not await TrainingRecord.exists()


async def test_a_note_kept_for_one_page_is_not_shown_on_another(ids: dict[str, int]) -> None:
    async with session(ids["province"], Role.SYSADMIN, "S001") as client:
        refused = await post(client, "/staff/new", {
            "employee_no": "", "name": "新员工", "org_id": str(ids["branch_a"]),
            "roles": "field_agent"}, page="/staff/new")
        elsewhere = await (await client.get("/staff")).text()
        back = await (await client.get("/staff/new")).text()
    assert refused.status == 303 and refused.headers["Location"] == "/staff/new"
    assert zh("Employee number and name are required.") not in elsewhere
    assert 'value="新员工"' not in back  # taken by the first page shown, once
    assert not await Staff.filter(name="新员工").exists()
