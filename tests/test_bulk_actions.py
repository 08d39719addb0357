"""Bulk actions in the admin: several voids signed, incidents closed, tablets issued at once,
each item through its own single-item service (its checks, transaction and audit row), with a
result per item on the page the browser is sent back to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest

from domain.cases import business_types
from domain.cases.business_types import MANDATORY_PHOTO_KINDS, BusinessTypeForm
from domain.ledgers import devices, incidents
from domain.ledgers.devices import DeviceForm
from domain.ledgers.incidents import LossReport
from domain.models import (
    AuditLog,
    Device,
    DeviceState,
    Incident,
    IncidentStatus,
    Role,
    Staff,
    VoidRequest,
)
from domain.platform import clock
from domain.platform.actors import Actor, actor_for
from domain.vouchers import tail_boxes, voids, voucher_stock
from domain.vouchers.voucher_stock import VoucherTypeForm
from tests.admin_support import session, submit, zh
from tests.factories import ROOT, operational, org_tree, person


@dataclass
class Branch:
    """Two branches, an ops admin, and a field agent in an outlet of each, able to capture."""

    ids: dict[str, int]
    ops: Actor
    agent_a: Staff
    agent_b: Staff


@pytest.fixture
async def branch(database_url: str) -> Branch:
    ids = await org_tree()
    await business_types.create_business_type(
        ROOT, "DEBIT_CARD", BusinessTypeForm("借记卡开户", "Debit card opening",
                                             frozenset(MANDATORY_PHOTO_KINDS)))
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O001", name="钱运营")
    agent_a, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001", name="张三")
    agent_b, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F002", name="李四")
    return Branch(ids, ops, agent_a, agent_b)


def results(page: str) -> dict[str, str]:
    """The per-item results of a bulk action on a page: label -> "done"/"refused"."""
    return {label: state for state, label in re.findall(
        r'<li class="bulk-item (done|refused)">.*?<strong>(.*?)</strong>', page, re.S)}


async def audited(action: str, object_type: str) -> list[str]:
    """The objects an audit action was recorded for, oldest first."""
    return await AuditLog.filter(action=action, object_type=object_type).order_by(
        "id").values_list("object_id", flat=True)


async def test_voids_signed_together_each_checked_and_audited_on_its_own(branch: Branch
                                                                        ) -> None:
    await operational(branch.agent_a)
    key = await voucher_stock.define_voucher_type(branch.ops, "USB_KEY", VoucherTypeForm(
        "网银盾", "E-banking USB key", r"\d{8}", "none"))
    await voucher_stock.set_cap(branch.ops, branch.ids["outlet_a"], key.id, 10)
    await voucher_stock.receive_range(branch.ops, branch.ids["outlet_a"], key.id, "10000001",
                                      "10000003")
    box = await tail_boxes.box_for_device((await Device.get(holder=branch.agent_a)).id)
    await voucher_stock.allocate(branch.ops, box.id, key.id, serials=["10000001", "10000002"])
    agent = await actor_for(branch.agent_a)
    first = await voids.report_lost_serials(agent, ["10000001"], "外出途中遗失")
    second = await voids.report_lost_serials(agent, ["10000002"], "外出途中遗失")
    async with session(branch.ids["branch_a"], Role.BUSINESS_HEAD, "B001") as client:
        await submit(client, f"/vouchers/voids/{first.id}/sign", {}, page="/vouchers/voids")
        page = await (await client.get("/vouchers/voids")).text()
        signed = await submit(client, "/vouchers/voids/sign",
                              [("ids", str(first.id)), ("ids", str(second.id))],
                              page="/vouchers/voids")
        shown = await signed.text()
        again = await (await client.get("/vouchers/voids")).text()
    assert 'action="/vouchers/voids/sign"' in page
    assert signed.status == 200 and signed.url.path == "/vouchers/voids"
    outcome = results(shown)
    assert [outcome[label] for label in sorted(outcome)] == ["refused", "done"]
    assert zh("Your signature is recorded.") in shown
    assert results(again) == {}  # shown once: a refresh shows the list, sends nothing
    second = await VoidRequest.get(id=second.id).prefetch_related("business_head_signed_by")
    assert second.business_head_signed_by is not None
    assert await audited("void.signed", "void_request") == [str(first.id), str(second.id)]


async def test_incidents_closed_together_one_refusal_undoes_nothing(branch: Branch) -> None:
    agent = await actor_for(branch.agent_a)
    moment = clock.utcnow()
    reported = [await incidents.report_loss(agent, LossReport(
        "papers", f"客户资料 {n}", moment, "地铁站", "遗失")) for n in (1, 2, 3)]
    await incidents.close_incident(branch.ops, reported[1].id, "已处理")
    async with session(branch.ids["province"], Role.OPS_ADMIN, "O002") as client:
        page = await (await client.get("/incidents")).text()
        closed = await submit(client, "/incidents/close", [
            ("ids", str(row.id)) for row in reported] + [("resolution", "已重新培训")],
            page="/incidents")
        shown = await closed.text()
    assert 'action="/incidents/close"' in page
    assert closed.url.path == "/incidents"
    assert sorted(results(shown).values()) == ["done", "done", "refused"]
    states = {row.id: row.status for row in await Incident.all()}
    assert [states[row.id] for row in reported] == [IncidentStatus.CLOSED] * 3
    assert (await Incident.get(id=reported[0].id)).resolution == "已重新培训"
    assert await audited("incident.closed", "incident") == [
        str(reported[1].id), str(reported[0].id), str(reported[2].id)]


async def test_tablets_issued_in_pairs_with_a_result_each(branch: Branch) -> None:
    await operational(branch.agent_a, tablet=False)
    await operational(branch.agent_b, tablet=False)
    tablets = [await devices.register_device(ROOT, DeviceForm(
        f"PAD0000{n}", f"SN{n}", None, "Huawei MatePad", date(2025, 3, 1),
        branch.ids["branch_a"])) for n in (1, 2)]
    async with session(branch.ids["province"], Role.IT_ADMIN, "I001") as client:
        page = await (await client.get("/devices")).text()
        issued = await submit(client, "/devices/issue", {
            f"issue_to_{tablets[0].id}": str(branch.agent_a.id),
            f"issue_to_{tablets[1].id}": str(branch.agent_a.id)}, page="/devices")
        shown = await issued.text()
    assert f'name="issue_to_{tablets[0].id}"' in page
    assert results(shown) == {"PAD00001": "done", "PAD00002": "refused"}
    assert zh("%(name)s already holds tablet %(asset_tag)s; it must be returned first.",
              name="张三", asset_tag="PAD00001") in shown
    states = {row.asset_tag: (row.state, row.holder_id) for row in await Device.all()}  # type: ignore[attr-defined]
    assert states == {"PAD00001": (DeviceState.ISSUED, branch.agent_a.id),
                      "PAD00002": (DeviceState.IN_STOCK, None)}
    assert await audited("device.issued", "device") == [str(tablets[0].id)]


async def test_a_bulk_action_with_nothing_ticked_says_so(branch: Branch) -> None:
    async with session(branch.ids["province"], Role.OPS_ADMIN, "O002") as client:
        sent = await submit(client, "/incidents/close", {"resolution": "x"}, page="/incidents")
        shown = await sent.text()
    assert sent.url.path == "/incidents" and zh("Tick at least one row first.") in shown
