"""The lists a supervisor takes on paper, exported as reports to hand on (issue 16, S4): an
XLSX with a title, the stamp, a bold frozen header, fitted columns, dates as dates, counts
with their totals; an empty period warns instead; each export audited, within scope."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
from aiohttp.test_utils import TestClient
from openpyxl.worksheet.worksheet import Worksheet

from domain.models import AuditLog, Case, Device, Org, Role
from domain.oversight.exported_lists import masked_name
from domain.platform.clock import utcnow
from domain.platform.exports import NOTHING_TO_EXPORT
from tests.admin_support import admin_site, demo_log_in, session, site_config, submit, zh
from tests.export_support import after_stamp, csv_lines, stamp_of, xlsx_lines

EXPORTED = "list.export"


def period() -> dict[str, str]:
    """A period that holds the demo's month of history."""
    today = utcnow().date()
    return {"start": (today - timedelta(days=40)).isoformat(),
            "end": (today + timedelta(days=1)).isoformat()}


async def export(client: TestClient, page: str, fmt: str, query: str = "",
                 **form: str) -> bytes:
    """Post a list's export form as its page renders it; the downloaded file."""
    response = await submit(client, f"{page.partition('?')[0]}/export",
                            {"query": query, "purpose": "月度检查", "fmt": fmt} | form)
    assert response.status == 200, await response.text()
    assert response.content_type != "text/html", await response.text()
    return await response.read()


def workbook(body: bytes) -> Worksheet:
    """The one worksheet of an exported XLSX file."""
    return openpyxl.load_workbook(io.BytesIO(body)).active


def header_row(sheet: Worksheet) -> int:
    """The row number of the table's header: the one the panes are frozen below."""
    return int(str(sheet.freeze_panes).removeprefix("A")) - 1


async def test_the_tablet_list_is_a_report_to_hand_on(every_kind_media: Path) -> None:
    async with admin_site(site_config(every_kind_media)) as client:
        await demo_log_in(client, "auditor")
        page = await (await client.get("/devices?state=issued")).text()
        xlsx = await export(client, "/devices", "xlsx")
        as_csv = await export(client, "/devices", "csv")
    assert 'action="/devices/export"' in page and 'name="query" value="state=issued"' in page
    sheet = workbook(xlsx)
    top = header_row(sheet)
    assert sheet["A1"].value == zh("Tablets") and sheet["A1"].font.b
    assert stamp_of(xlsx_lines(xlsx))[zh("Exported by")] == "E0004 李稽核"
    assert stamp_of(xlsx_lines(xlsx))[zh("Purpose")] == "月度检查"
    header = [cell.value for cell in sheet[top]]
    assert header[:3] == [zh("Asset tag"), zh("Model"), zh("Serial number")]
    assert all(cell.font.b for cell in sheet[top])
    tags = [row[0] for row in sheet.iter_rows(min_row=top + 1, values_only=True)]
    assert sorted(tags) == sorted(await Device.all().values_list("asset_tag", flat=True))
    assert sheet.column_dimensions["A"].width >= max(len(tag) for tag in tags)
    issued = header.index(zh("Issued"))
    moments = [row[issued] for row in sheet.iter_rows(min_row=top + 1, values_only=True)
               if row[issued] is not None]
    assert moments and all(isinstance(moment, datetime) for moment in moments)
    assert sheet.cell(row=top + 1, column=issued + 1).number_format == "yyyy-mm-dd hh:mm"
    table = after_stamp(csv_lines(as_csv))
    assert table[0] == header and len(table) == len(tags) + 1  # no totals: nothing counted


async def test_cases_show_the_customer_masked_and_total_their_counts(every_kind_media: Path
                                                                     ) -> None:
    async with admin_site(site_config(every_kind_media)) as client:
        await demo_log_in(client, "auditor")
        body = await export(client, "/cases", "xlsx", **period())
    sheet = workbook(body)
    top = header_row(sheet)
    header = [cell.value for cell in sheet[top]]
    *rows, totals = list(sheet.iter_rows(min_row=top + 1, values_only=True))
    names = {case.case_no: case.customer_name for case in await Case.exclude(submitted_at=None)}
    customer = header.index(zh("Customer"))
    assert rows and all(row[customer] == masked_name(names[row[0]]) for row in rows)
    assert not {name for name in names.values() if len(name) > 1} & {r[customer] for r in rows}
    returned, escalated = header.index(zh("Times returned")), header.index(zh("Escalations"))
    assert totals[0] == zh("Total")
    assert totals[returned] == sum(row[returned] for row in rows) > 0
    assert totals[escalated] == sum(row[escalated] for row in rows)
    assert sheet.cell(row=top + 1, column=returned + 1).number_format == "0"
    assert stamp_of(xlsx_lines(body))[zh("Period")] == " – ".join(period().values())


async def test_an_empty_period_warns_and_neither_downloads_nor_audits(every_kind_media: Path
                                                                      ) -> None:
    async with admin_site(site_config(every_kind_media)) as client:
        await demo_log_in(client, "auditor")
        refused = await submit(client, "/incidents/export", {
            "query": "status=closed", "purpose": "月度检查", "fmt": "xlsx",
            "start": "2020-01-01", "end": "2020-01-31"})
        page = await refused.text()
        audited_before = await AuditLog.filter(action=EXPORTED).count()
        await export(client, "/incidents?status=closed", "csv", "status=closed", **period())
    assert refused.url.path == "/incidents" and refused.url.query.get("status") == "closed"
    assert refused.content_type == "text/html" and zh(NOTHING_TO_EXPORT) in page
    assert audited_before == 0
    row = await AuditLog.get(action=EXPORTED)
    assert (row.object_type, row.detail["purpose"], row.detail["format"]) == (
        "incidents", "月度检查", "csv")
    assert list(row.detail["filter"]) == [zh("State")]


async def test_an_export_holds_only_the_exporters_org_subtree(every_kind_media: Path) -> None:
    suzhou = await Org.get(code="SZ0100")
    async with session(suzhou.id, Role.AUDITOR, "A901") as client:
        body = await export(client, "/devices", "csv")
    tags = [line[0] for line in after_stamp(csv_lines(body))[1:]]
    expected = await Device.filter(org__path__startswith=suzhou.path).values_list(
        "asset_tag", flat=True)
    assert tags and sorted(tags) == sorted(expected)
    assert await Device.exclude(org__path__startswith=suzhou.path).exists()


async def test_only_those_who_may_export_and_read_the_list_export_it(every_kind_media: Path
                                                                     ) -> None:
    async with admin_site(site_config(every_kind_media)) as client:
        await demo_log_in(client, "ops")
        audit_log = await submit(client, "/audit/export", {
            "query": "", "purpose": "x", "fmt": "csv"}, page="/devices")
        tablets = await submit(client, "/devices/export", {
            "query": "", "purpose": "x", "fmt": "csv"}, page="/devices")
    async with admin_site(site_config(every_kind_media)) as client:
        await demo_log_in(client, "supervisor")
        refused = await submit(client, "/devices/export", {
            "query": "", "purpose": "x", "fmt": "csv"}, page="/devices")
        page = await (await client.get("/devices")).text()
    assert audit_log.status == 403 and tablets.status == 200
    assert refused.status == 403 and 'action="/devices/export"' not in page
