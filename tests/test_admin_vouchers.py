"""The voucher ledger in the admin web: receipts, boxes, journal, voids, reconciliation and
its audited export (V1–V6, S4)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from aiohttp import ClientResponse, FormData
from aiohttp.test_utils import TestClient

from domain.cases import business_types, cases, review
from domain.cases.business_types import BusinessTypeForm
from domain.models import (
    AuditLog,
    BusinessType,
    ChatBinding,
    Device,
    Qualification,
    QualificationStatus,
    Role,
    Staff,
    TailBox,
    VoidRequest,
    VoidStatus,
    Voucher,
    VoucherState,
    VoucherType,
)
from domain.platform.actors import Actor, actor_for
from domain.vouchers import tail_boxes, voids, voucher_stock
from domain.vouchers.voucher_stock import VoucherTypeForm
from tests.admin_support import csrf_token, sent_back, session, submit, zh
from tests.case_support import ID_NUMBER, KINDS, MOBILE, MONDAY_10AM
from tests.export_support import after_stamp
from tests.factories import ROOT, capture_context, operational, org_tree, person
from tests.review_support import photo, seen

EXPORT = "voucher.reconciliation.export"


@dataclass
class Ledger:
    """Two branches, a USB-key voucher type, an ops admin and a field agent with a tail box in
    each branch's outlet."""

    ids: dict[str, int]
    key: VoucherType
    ops: Actor
    agent_a: Staff
    box_a: TailBox
    box_b: TailBox


async def tail_box(agent: Staff) -> TailBox:
    """The tail box of the tablet issued to a field agent."""
    device = await Device.get(holder=agent)
    return await tail_boxes.box_for_device(device.id)


@pytest.fixture
async def ledger(database_url: str) -> Ledger:
    ids = await org_tree()
    await business_types.create_business_type(
        ROOT, "USB_KEY_OPEN", BusinessTypeForm("网银盾申领", "E-banking USB key",
                                               frozenset(KINDS)),
        voucher_type_code="USB_KEY")
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O001", name="钱运营")
    key = await voucher_stock.define_voucher_type(ops, "USB_KEY", VoucherTypeForm(
        "网银盾", "E-banking USB key", r"\d{8}", "none"))
    agent_a, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001", name="张三")
    agent_b, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F002", name="李四")
    for agent in (agent_a, agent_b):
        await operational(agent)
    for outlet in ("outlet_a", "outlet_b"):
        await voucher_stock.set_cap(ops, ids[outlet], key.id, 10)
    return Ledger(ids, key, ops, agent_a, await tail_box(agent_a), await tail_box(agent_b))


async def stock(ledger: Ledger, first: str, last: str, at: datetime | None = None) -> None:
    """Serials received into the vault of outlet a, whose boxes they are allocated to."""
    await voucher_stock.receive_range(ledger.ops, ledger.ids["outlet_a"], ledger.key.id, first,
                                      last, now=at)


async def upload(client: TestClient, url: str, fields: dict[str, str], name: str, text: str,
                 page: str) -> ClientResponse:
    """Post a form with a chosen file, the way a browser does."""
    form = FormData()
    for field, value in fields.items():
        form.add_field(field, value)
    form.add_field("csrf_token", await csrf_token(client, page))
    form.add_field("file", text.encode("utf-8"), filename=name, content_type="text/plain")
    return await client.post(url, data=form)


def figure(page: str, org_name: str, column: str) -> int:
    """One figure of a balances row (vault row of an org) by its cell class."""
    rows = re.findall(r'<tr class="vault">(.*?)</tr>', page, re.S)
    row = next(r for r in rows if org_name in r)
    cells = re.findall(r'<td class="num">(\d+)</td>', row)
    return int(cells[["in_vault", "in_box", "reserved", "void_pending"].index(column)])


