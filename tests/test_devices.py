"""The device ledger and loss reports (D1–D3): register, issue, confirm, transitions, loss."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from domain.cases.business_types import BusinessTypeForm, create_business_type
from domain.ledgers import device_imports, devices, incidents
from domain.ledgers.devices import DeviceForm
from domain.ledgers.incidents import LossReport
from domain.models import (
    AuditLog,
    Device,
    DeviceEvent,
    DeviceEventKind,
    DeviceState,
    Incident,
    IncidentKind,
    IncidentStatus,
    OutboxMessage,
    PhotoKind,
    Qualification,
    QualificationStatus,
    Role,
    Staff,
)
from domain.platform.actors import Actor
from domain.platform.errors import NotFound, PermissionDenied
from fieldops.bootstrap import bootstrap
from fieldops.settings import Settings
from locales import translate
from tests.admin_support import admin_site, log_in, submit
from tests.case_support import refusal
from tests.factories import ISSUED_AT, org_tree, person, qualify, web_user
from tests.outbox_support import chat_buttons

LATER = ISSUED_AT + timedelta(hours=2)
GOOD_IMEI = "490154203237518"
CONFIRM = "Confirm receipt"


@dataclass
class Shop:
    """An org tree with IT in branch a and b, a qualified agent in outlet a and his chain.

    Supervisor at sub_a and ops at the province are in the agent's chain; the far IT admin
    and far supervisor sit in branch b, outside it.
    """

    ids: dict[str, int]
    it: Actor
    far_it: Actor
    ops: Actor
    supervisor: Actor
    far_supervisor: Actor
    agent: Actor
    agent_row: Staff
    business_type_id: int


@pytest.fixture
async def shop(database_url: str) -> Shop:
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O001")
    _, it = await person(ids["branch_a"], Role.IT_ADMIN, no="I001")
    _, far_it = await person(ids["branch_b"], Role.IT_ADMIN, no="I002")
    _, supervisor = await person(ids["sub_a"], Role.SUPERVISOR, no="S001")
    _, far_supervisor = await person(ids["branch_b"], Role.SUPERVISOR, no="S002")
    agent_row, agent = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001",
                                    name="陈展业")
    business_type = await create_business_type(ops, "DEBIT_CARD", BusinessTypeForm(
        "借记卡开户", "Debit card opening",
        frozenset({PhotoKind.ID_FRONT, PhotoKind.ONSITE_WITH_AGENT})))
    await qualify(agent_row, business_type.id)
    return Shop(ids, it, far_it, ops, supervisor, far_supervisor, agent, agent_row,
                business_type.id)


def form(org_id: int, n: int = 1, **changes: object) -> DeviceForm:
    values: dict[str, object] = {"asset_tag": f"PAD{n:04d}", "serial": f"SN{n:06d}",
                                 "imei": None, "model": "Huawei MatePad 11",
                                 "purchase_date": date(2025, 3, 1), "org_id": org_id}
    return DeviceForm(**(values | changes))  # type: ignore[arg-type]


async def tablet(shop: Shop, n: int = 1) -> Device:
    return await devices.register_device(shop.it, form(shop.ids["outlet_a"], n))


async def issued(shop: Shop, n: int = 1, *, confirm: bool = True) -> Device:
    device = await devices.issue_device(shop.it, (await tablet(shop, n)).id,
                                        shop.agent_row.id, now=ISSUED_AT)
    if confirm:
        await devices.confirm_receipt(shop.agent, device.id, ISSUED_AT + timedelta(minutes=5))
    return device


async def texts_to(actor: Actor, locale: str = "en") -> list[str]:
    rows = await OutboxMessage.filter(recipient_id=actor.staff_id).order_by("id")
    return [translate(locale, row.template, **row.params) for row in rows]


def lost_tablet(asset_tag: str = "PAD0001") -> LossReport:
    return LossReport(what="device", item=asset_tag, occurred_at=LATER - timedelta(minutes=30),
                      place="幸福小区3号楼", description="放在客户家门口后不见了")


async def state_of(device: Device) -> DeviceState:
    return (await Device.get(id=device.id)).state


# --- register and import -----------------------------------------------------------------


async def test_it_registers_a_tablet_in_stock_with_its_register_entry(shop: Shop) -> None:
    device = await devices.register_device(shop.it, form(shop.ids["outlet_a"],
                                                         imei=f" {GOOD_IMEI} "))
    assert device.state == DeviceState.IN_STOCK and device.imei == GOOD_IMEI
    [event] = await DeviceEvent.filter(device_id=device.id)
    assert event.kind == DeviceEventKind.REGISTERED and event.actor_label == shop.it.label
    assert await AuditLog.exists(action="device.registered", object_id=str(device.id))


async def test_full_width_digits_of_a_tablet_are_read_as_digits(shop: Shop) -> None:
    wide = str.maketrans("0123456789", "０１２３４５６７８９")
    device = await devices.register_device(shop.it, form(
        shop.ids["outlet_a"], asset_tag="PAD０００７", serial="SN０００００７",
        imei=GOOD_IMEI.translate(wide)))
    assert (device.asset_tag, device.serial, device.imei) == ("PAD0007", "SN000007", GOOD_IMEI)
    refused = await refusal(devices.register_device, shop.it, form(
        shop.ids["outlet_a"], asset_tag="PAD0008", serial="SN０００００７"))
    assert refused.params == {"value": "SN000007", "field": "serial"}


@pytest.mark.parametrize(("changes", "msgid", "field"), [
    ({"asset_tag": "PAD0001", "serial": "OTHER"},
     "A tablet with asset tag %(value)s is already registered.", "asset_tag"),
    ({"asset_tag": "PAD0999", "serial": "SN000001"},
     "A tablet with serial number %(value)s is already registered.", "serial"),
    ({"asset_tag": "PAD0999", "serial": "OTHER", "imei": GOOD_IMEI},
     "A tablet with IMEI %(value)s is already registered.", "imei"),
])
async def test_a_duplicate_is_refused_naming_the_field(shop: Shop, changes: dict, msgid: str,
                                                        field: str) -> None:
    await devices.register_device(shop.it, form(shop.ids["outlet_a"], imei=GOOD_IMEI))
    refused = await refusal(devices.register_device, shop.it,
                            form(shop.ids["outlet_a"], **changes))
    assert refused.key == msgid and refused.params["field"] == field
    assert await Device.all().count() == 1


@pytest.mark.parametrize(("changes", "msgid"), [
    ({"imei": "49015420323751"}, "The IMEI must be 15 digits."),
    ({"imei": "490154203237519"}, "The IMEI %(value)s fails its check digit."),
    ({"purchase_date": date(2099, 1, 1)}, "The purchase date cannot be in the future."),
    ({"asset_tag": "  "}, "Enter the asset tag of the tablet."),
    ({"model": ""}, "Enter the model of the tablet."),
])
async def test_bad_fields_are_refused(shop: Shop, changes: dict, msgid: str) -> None:
    refused = await refusal(devices.register_device, shop.it,
                            form(shop.ids["outlet_a"], **changes))
    assert refused.key == msgid
    assert not await Device.exists()


async def test_only_it_registers_and_only_in_its_own_subtree(shop: Shop) -> None:
    with pytest.raises(PermissionDenied):
        await devices.register_device(shop.supervisor, form(shop.ids["outlet_a"]))
    with pytest.raises(NotFound):
        await devices.register_device(shop.it, form(shop.ids["outlet_b"]))
    with pytest.raises(NotFound):
        await devices.register_device(shop.it, form(999_999))
    assert not await Device.exists()


CSV = ("asset_tag,serial,imei,model,purchase_date,org_code\n"
       f"PAD0101,SN0101,{GOOD_IMEI},MatePad,2025-01-02,Oa\n"
       "PAD0102,SN0102,12345,MatePad,2025-01-02,Oa\n"
       "PAD0103,SN0103,,MatePad,2025-13-02,Oa\n"
       "PAD0104,SN0104,,MatePad,,NOPE\n"
       "PAD0105,SN0105,,MatePad,,Ob\n"
       "PAD0101,SN0106,,MatePad,,Sa\n"
       "PAD0107,SN0107,,MatePad\n"
       "\n"
       "PAD0108,SN0108,,iPad,,Ba\n")
CSV_ERRORS = [
    (3, "The IMEI must be 15 digits."),
    (4, "%(value)s is not a date; write it as YYYY-MM-DD."),
    (5, "No organisation has the code %(code)s."),
    (6, "No such record."),
    (7, "A tablet with asset tag %(value)s is already registered."),
    (8, "This row has %(found)s columns instead of %(expected)s."),
]


async def test_csv_import_keeps_the_good_rows_and_reports_each_bad_row(shop: Shop) -> None:
    seen: list[tuple[int, int, str]] = []
    report = await device_imports.import_devices_csv(
        shop.it, CSV, all_or_nothing=False,
        progress=lambda done, total, label: seen.append((done, total, label)))
    assert (report.read, report.imported) == (8, 2)
    assert [(row.line, row.error) for row in report.errors] == CSV_ERRORS
    assert translate("en", report.errors[2].error, **report.errors[2].params) == (
        "No organisation has the code NOPE.")
    assert sorted(await Device.all().values_list("asset_tag", flat=True)) == [
        "PAD0101", "PAD0108"]
    assert [s[0] for s in seen] == list(range(1, 9)) and {s[1] for s in seen} == {8}
    assert seen[0][2] == "PAD0101"


async def test_csv_import_all_or_nothing_imports_nothing_when_one_row_is_bad(
        shop: Shop) -> None:
    report = await device_imports.import_devices_csv(shop.it, CSV, all_or_nothing=True)
    assert report.imported == 0 and len(report.errors) == len(CSV_ERRORS)
    assert not await Device.exists() and not await DeviceEvent.exists()
    good = "\n".join(CSV.splitlines()[:2])
    report = await device_imports.import_devices_csv(shop.it, good, all_or_nothing=True)
    assert (report.read, report.imported, report.errors) == (1, 1, ())


async def test_csv_import_without_the_header_is_refused(shop: Shop) -> None:
    refused = await refusal(device_imports.import_devices_csv, shop.it, "PAD1,SN1,,M,,Oa\n",
                            all_or_nothing=False)
    assert refused.key == "The first line must be the header %(columns)s."
    assert not await Device.exists()


# --- issue and receipt -------------------------------------------------------------------


async def test_issue_registers_both_persons_and_asks_the_agent_to_confirm(shop: Shop) -> None:
    device = await issued(shop, confirm=False)
    stored = await Device.get(id=device.id)
    assert stored.state == DeviceState.ISSUED and stored.holder_id == shop.agent_row.id  # type: ignore[attr-defined]
    assert stored.issued_at == ISSUED_AT and stored.receipt_confirmed_at is None
    event = await DeviceEvent.get(device_id=device.id, kind=DeviceEventKind.ISSUED)
    assert (event.from_state, event.to_state) == (DeviceState.IN_STOCK, DeviceState.ISSUED)
    assert event.actor_label == shop.it.label and event.holder_label == "F001 陈展业"
    assert event.at == ISSUED_AT
    [message] = await OutboxMessage.filter(recipient_id=shop.agent.staff_id)
    assert "PAD0001" in translate("en", message.template, **message.params)
    assert chat_buttons(message) == [[[CONFIRM, f"dev:confirm:{device.id}"]]]
    assert await AuditLog.exists(action="device.issued", object_id=str(device.id))


async def test_issue_is_refused_to_anyone_but_an_active_qualified_agent_without_a_tablet(
        shop: Shop) -> None:
    _, unqualified = await person(shop.ids["outlet_a"], Role.FIELD_AGENT, no="F002")
    reviewer_row, _ = await person(shop.ids["outlet_a"], Role.REVIEWER, no="R001")
    far_row, _ = await person(shop.ids["outlet_b"], Role.FIELD_AGENT, no="F003")
    await qualify(far_row, shop.business_type_id)
    device = await tablet(shop)
    refused = await refusal(devices.issue_device, shop.it, device.id, unqualified.staff_id)
    assert refused.key.startswith("%(name)s holds no active qualification")
    refused = await refusal(devices.issue_device, shop.it, device.id, reviewer_row.id)
    assert refused.key.startswith("%(name)s is not a field agent")
    with pytest.raises(NotFound):
        await devices.issue_device(shop.it, device.id, far_row.id)
    await Qualification.filter(staff_id=shop.agent_row.id).update(
        status=QualificationStatus.SUSPENDED)
    refused = await refusal(devices.issue_device, shop.it, device.id, shop.agent_row.id)
    assert refused.key.startswith("%(name)s holds no active qualification")
    assert await state_of(device) == DeviceState.IN_STOCK


async def test_an_agent_holds_one_tablet_at_a_time(shop: Shop) -> None:
    await issued(shop, 1)
    second = await tablet(shop, 2)
    refused = await refusal(devices.issue_device, shop.it, second.id, shop.agent_row.id)
    assert refused.key == ("%(name)s already holds tablet %(asset_tag)s; it must be returned "
                           "first.")
    assert refused.params["asset_tag"] == "PAD0001"


async def test_only_the_holder_confirms_receipt_and_only_once(shop: Shop) -> None:
    device = await issued(shop, confirm=False)
    with pytest.raises(PermissionDenied):
        await devices.confirm_receipt(shop.supervisor, device.id)
    confirmed = await devices.confirm_receipt(shop.agent, device.id, LATER)
    assert confirmed.receipt_confirmed_at == LATER
    refused = await refusal(devices.confirm_receipt, shop.agent, device.id)
    assert refused.key == "You already confirmed the receipt of tablet %(asset_tag)s."
    assert await DeviceEvent.filter(kind=DeviceEventKind.RECEIPT_CONFIRMED).count() == 1
    assert (await Device.get(id=device.id)).receipt_confirmed_at == LATER


async def test_unconfirmed_issue_is_flagged_once_after_24_hours_and_it_is_told(
        shop: Shop) -> None:
    device = await issued(shop, confirm=False)
    early = await devices.sweep_unconfirmed_receipts(ISSUED_AT + timedelta(hours=23))
    assert early.changed == 0
    late = ISSUED_AT + timedelta(hours=25)
    report = await devices.sweep_unconfirmed_receipts(late)
    assert (report.changed, report.warned) == (1, 1)
    again = await devices.sweep_unconfirmed_receipts(late + timedelta(hours=1))
    assert again.changed == 0
    assert (await Device.get(id=device.id)).receipt_flagged_at == late
    [text] = await texts_to(shop.it)
    assert "PAD0001" in text and "F001 陈展业" in text and "2026-11-23 09:00" in text
    assert not await texts_to(shop.far_it) and not await texts_to(shop.supervisor)


# --- transitions -------------------------------------------------------------------------


async def test_return_repair_and_retire_follow_the_register(shop: Shop) -> None:
    device = await issued(shop)
    await devices.return_device(shop.it, device.id, "调岗归还", LATER)
    stored = await Device.get(id=device.id)
    assert stored.state == DeviceState.IN_STOCK and stored.holder_id is None  # type: ignore[attr-defined]
    returned = await DeviceEvent.get(device_id=device.id, kind=DeviceEventKind.RETURNED)
    assert returned.holder_label == "F001 陈展业" and returned.actor_label == shop.it.label
    assert returned.note == "调岗归还"
    await devices.send_to_repair(shop.it, device.id, "屏幕碎裂")
    assert await state_of(device) == DeviceState.IN_REPAIR
    await devices.mark_repaired(shop.it, device.id, "已换屏")
    await devices.send_to_repair(shop.it, device.id, "主板故障")
    await devices.retire_device(shop.it, device.id, "无法修复")
    kinds = await DeviceEvent.filter(device_id=device.id).values_list("kind", flat=True)
    assert kinds == ["registered", "issued", "receipt_confirmed", "returned", "sent_to_repair",
                     "repaired", "sent_to_repair", "retired"]


@pytest.mark.parametrize(("setup", "call", "msgid"), [
    ("stock", devices.return_device, "Tablet %(asset_tag)s is in stock: it is not issued, "
                                     "lost or in repair, so this cannot be done."),
    ("stock", devices.mark_found, "Tablet %(asset_tag)s is in stock: it is not issued, lost "
                                  "or in repair, so this cannot be done."),
    ("issued", devices.send_to_repair, "Tablet %(asset_tag)s is issued to %(holder)s; it must "
                                       "be returned to stock first."),
    ("issued", devices.retire_device, "Tablet %(asset_tag)s is issued to %(holder)s; it must "
                                      "be returned to stock first."),
    ("retired", devices.send_to_repair, "Tablet %(asset_tag)s is retired; nothing more can be "
                                        "done with it."),
    ("lost", devices.return_device, "Tablet %(asset_tag)s is reported lost; it must be found "
                                    "first."),
])
async def test_an_impossible_transition_is_refused_naming_the_current_state(
        shop: Shop, setup: str, call: object, msgid: str) -> None:
    device = await issued(shop) if setup in ("issued", "lost") else await tablet(shop)
    if setup == "retired":
        await devices.retire_device(shop.it, device.id, "报废")
    if setup == "lost":
        await incidents.report_loss(shop.agent, lost_tablet(), LATER)
    before = await DeviceEvent.filter(device_id=device.id).count()
    refused = await refusal(call, shop.it, device.id, "x")
    assert refused.key == msgid and refused.params["asset_tag"] == "PAD0001"
    if setup == "issued":
        assert translate("en", refused.key, **refused.params).startswith(
            "Tablet PAD0001 is issued to F001 陈展业;")
    assert await DeviceEvent.filter(device_id=device.id).count() == before


async def test_an_issued_tablet_cannot_be_issued_again(shop: Shop) -> None:
    device = await issued(shop)
    _, other = await person(shop.ids["outlet_a"], Role.FIELD_AGENT, no="F002")
    refused = await refusal(devices.issue_device, shop.it, device.id, other.staff_id)
    assert refused.key.startswith("Tablet %(asset_tag)s is issued to %(holder)s")


# --- loss, incidents and the capture gate ------------------------------------------------


async def test_a_device_loss_marks_it_lost_and_alerts_the_three_roles_once_each(
        shop: Shop) -> None:
    device = await issued(shop)
    _, it_top = await person(shop.ids["province"], Role.IT_ADMIN, Role.OPS_ADMIN, no="I009")
    incident = await incidents.report_loss(shop.agent, lost_tablet(), LATER)
    stored = await Device.get(id=device.id)
    assert stored.state == DeviceState.LOST and stored.holder_id == shop.agent_row.id  # type: ignore[attr-defined]
    lost = await DeviceEvent.get(device_id=device.id, kind=DeviceEventKind.LOST)
    assert lost.actor_id == shop.agent.staff_id and lost.at == LATER
    assert (incident.kind, incident.status) == (IncidentKind.DEVICE_LOSS, IncidentStatus.OPEN)
    assert incident.device_id == device.id and incident.org_id == shop.ids["outlet_a"]  # type: ignore[attr-defined]
    for person_in_chain in (shop.supervisor, shop.it, shop.ops, it_top):
        [text] = await texts_to(person_in_chain)
        assert "PAD0001" in text and "幸福小区3号楼" in text and "2026-11-23 10:30" in text
        assert f"#{incident.id}" in text
    for outsider in (shop.far_it, shop.far_supervisor):
        assert not await texts_to(outsider)
    assert not any(t.startswith("Loss reported") for t in await texts_to(shop.agent))
    keys = await OutboxMessage.filter(idempotency_key__startswith=f"incident:{incident.id}:"
                                      ).values_list("idempotency_key", flat=True)
    assert len(keys) == len(set(keys)) == 4


async def test_a_voucher_loss_opens_an_incident_without_touching_the_tablet(
        shop: Shop) -> None:
    device = await issued(shop)
    incident = await incidents.report_loss(shop.agent, LossReport(
        "vouchers", "借记卡 6222 0000 0000 0012 至 0015", None, "网点柜台", "清点时发现缺少"),
        LATER)
    assert incident.kind == IncidentKind.VOUCHER_LOSS and incident.device_id is None  # type: ignore[attr-defined]
    assert incident.occurred_at == LATER
    assert await state_of(device) == DeviceState.ISSUED
    [text] = await texts_to(shop.supervisor)
    assert text.startswith("Loss reported by F001 陈展业") and "vouchers" in text
    await devices.require_issued_device(shop.agent_row.id)


async def test_a_loss_report_of_a_tablet_not_issued_to_the_reporter_is_refused(
        shop: Shop) -> None:
    await tablet(shop)
    refused = await refusal(incidents.report_loss, shop.agent, lost_tablet(), LATER)
    assert refused.key == "Tablet %(asset_tag)s is not issued to you."
    with pytest.raises(PermissionDenied):
        await incidents.report_loss(shop.supervisor, lost_tablet(), LATER)
    future = LossReport("device", "PAD0001", LATER + timedelta(hours=1), "x", "y")
    refused = await refusal(incidents.report_loss, shop.agent, future, LATER)
    assert refused.key == "The time of the loss cannot be in the future."
    assert not await Incident.exists() and not await OutboxMessage.exists(
        recipient_id=shop.supervisor.staff_id)


async def test_capture_needs_a_confirmed_tablet_and_no_open_device_loss(shop: Shop) -> None:
    agent_id = shop.agent_row.id
    refused = await refusal(devices.require_issued_device, agent_id)
    assert refused.key.startswith("No tablet is issued to you.")
    device = await issued(shop, confirm=False)
    refused = await refusal(devices.require_issued_device, agent_id)
    assert refused.key.startswith("Confirm the receipt of tablet %(asset_tag)s first")
    await devices.confirm_receipt(shop.agent, device.id)
    await devices.require_issued_device(agent_id)
    incident = await incidents.report_loss(shop.agent, lost_tablet(), LATER)
    refused = await refusal(devices.require_issued_device, agent_id)
    assert refused.key.startswith("A device loss you reported (incident #%(incident)s)")
    assert refused.params["incident"] == incident.id
    replacement = await devices.issue_device(shop.it, (await tablet(shop, 2)).id, agent_id,
                                             now=LATER + timedelta(hours=1))
    refused = await refusal(devices.require_issued_device, agent_id)
    assert refused.key.startswith("Confirm the receipt of tablet")
    await devices.confirm_receipt(shop.agent, replacement.id)
    await devices.require_issued_device(agent_id)


async def test_closing_the_loss_incident_lifts_the_block_and_tells_the_agent(
        shop: Shop) -> None:
    device = await issued(shop)
    incident = await incidents.report_loss(shop.agent, lost_tablet(), LATER)
    with pytest.raises(PermissionDenied):
        await incidents.close_incident(shop.supervisor, incident.id, "已找回")
    refused = await refusal(incidents.close_incident, shop.ops, incident.id, "  ")
    assert refused.key == "Write how the incident was resolved."
    await devices.mark_found(shop.it, device.id, "客户送回")
    closed = await incidents.close_incident(shop.ops, incident.id, "设备已找回，数据无泄露")
    assert closed.status == IncidentStatus.CLOSED and closed.closed_by_id == shop.ops.staff_id  # type: ignore[attr-defined]
    refused = await refusal(incidents.close_incident, shop.it, incident.id, "again")
    assert refused.key == "Incident #%(incident)s is already closed."
    assert (await texts_to(shop.agent))[-1].startswith(f"Incident #{incident.id} (PAD0001)")
    refused = await refusal(devices.require_issued_device, shop.agent_row.id)
    assert refused.key.startswith("No tablet is issued to you.")
    await devices.issue_device(shop.it, device.id, shop.agent_row.id, now=LATER)
    await devices.confirm_receipt(shop.agent, device.id)
    await devices.require_issued_device(shop.agent_row.id)


# --- scope -------------------------------------------------------------------------------


async def test_another_branch_cannot_see_or_manage_the_tablet_or_its_incident(
        shop: Shop) -> None:
    device = await issued(shop)
    incident = await incidents.report_loss(shop.agent, lost_tablet(), LATER)
    for call in (devices.mark_found, devices.retire_device):
        with pytest.raises(NotFound):
            await call(shop.far_it, device.id, "x")
    with pytest.raises(NotFound):
        await devices.device_history(shop.far_it, device.id)
    with pytest.raises(NotFound):
        await incidents.close_incident(shop.far_it, incident.id, "x")
    with pytest.raises(NotFound):
        await devices.device_history(shop.far_it, 999_999)
    assert await devices.list_devices(shop.far_it) == []
    assert await incidents.list_incidents(shop.far_it) == []
    with pytest.raises(NotFound):
        await devices.list_devices(shop.far_it, org_id=shop.ids["outlet_a"])
    with pytest.raises(PermissionDenied):
        await devices.list_devices(shop.agent)


async def test_lists_and_history_show_the_actors_subtree(shop: Shop) -> None:
    device = await issued(shop)
    await tablet(shop, 2)
    assert [d.asset_tag for d in await devices.list_devices(shop.supervisor)] == [
        "PAD0001", "PAD0002"]
    [held] = await devices.list_devices(shop.ops, state=DeviceState.ISSUED,
                                        holder_id=shop.agent_row.id)
    assert held.id == device.id and held.holder.name == "陈展业"
    assert [d.id for d in await devices.my_devices(shop.agent)] == [device.id]
    found, events = await devices.device_history(shop.ops, device.id)
    assert found.id == device.id and [e.kind for e in events][:2] == [
        DeviceEventKind.REGISTERED, DeviceEventKind.ISSUED]
    incident = await incidents.report_loss(shop.agent, lost_tablet(), LATER)
    assert [i.id for i in await incidents.list_incidents(shop.supervisor, status="open")] == [
        incident.id]
    assert await incidents.list_incidents(shop.supervisor, status="closed") == []


async def test_an_incident_marked_major_in_the_admin_counts_under_the_configured_threshold(
        shop: Shop, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, secret_key="test-secret",  # type: ignore[call-arg]
                        data_key="a-test-secret-that-is-long-enough", media_root=tmp_path,
                        major_incident_threshold=1)
    incident = await incidents.report_loss(shop.agent, LossReport(
        "papers", "客户张某的开户申请书", None, "客户家中", "离开时遗落"))
    _, username = await web_user(shop.ids["province"], Role.OPS_ADMIN, no="O900")
    async with admin_site(bootstrap(settings).admin) as client:
        await log_in(client, username)
        await submit(client, f"/incidents/{incident.id}/major", {"reason": "客户资料外泄风险"},
                     page="/incidents")
    assert (await Incident.get(id=incident.id)).major
    assert (await Staff.get(id=shop.agent_row.id)).retraining_flagged_at is not None
