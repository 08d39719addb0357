"""Qualification and device ledgers and incidents in the admin web (Q2–Q5, Q7, D1–D3, K2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from domain.cases import business_types
from domain.cases.business_types import MANDATORY_PHOTO_KINDS, BusinessTypeForm
from domain.ledgers import devices, idle_accounts, incidents, qualification_basis, qualifications
from domain.ledgers.devices import DeviceForm
from domain.ledgers.incidents import LossReport
from domain.models import (
    Device,
    DeviceEvent,
    DeviceState,
    Incident,
    IncidentStatus,
    Qualification,
    QualificationBasis,
    QualificationStatus,
    Role,
    Staff,
)
from domain.platform import clock
from domain.platform.actors import actor_for
from domain.platform.status_labels import status_label
from locales import translations
from tests.admin_support import sent_back, session, submit, zh
from tests.factories import ROOT, org_tree, person


@dataclass
class Ledgers:
    """Two branches with a field agent each and one business type."""

    ids: dict[str, int]
    type_id: int
    agent_a: Staff
    agent_b: Staff


@pytest.fixture
async def ledgers(database_url: str) -> Ledgers:
    ids = await org_tree()
    debit = await business_types.create_business_type(
        ROOT, "DEBIT_CARD", BusinessTypeForm("借记卡开户", "Debit card opening",
                                             frozenset(MANDATORY_PHOTO_KINDS)))
    agent_a, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001", name="张三")
    agent_b, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F002", name="李四")
    return Ledgers(ids, debit.id, agent_a, agent_b)




async def qualified(agent: Staff, type_id: int) -> None:
    """Give a field agent the counter qualification and a grant on it (Q2)."""
    await qualification_basis.record_counter_qualification(ROOT, agent.id, f"GT{agent.employee_no}",
                                                      date(2020, 1, 6))
    await qualifications.grant(ROOT, agent.id, [type_id], QualificationBasis.COUNTER)


async def tablet(org_id: int, tag: str = "PAD00001") -> Device:
    """A tablet registered in stock."""
    return await devices.register_device(ROOT, DeviceForm(
        asset_tag=tag, serial=f"SN-{tag}", imei=None, model="Huawei MatePad",
        purchase_date=date(2025, 3, 1), org_id=org_id))


def register_row(page: str, kind: str) -> str:
    """The register row of one event kind on a device page."""
    found = re.search(rf'<tr class="event-{kind}">(.*?)</tr>', page, re.S)
    assert found, page
    return found.group(1)


async def test_auditor_reads_the_ledgers_but_cannot_change_them(ledgers: Ledgers) -> None:
    await qualified(ledgers.agent_a, ledgers.type_id)
    device = await tablet(ledgers.ids["branch_a"])
    ledger = f"/staff/{ledgers.agent_a.id}/qualifications"
    async with session(ledgers.ids["province"], Role.AUDITOR, "A001") as client:
        pages = {path: await client.get(path) for path in (
            "/qualifications", ledger, "/devices", f"/devices/{device.id}", "/incidents",
            f"/staff/{ledgers.agent_a.id}")}
        texts = {path: await response.text() for path, response in pages.items()}
        suspend = await submit(client, f"{ledger}/{(await Qualification.get()).id}/suspend",
                               {"reason": "检查"}, page=ledger)
        registered = await submit(client, "/devices", {
            "asset_tag": "PAD00009", "serial": "SN9", "model": "M", "org_id":
            str(ledgers.ids["branch_a"])}, page="/devices")
    assert all(response.status == 200 for response in pages.values())
    assert "张三" in texts["/qualifications"] and "PAD00001" in texts["/devices"]
    assert "/grant" not in texts[ledger] and "/suspend" not in texts[ledger]
    staff_page = texts[f"/staff/{ledgers.agent_a.id}"]
    assert f'href="{ledger}"' in staff_page
    assert f'href="/devices?holder_id={ledgers.agent_a.id}"' in staff_page
    assert 'method="post" action="/devices"' not in texts["/devices"]
    assert f"/devices/{device.id}/issue" not in texts[f"/devices/{device.id}"]
    assert (suspend.status, registered.status) == (403, 403)
    assert (await Qualification.get()).status == QualificationStatus.ACTIVE
    assert await Device.all().count() == 1


async def test_it_admin_manages_devices_but_not_qualifications(ledgers: Ledgers) -> None:
    ledger = f"/staff/{ledgers.agent_a.id}/qualifications"
    async with session(ledgers.ids["branch_a"], Role.IT_ADMIN, "I001") as client:
        nav = await (await client.get("/")).text()
        refused = await client.get(ledger)
        counter = await submit(client, f"{ledger}/counter", {
            "certificate_no": "GT1", "obtained_on": "2020-01-06"}, page="/devices")
        registered = await submit(client, "/devices", {
            "asset_tag": "PAD00001", "serial": "SN1", "imei": "", "model": "Huawei MatePad",
            "purchase_date": "2025-03-01", "org_id": str(ledgers.ids["branch_a"])},
            page="/devices")
        page = await registered.text()
    assert 'href="/devices"' in nav and 'href="/qualifications"' not in nav
    assert (refused.status, counter.status) == (403, 403)
    assert (await qualifications.staff_ledger(ROOT, ledgers.agent_a.id))["counter"] == []
    device = await Device.get(asset_tag="PAD00001")
    assert registered.url.path == f"/devices/{device.id}"
    assert zh("Tablet %(asset_tag)s registered.", asset_tag="PAD00001") in page


async def test_ops_admin_manages_qualifications_but_not_devices(ledgers: Ledgers) -> None:
    device = await tablet(ledgers.ids["branch_a"])
    ledger = f"/staff/{ledgers.agent_a.id}/qualifications"
    async with session(ledgers.ids["branch_a"], Role.OPS_ADMIN, "O001") as client:
        recorded = await submit(client, f"{ledger}/counter", {
            "certificate_no": "GT-0001", "obtained_on": "2020-01-06"}, page=ledger)
        recorded_page = await recorded.text()
        device_page = await (await client.get(f"/devices/{device.id}")).text()
        retired = await submit(client, f"/devices/{device.id}/retire", {"note": "旧"},
                               page="/devices")
    assert recorded.url.path == ledger
    assert zh("Counter qualification recorded.") in recorded_page and "GT-0001" in recorded_page
    assert f"/devices/{device.id}/retire" not in device_page
    assert retired.status == 403
    assert (await Device.get(id=device.id)).state == DeviceState.IN_STOCK


async def test_another_branch_device_and_staff_ledger_are_out_of_reach(ledgers: Ledgers
                                                                        ) -> None:
    await qualified(ledgers.agent_b, ledgers.type_id)
    theirs = await tablet(ledgers.ids["branch_b"])
    async with session(ledgers.ids["branch_a"], Role.IT_ADMIN, "I001") as client:
        device_page = await client.get(f"/devices/{theirs.id}")
        device_text = await device_page.text()
        issued = await submit(client, f"/devices/{theirs.id}/issue",
                              {"staff_id": str(ledgers.agent_b.id)}, page="/devices")
        listed = await (await client.get("/devices")).text()
    async with session(ledgers.ids["branch_a"], Role.OPS_ADMIN, "O001") as client:
        ledger = await client.get(f"/staff/{ledgers.agent_b.id}/qualifications")
        ledger_text = await ledger.text()
        listed_qualifications = await (await client.get("/qualifications")).text()
    assert (device_page.status, issued.status, ledger.status) == (404, 404, 404)
    assert "PAD00001" not in device_text and "李四" not in ledger_text
    assert "PAD00001" not in listed and "李四" not in listed_qualifications
    assert (await Device.get(id=theirs.id)).state == DeviceState.IN_STOCK


async def test_grant_without_its_basis_is_refused_with_what_is_missing(ledgers: Ledgers
                                                                        ) -> None:
    ledger = f"/staff/{ledgers.agent_a.id}/qualifications"
    async with session(ledgers.ids["branch_a"], Role.OPS_ADMIN, "O001") as client:
        on_counter = await submit(client, f"{ledger}/grant", {
            "business_type_ids": str(ledgers.type_id), "basis": "counter"}, page=ledger)
        counter_page = await on_counter.text()
        on_training = await submit(client, f"{ledger}/grant", {
            "business_type_ids": str(ledgers.type_id), "basis": "training_and_exam"},
            page=ledger)
        training_page = await on_training.text()
    assert sent_back(on_counter, ledger) and sent_back(on_training, ledger)
    assert zh(qualifications.NO_COUNTER, staff="F001 张三") in counter_page
    assert zh(qualifications.NO_TRAINING, staff="F001 张三") in training_page
    assert not await Qualification.exists()


async def test_grant_on_training_and_a_passed_exam(ledgers: Ledgers) -> None:
    ledger = f"/staff/{ledgers.agent_a.id}/qualifications"
    valid_until = (clock.utcnow().date() + timedelta(days=365)).isoformat()
    async with session(ledgers.ids["branch_a"], Role.OPS_ADMIN, "O001") as client:
        await submit(client, f"{ledger}/training", {
            "course": "移动展业岗前培训", "completed_on": "2026-01-10", "hours": "16",
            "trainer": "王老师"}, page=ledger)
        await submit(client, f"{ledger}/exams", {
            "exam": "移动展业考试", "taken_on": "2026-01-12", "score": "58",
            "pass_mark": "60"}, page=ledger)
        failed = await submit(client, f"{ledger}/grant", {
            "business_type_ids": str(ledgers.type_id), "basis": "training_and_exam"},
            page=ledger)
        failed_page = await failed.text()
        await submit(client, f"{ledger}/exams", {
            "exam": "移动展业补考", "taken_on": "2026-01-20", "score": "85",
            "pass_mark": "60"}, page=ledger)
        ledger_data = await qualifications.staff_ledger(ROOT, ledgers.agent_a.id)
        passed = next(row for row in ledger_data["exams"] if row.passed)
        granted = await submit(client, f"{ledger}/grant", [
            ("business_type_ids", str(ledgers.type_id)), ("basis", "training_and_exam"),
            ("training_id", str(ledger_data["training"][0].id)), ("exam_id", str(passed.id)),
            ("valid_until", valid_until)], page=ledger)
        page = await granted.text()
    assert sent_back(failed, ledger)
    assert zh(qualifications.EXAM_FAILED, exam="移动展业考试", score="58.0",
              pass_mark="60.0") in failed_page
    assert granted.url.path == ledger
    row = await Qualification.get(staff_id=ledgers.agent_a.id)
    assert row.status == QualificationStatus.ACTIVE and row.valid_until.isoformat() == valid_until
    assert zh("Qualifications granted: %(count)s.", count=1) in page
    assert all(text in page for text in ("移动展业岗前培训", "王老师", zh("failed"), zh("passed"),
                                         valid_until, zh("Granted")))
    assert translations("zh_CN").pgettext(*status_label(QualificationStatus, row.status)) in page


async def test_suspend_and_withdraw_for_good_from_the_ledger(ledgers: Ledgers) -> None:
    await qualified(ledgers.agent_a, ledgers.type_id)
    row = await Qualification.get(staff_id=ledgers.agent_a.id)
    ledger = f"/staff/{ledgers.agent_a.id}/qualifications"
    async with session(ledgers.ids["branch_a"], Role.OPS_ADMIN, "O001") as client:
        suspended = await submit(client, f"{ledger}/{row.id}/suspend",
                                 {"reason": "尾箱凭证管理不严"}, page=ledger)
        suspended_page = await suspended.text()
        again = await submit(client, f"{ledger}/{row.id}/suspend", {"reason": "再次"},
                             page=ledger)
        again_page = await again.text()
        withdrawn = await submit(client, f"{ledger}/{row.id}/withdraw", {
            "reason": "malicious_operation", "note": "恶意操作"}, page=ledger)
        withdrawn_page = await withdrawn.text()
        regrant = await submit(client, f"{ledger}/grant", {
            "business_type_ids": str(ledgers.type_id), "basis": "counter"}, page=ledger)
        regrant_page = await regrant.text()
    assert zh("Qualification suspended.") in suspended_page
    assert zh("Suspended") in suspended_page and "尾箱凭证管理不严" in suspended_page
    assert sent_back(again, ledger)
    assert zh("Only an active qualification can be suspended.") in again_page
    assert zh("Qualification withdrawn for good.") in withdrawn_page
    assert zh("Withdrawn for good") in withdrawn_page and "恶意操作" in withdrawn_page
    assert sent_back(regrant, ledger)
    assert zh(qualifications.PERMANENT_REFUSAL[qualifications.WithdrawalReason
                                               .MALICIOUS_OPERATION],
              staff="F001 张三") in regrant_page
    assert (await Qualification.get(id=row.id)).status == QualificationStatus.REVOKED_PERMANENTLY


async def test_register_issue_and_return_a_tablet_from_the_pages(ledgers: Ledgers) -> None:
    await qualified(ledgers.agent_a, ledgers.type_id)
    async with session(ledgers.ids["branch_a"], Role.IT_ADMIN, "I001") as client:
        registered = await submit(client, "/devices", {
            "asset_tag": "PAD00007", "serial": "SN7", "imei": "490154203237518",
            "model": "Huawei MatePad", "purchase_date": "2025-03-01",
            "org_id": str(ledgers.ids["sub_a"])}, page="/devices")
        device_page = registered.url.path
        in_stock = await registered.text()
        issued = await submit(client, f"{device_page}/issue", {
            "staff_id": str(ledgers.agent_a.id), "note": "新机领用"}, page=device_page)
        issued_page = await issued.text()
        returned = await submit(client, f"{device_page}/return", {"note": "调岗归还"},
                                page=device_page)
        page = await returned.text()
    assert 'name="staff_id"' in in_stock and "F001 张三" in in_stock
    assert zh("Tablet %(asset_tag)s issued. The field agent is asked to confirm receipt in "
              "chat.", asset_tag="PAD00007") in issued_page
    assert zh("Waiting for the holder to confirm in chat") in issued_page
    assert zh("Tablet %(asset_tag)s returned to stock.", asset_tag="PAD00007") in page
    for kind, note in (("issued", "新机领用"), ("returned", "调岗归还")):
        row = register_row(page, kind)
        assert "F001 张三" in row and "I001 员工I001" in row and note in row
    assert (await Device.get(asset_tag="PAD00007")).state == DeviceState.IN_STOCK


async def test_an_impossible_tablet_action_is_refused_with_the_reason(ledgers: Ledgers
                                                                       ) -> None:
    device = await tablet(ledgers.ids["branch_a"])
    async with session(ledgers.ids["branch_a"], Role.IT_ADMIN, "I001") as client:
        refused = await submit(client, f"/devices/{device.id}/return", {"note": ""},
                               page="/devices")
        page = await refused.text()
        duplicate = await submit(client, "/devices", {
            "asset_tag": "PAD00001", "serial": "SN-other", "model": "M",
            "org_id": str(ledgers.ids["branch_a"])}, page="/devices")
        duplicate_page = await duplicate.text()
    assert sent_back(refused, f"/devices/{device.id}")
    assert zh(devices.STATE_REFUSALS[DeviceState.IN_STOCK], asset_tag="PAD00001") in page
    assert await DeviceEvent.filter(device_id=device.id).count() == 1
    assert sent_back(duplicate, "/devices") and 'value="SN-other"' in duplicate_page
    assert zh("A tablet with asset tag %(value)s is already registered.",
              value="PAD00001") in duplicate_page


async def lost_tablet(ledgers: Ledgers) -> Incident:
    """Agent A holds a tablet and reports it lost in chat (D3)."""
    await qualified(ledgers.agent_a, ledgers.type_id)
    device = await tablet(ledgers.ids["outlet_a"])
    await devices.issue_device(ROOT, device.id, ledgers.agent_a.id)
    report = LossReport("device", device.asset_tag, None, "地铁二号线", "下车时遗落")
    return await incidents.report_loss(await actor_for(ledgers.agent_a), report)


async def test_an_incident_is_closed_with_its_resolution(ledgers: Ledgers) -> None:
    incident = await lost_tablet(ledgers)
    async with session(ledgers.ids["branch_a"], Role.OPS_ADMIN, "O001") as client:
        open_list = await (await client.get("/incidents")).text()
        closed = await submit(client, f"/incidents/{incident.id}/close",
                              {"resolution": "已挂失并补发新机"}, page="/incidents")
        closed_page = await closed.text()
        everything = await (await client.get("/incidents?status=all")).text()
    assert all(text in open_list for text in ("F001 张三", zh("Device lost"), "地铁二号线",
                                              zh("Open"), f"/incidents/{incident.id}/close"))
    assert zh("Incident closed.") in closed_page
    assert zh("No incident matches.") in closed_page
    assert "已挂失并补发新机" in everything and zh("Closed") in everything
    assert (await Incident.get(id=incident.id)).status == IncidentStatus.CLOSED


async def test_dashboard_shows_open_incidents_and_unconfirmed_tablets(ledgers: Ledgers
                                                                      ) -> None:
    await lost_tablet(ledgers)
    late = await tablet(ledgers.ids["branch_a"], "PAD00002")
    agent = (await person(ledgers.ids["outlet_a"], Role.FIELD_AGENT, no="F003"))[0]
    await qualified(agent, ledgers.type_id)
    await devices.issue_device(ROOT, late.id, agent.id,
                               now=clock.utcnow() - timedelta(hours=25))
    async with session(ledgers.ids["branch_a"], Role.IT_ADMIN, "I001") as client:
        page = await (await client.get("/")).text()
        overdue = await (await client.get("/devices?state=issued&unconfirmed=1")).text()
    cards = {caption: figure for figure, caption in re.findall(
        r'<span class="figure">(\d+)</span>\s*<span class="caption">([^<]+)</span>', page)}
    assert cards[zh("Open incidents")] == "1"
    assert cards[zh("Tablets not confirmed within 24 hours")] == "1"
    assert "PAD00002" in overdue and zh("not confirmed after 24 hours") in overdue
    assert "PAD00001" not in overdue


def task_list(page: str, title: str) -> str:
    """The task list under one caption on the dashboard, empty when it is not shown."""
    found = re.search(rf"<h2>{re.escape(title)}</h2>(.*?)</section>", page, re.S)
    return found.group(1) if found else ""


async def test_repeated_major_incidents_propose_withdrawal_to_ops_admin(ledgers: Ledgers
                                                                        ) -> None:
    await qualified(ledgers.agent_a, ledgers.type_id)
    agent = await actor_for(ledgers.agent_a)
    first = await incidents.report_loss(agent, LossReport(
        "vouchers", "借记卡 6222 0000 0000 0001", None, "客户家中", "清点时少了一张"))
    second = await incidents.report_loss(agent, LossReport(
        "papers", "开户申请书", None, "网点门口", "资料袋遗失"))
    assert (first.major, second.major) == (False, True)  # a repeated loss is major (Q4)
    async with session(ledgers.ids["branch_a"], Role.OPS_ADMIN, "O001") as client:
        marked = await submit(client, f"/incidents/{first.id}/major",
                              {"reason": "客户身份未核实即发卡"}, page="/incidents")
        marked_page = await marked.text()
        twice = await submit(client, f"/incidents/{first.id}/major",
                             {"reason": "再次标记"}, page="/incidents")
        twice_page = await twice.text()
        dashboard = await (await client.get("/")).text()
        ledger = await (await client.get(f"/staff/{ledgers.agent_a.id}/qualifications")).text()
    async with session(ledgers.ids["province"], Role.AUDITOR, "A001") as client:
        auditor_dashboard = await (await client.get("/")).text()
    assert zh("Incident marked major.") in marked_page
    assert "客户身份未核实即发卡" in marked_page
    assert zh("Repeated loss of vouchers or customer papers (Q4)") in marked_page
    assert sent_back(twice, "/incidents")
    assert zh("Incident #%(incident)s is already marked major.", incident=first.id) in twice_page
    assert (await Incident.get(id=first.id)).detail["major_reason"] == "客户身份未核实即发卡"
    proposals = task_list(dashboard, zh("Withdrawal proposals"))
    assert f'href="/staff/{ledgers.agent_a.id}/qualifications"' in proposals
    assert "F001 张三" in proposals and "网点a" in proposals
    assert zh("Retraining") in ledger
    assert task_list(auditor_dashboard, zh("Withdrawal proposals")) == ""


async def test_a_flagged_idle_account_is_listed_until_it_is_kept(ledgers: Ledgers) -> None:
    later = clock.utcnow() + timedelta(days=91)
    await idle_accounts.sweep_idle_accounts(later, idle_days=90, grace_days=14)
    ledger = f"/staff/{ledgers.agent_a.id}/qualifications"
    until = (clock.utcnow().date() + timedelta(days=30)).isoformat()
    async with session(ledgers.ids["branch_a"], Role.OPS_ADMIN, "O001") as client:
        flagged = task_list(await (await client.get("/")).text(), zh("Idle accounts"))
        form = await (await client.get(ledger)).text()
        kept = await submit(client, f"/staff/{ledgers.agent_a.id}/keep-account",
                            {"until": until, "reason": "下月恢复展业"}, page=ledger)
        kept_page = await kept.text()
        after = task_list(await (await client.get("/")).text(), zh("Idle accounts"))
    async with session(ledgers.ids["branch_a"], Role.IT_ADMIN, "I001") as client:
        it_dashboard = await (await client.get("/")).text()
    assert f'href="{ledger}#keep"' in flagged and "F001 张三" in flagged
    assert zh("Keep the idle account") in form
    assert "F002" not in flagged
    assert kept.url.path == ledger and zh("The account is kept active.") in kept_page
    assert until in kept_page
    assert "F001" not in after and zh("Nothing waiting.") in after
    assert task_list(it_dashboard, zh("Idle accounts")) == ""