async def test_ops_admin_receives_allocates_and_sees_balances(ledger: Ledger) -> None:
    box = f"/vouchers/boxes/{ledger.box_a.id}"
    async with session(ledger.ids["province"], Role.OPS_ADMIN, "O002") as client:
        fields = {"org_id": str(ledger.ids["outlet_a"]), "voucher_type_id": str(ledger.key.id)}
        received = await upload(client, "/vouchers/receive", fields | {"first": "", "last": ""},
                                "serials.txt", "10000001\n10000002\n\n10000003\n",
                                page="/vouchers/receive")
        ranged = await submit(client, "/vouchers/receive", fields | {
            "first": "10000004", "last": "10000020"}, page="/vouchers/receive")
        ranged_page = await ranged.text()
        allocated = await submit(client, f"{box}/allocate", {
            "voucher_type_id": str(ledger.key.id), "count": "5"}, page=box)
        box_page = await allocated.text()
        balances = await (await client.get("/vouchers")).text()
    assert received.status == ranged.status == allocated.status == 200
    assert zh("Received into the vault: %(n)s vouchers.", n=17) in ranged_page
    assert zh("Allocated to the tail box: %(n)s vouchers.", n=5) in box_page
    assert '<td class="serial">10000005</td>' in box_page
    assert '<td class="serial">10000006</td>' not in box_page
    assert figure(balances, "网点a", "in_vault") == 15
    assert f'href="/vouchers/boxes/{ledger.box_a.id}"' in balances
    assert await Voucher.filter(box_id=ledger.box_a.id, state=VoucherState.IN_BOX).count() == 5


async def test_receipt_file_with_a_malformed_serial_is_refused_whole(ledger: Ledger) -> None:
    async with session(ledger.ids["province"], Role.OPS_ADMIN, "O002") as client:
        refused = await upload(client, "/vouchers/receive", {
            "org_id": str(ledger.ids["branch_a"]), "voucher_type_id": str(ledger.key.id)},
            "serials.txt", "10000001\nABC\n10000003\n", page="/vouchers/receive")
        text = await refused.text()
    assert sent_back(refused, "/vouchers/receive") and 'role="alert"' in text and "ABC" in text
    assert await Voucher.all().count() == 0


async def test_allocation_past_the_cap_is_refused_with_the_reason(ledger: Ledger) -> None:
    await stock(ledger, "10000001", "10000020")
    box = f"/vouchers/boxes/{ledger.box_a.id}"
    async with session(ledger.ids["province"], Role.OPS_ADMIN, "O002") as client:
        refused = await submit(client, f"{box}/allocate", {
            "voucher_type_id": str(ledger.key.id), "count": "11"}, page=box)
        text = await refused.text()
    assert sent_back(refused, box)
    assert zh("The cap of %(org)s for %(type)s is %(cap)s and its boxes hold %(held)s; "
              "%(count)s more would pass it.", org="网点a", type="USB_KEY", cap=10, held=0,
              count=11) in text
    assert 'name="count" inputmode="numeric" value="11"' in text
    assert not await Voucher.filter(box_id=ledger.box_a.id).exists()


async def test_box_of_another_branch_is_out_of_reach(ledger: Ledger) -> None:
    await stock(ledger, "10000001", "10000005")
    other = f"/vouchers/boxes/{ledger.box_b.id}"
    async with session(ledger.ids["branch_a"], Role.OPS_ADMIN, "O002") as client:
        page = await client.get(other)
        allocated = await submit(client, f"{other}/allocate", {
            "voucher_type_id": str(ledger.key.id), "count": "1"}, page="/vouchers")
        own = await client.get(f"/vouchers/boxes/{ledger.box_a.id}")
    assert (page.status, allocated.status, own.status) == (404, 404, 200)
    assert not await Voucher.filter(box_id=ledger.box_b.id).exists()


async def test_auditor_reads_and_exports_but_cannot_change(ledger: Ledger) -> None:
    await stock(ledger, "10000001", "10000005")
    box = f"/vouchers/boxes/{ledger.box_a.id}"
    async with session(ledger.ids["province"], Role.AUDITOR, "A001") as client:
        paths = ["/vouchers", "/vouchers/types", "/vouchers/journal", "/vouchers/voids",
                 "/vouchers/reconciliation?month=2026-11", box]
        statuses = {path: (await client.get(path)).status for path in paths}
        box_page = await (await client.get(box)).text()
        allocated = await submit(client, f"{box}/allocate", {
            "voucher_type_id": str(ledger.key.id), "count": "1"}, page=box)
        received = await submit(client, "/vouchers/receive", {
            "org_id": str(ledger.ids["branch_a"]), "voucher_type_id": str(ledger.key.id),
            "first": "10000010", "last": "10000011"}, page="/vouchers")
        exported = await submit(client, "/vouchers/reconciliation/export", {
            "month": "2026-11", "purpose": "年度稽核抽查", "fmt": "csv"}, page="/vouchers")
    assert statuses == dict.fromkeys(paths, 200)
    assert f"{box}/allocate" not in box_page
    assert (allocated.status, received.status, exported.status) == (403, 403, 200)
    assert await Voucher.all().count() == 5
    assert await AuditLog.filter(action=EXPORT).count() == 1


async def test_journal_filters_and_pages_back_in_time(ledger: Ledger) -> None:
    await stock(ledger, "10000001", "10000060")
    await voucher_stock.allocate(ledger.ops, ledger.box_a.id, ledger.key.id,
                                 serials=["10000007", "10000008"])
    async with session(ledger.ids["province"], Role.SUPERVISOR, "S001") as client:
        first = await (await client.get("/vouchers/journal")).text()
        older = re.search(r'<a href="([^"]+)" rel="next">', first)
        assert older, first
        second = await (await client.get(older.group(1).replace("&amp;", "&"))).text()
        allocations = await (await client.get("/vouchers/journal?kind=allocated")).text()
        one = await (await client.get("/vouchers/journal?serial=10000008")).text()
    ids = [re.findall(r'data-id="(\d+)"', page) for page in (first, second)]
    assert len(ids[0]) == 50 and len(ids[1]) == 12 and 'rel="next"' not in second
    assert not set(ids[0]) & set(ids[1]) and min(map(int, ids[0])) > max(map(int, ids[1]))
    assert allocations.count('class="movement-allocated"') == 2
    assert 'class="movement-received"' not in allocations
    assert one.count('data-id="') == 2 and "10000007" not in one


async def test_void_needs_both_heads_signing_from_the_page(ledger: Ledger) -> None:
    await stock(ledger, "10000001", "10000005")
    await voucher_stock.allocate(ledger.ops, ledger.box_a.id, ledger.key.id, serials=["10000001"])
    request = await voids.report_lost_serials(await actor_for(ledger.agent_a), ["10000001"],
                                              "外出途中遗失")
    async with session(ledger.ids["branch_a"], Role.BUSINESS_HEAD, "B001") as client:
        page = await (await client.get("/vouchers/voids")).text()
        signed = await submit(client, f"/vouchers/voids/{request.id}/sign", {},
                              page="/vouchers/voids")
        after = await signed.text()
        again = await submit(client, f"/vouchers/voids/{request.id}/sign", {},
                             page="/vouchers/voids")
    assert zh("Sign as business department head") in page
    assert zh("Sign as operations head") not in page
    assert signed.status == 200 and zh("Your signature is recorded.") in after
    assert zh("Sign as business department head") not in after
    assert sent_back(again, "/vouchers/voids")
    assert (await VoidRequest.get(id=request.id)).status == VoidStatus.PENDING
    assert (await Voucher.get(serial="10000001")).state == VoucherState.VOID_PENDING
    async with session(ledger.ids["province"], Role.OPS_ADMIN, "O002") as client:
        page = await (await client.get("/vouchers/voids")).text()
        done = await submit(client, f"/vouchers/voids/{request.id}/sign", {},
                            page="/vouchers/voids")
        done_page = await done.text()
    assert zh("Sign as operations head") in page
    assert zh("Sign as business department head") not in page
    assert done.status == 200 and zh("No void is waiting for a signature.") in done_page
    assert (await VoidRequest.get(id=request.id)).status == VoidStatus.VOIDED
    assert (await Voucher.get(serial="10000001")).state == VoucherState.VOIDED


async def test_ops_admin_requests_voids_from_the_page(ledger: Ledger) -> None:
    await stock(ledger, "10000001", "10000005")
    await voucher_stock.allocate(ledger.ops, ledger.box_a.id, ledger.key.id,
                                 serials=["10000001", "10000002"])
    async with session(ledger.ids["province"], Role.OPS_ADMIN, "O002") as client:
        lost = await submit(client, "/vouchers/voids", {
            "kind": "lost", "serials": "10000001\n10000002", "reason": "外出途中遗失",
            "lax": "1"}, page="/vouchers/voids")
        lost_page = await lost.text()
        expired = await submit(client, "/vouchers/voids", {
            "kind": "expired", "serials": "10000005", "reason": "凭证过期"},
            page="/vouchers/voids")
        twice = await submit(client, "/vouchers/voids", {
            "kind": "expired", "serials": "10000005", "reason": "再次申请"},
            page="/vouchers/voids")
        twice_page = await twice.text()
        unknown = await submit(client, "/vouchers/voids", {
            "kind": "stolen", "serials": "10000004", "reason": "?"}, page="/vouchers/voids")
    assert lost.status == 200
    assert zh("The void request is recorded; it waits for both signatures.") in lost_page
    assert [v.state for v in await Voucher.filter(serial__in=["10000001", "10000002"])] == [
        VoucherState.VOID_PENDING, VoucherState.VOID_PENDING]
    assert not await Qualification.filter(staff_id=ledger.agent_a.id,
                                          status=QualificationStatus.ACTIVE).exists()
    assert expired.status == 200
    assert (await Voucher.get(serial="10000005")).state == VoucherState.VOID_PENDING
    assert sent_back(twice, "/vouchers/voids") and "10000005" in twice_page
    assert sent_back(unknown, "/vouchers/voids")
    assert await VoidRequest.filter(status=VoidStatus.PENDING).count() == 2


def november(day: int) -> datetime:
    """A moment of November 2026 (UTC)."""
    return datetime(2026, 11, day, 2, 0, tzinfo=UTC)


async def issued_by_case(ledger: Ledger, serial: str, media: Path) -> None:
    """The agent captures a USB-key case with a serial of his box; approval issues it (C3)."""
    ctx = capture_context(media)
    await ChatBinding.create(staff=ledger.agent_a, channel="telegram", external_user_id="tgF001",
                             chat_id="tgF001", bound_at=MONDAY_10AM)
    agent = await actor_for(ledger.agent_a)
    type_id = (await BusinessType.get(code="USB_KEY_OPEN")).id
    case = await cases.start_draft(agent, type_id, ctx, MONDAY_10AM)
    await cases.set_customer(agent, case.id, "王五", ID_NUMBER, MOBILE, ctx)
    for index, kind in enumerate(KINDS):
        await cases.add_photo(agent, case.id, kind, photo(index), f"{kind}.jpg", "image/jpeg",
                              ctx)
    await cases.set_voucher(agent, case.id, serial, ctx, MONDAY_10AM)
    await cases.confirm_risk_hint(agent, case.id)
    await cases.submit(agent, case.id, ctx, MONDAY_10AM)
    _, reviewer = await person(ledger.ids["branch_a"], Role.REVIEWER, no="R001")
    await review.claim(reviewer, case.id, MONDAY_10AM + timedelta(minutes=5))
    await seen(reviewer, case.id)
    await review.approve(reviewer, case.id, ctx, MONDAY_10AM + timedelta(minutes=10))


async def november_ledger(ledger: Ledger, media: Path) -> None:
    """October stock of 5; in November 20 received, 6 allocated, one issued to a customer
    and one reported lost; 3 received in December."""
    await stock(ledger, "10000001", "10000005", datetime(2026, 10, 20, 2, tzinfo=UTC))
    await stock(ledger, "10000006", "10000025", november(2))
    await voucher_stock.allocate(ledger.ops, ledger.box_a.id, ledger.key.id, count=6,
                                 now=november(5))
    await issued_by_case(ledger, "10000002", media)
    await voids.report_lost_serials(await actor_for(ledger.agent_a), ["10000003"],
                                    "外出途中遗失", now=MONDAY_10AM + timedelta(hours=2))
    await stock(ledger, "10000026", "10000028", datetime(2026, 12, 2, 2, tzinfo=UTC))


def report_sums(page: str) -> dict[str, int]:
    """Each figure of the reconciliation page summed over its rows."""
    sums: dict[str, int] = {}
    for column, value in re.findall(r'<td class="num (\w+)">(\d+)</td>', page):
        sums[column] = sums.get(column, 0) + int(value)
    return sums


async def test_reconciliation_counts_the_month_from_the_journal(ledger: Ledger, tmp_path: Path
                                                                ) -> None:
    await november_ledger(ledger, tmp_path / "media")
    async with session(ledger.ids["province"], Role.AUDITOR, "A001") as client:
        page = await (await client.get("/vouchers/reconciliation?month=2026-11")).text()
        december = await (await client.get("/vouchers/reconciliation?month=2026-12")).text()
    assert report_sums(page) == {"opening": 5, "received": 20, "allocated": 6, "issued": 1,
                                 "voided": 0, "lost": 1, "closing": 24}
    assert report_sums(december) == {"opening": 24, "received": 3, "allocated": 0,
                                     "issued": 0, "voided": 0, "lost": 0, "closing": 27}
    assert "网点a" in page and "USB_KEY" in page


async def test_exports_need_a_purpose_and_are_audited(ledger: Ledger, tmp_path: Path) -> None:
    await november_ledger(ledger, tmp_path / "media")
    url = "/vouchers/reconciliation/export"
    async with session(ledger.ids["province"], Role.OPS_ADMIN, "O002") as client:
        page = "/vouchers/reconciliation?month=2026-11"
        refused = await submit(client, url, {"month": "2026-11", "purpose": " ", "fmt": "csv"},
                               page=page)
        refused_text = await refused.text()
        as_csv = await submit(client, url, {"month": "2026-11", "purpose": "月末对账",
                                            "fmt": "csv"}, page=page)
        csv_body = await as_csv.read()
        as_xlsx = await submit(client, url, {"month": "2026-11", "purpose": "报送运营管理部",
                                             "fmt": "xlsx"}, page=page)
        xlsx_body = await as_xlsx.read()
    assert refused.status == 400 and zh("Enter the purpose of the export.") in refused_text
    assert as_csv.status == as_xlsx.status == 200
    assert "voucher-reconciliation-2026-11.csv" in as_csv.headers["Content-Disposition"]
    table = after_stamp(csv.reader(io.StringIO(csv_body.decode("utf-8-sig"))))
    assert table[0][2] == zh("Opening balance") and table[0][9] == zh("Closing balance")
    assert table[0][8] == zh("Mis-issued")
    assert sum(int(row[2]) for row in table[1:]) == 5
    assert sum(int(row[9]) for row in table[1:]) == 24
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_body)).active
    lines = after_stamp(sheet.values)
    assert sheet.title == "2026-11" and lines[0][5] == zh("Issued to customers")
    assert sum(line[3] for line in lines[1:]) == 20 and sum(line[5] for line in lines[1:]) == 1
    audits = await AuditLog.filter(action=EXPORT).order_by("id")
    assert [(row.detail["purpose"], row.detail["format"]) for row in audits] == [
        ("月末对账", "csv"), ("报送运营管理部", "xlsx")]
    assert all(row.actor_label.startswith("O002") for row in audits)
