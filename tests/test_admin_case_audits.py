"""Off-site case audit in the admin web: queue, read-only case with the finding form, draw
verification, error rates and their audited export (K2, K3, S4)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from aiohttp.test_utils import TestClient

from admin_web.app import AdminConfig
from domain.models import AuditDraw, AuditLog, CaseAudit, CaseAuditStatus, Role
from domain.oversight import case_audits
from domain.platform.clock import utcnow
from tests.admin_support import admin_site, log_in, sent_back, submit, zh
from tests.case_audit_support import CALENDAR, DRAW_49, approved, other_seed
from tests.case_support import ZONE, bound_agent
from tests.export_support import after_stamp
from tests.factories import web_user
from tests.review_support import Desk, build_desk

EXPORT = "case_audit.report.export"


@dataclass
class Site:
    """Drawn cases of outlets a (4 approved, 2 drawn) and b (1 approved and drawn)."""

    desk: Desk
    config: AdminConfig
    audit_a: CaseAudit
    audit_b: CaseAudit


@pytest.fixture
async def site(database_url: str, tmp_path: Path) -> Site:
    desk = await build_desk(tmp_path)
    await approved(desk, 4)
    await approved(desk, 1, agent=await bound_agent(desk.ids["outlet_b"], "F002"))
    await case_audits.draw_weekly(DRAW_49, CALENDAR)
    config = AdminConfig(secret_key="test-secret", capture=desk.ctx, calendar=CALENDAR)
    first_a = await CaseAudit.filter(org_id=desk.ids["outlet_a"]).order_by("id").first()
    first_b = await CaseAudit.filter(org_id=desk.ids["outlet_b"]).first()
    assert first_a is not None and first_b is not None
    return Site(desk, config, first_a, first_b)


@asynccontextmanager
async def session(site: Site, org: str, role: Role, no: str) -> AsyncIterator[TestClient]:
    """A browser logged in as a new staff member with one role at an org of the tree."""
    _, username = await web_user(site.desk.ids[org], role, no=no)
    async with admin_site(site.config) as client:
        assert (await log_in(client, username)).url.path == "/"
        yield client


def finding(outcome: str = "error", code: str = "missing_paper", **extra: str
            ) -> dict[str, str]:
    return {"outcome": outcome, "error_code": code, "note": "", **extra}


async def test_auditor_opens_a_drawn_case_read_only_and_records_an_error(site: Site) -> None:
    row = site.audit_a
    case = await row.case
    url = f"/case-audits/{row.id}"
    async with session(site, "province", Role.AUDITOR, "A101") as client:
        home = await (await client.get("/")).text()
        queue = await (await client.get("/case-audits")).text()
        page = await (await client.get(url)).text()
        done = await submit(client, url, finding(against_agent="1"), page=url)
        done_text = await done.text()
        again = await submit(client, url, finding("ok"), page=url)
        again_text = await again.text()
    assert 'href="/case-audits"' in home
    assert case.case_no in queue and zh("Waiting for audit") in queue
    assert zh("Off-site audit of case %(case_no)s", case_no=case.case_no) in page
    assert f'/cases/{case.id}/photos/' in page and "审核乙" in page  # photos, decision trail
    assert f'action="/case-audits/{row.id}"' in page and "/approve" not in page
    assert done.url.path == "/case-audits"
    assert zh("The audit of case %(case_no)s is recorded.", case_no=case.case_no) in done_text
    recorded = await CaseAudit.get(id=row.id)
    assert (recorded.status, recorded.error_code, recorded.against_agent) == (
        CaseAuditStatus.ERROR, "missing_paper", True)
    assert sent_back(again, url)
    assert zh(case_audits.ALREADY_AUDITED, case_no=case.case_no) in again_text
    assert (await CaseAudit.get(id=row.id)).status == CaseAuditStatus.ERROR
    [entry] = await AuditLog.filter(action="case_audit.record")
    assert entry.detail["error_code"] == "missing_paper"


@pytest.mark.parametrize(("form", "message"), [
    (finding(code="invented", against_agent="1"), "Choose an error code from the list."),
    (finding(), "Say whom the error is against: the field agent, the reviewer or both."),
    (finding(code="other", against_reviewer="1"),
     "Describe the error in the note when you choose Other."),
])
async def test_bad_findings_are_refused_with_the_reason_and_write_nothing(
    site: Site, form: dict[str, str], message: str,
) -> None:
    url = f"/case-audits/{site.audit_a.id}"
    async with session(site, "province", Role.AUDITOR, "A101") as client:
        before = await AuditLog.exclude(action="case.view").count()
        refused = await submit(client, url, form, page=url)
        text = await refused.text()
        after = await AuditLog.exclude(action="case.view").count()
    assert sent_back(refused, url) and zh(message) in text
    assert (await CaseAudit.get(id=site.audit_a.id)).status == CaseAuditStatus.PENDING
    assert after == before


async def test_an_auditor_of_another_branch_is_refused(site: Site) -> None:
    url = f"/case-audits/{site.audit_a.id}"
    draw = await AuditDraw.get(org_id=site.desk.ids["outlet_a"])
    async with session(site, "branch_b", Role.AUDITOR, "A102") as client:
        queue = await (await client.get("/case-audits?status=all")).text()
        page = await client.get(url)
        posted = await submit(client, url, finding("ok"))
        draw_page = await client.get(f"/case-audits/draws/{draw.id}")
        own = await client.get(f"/case-audits/{site.audit_b.id}")
    a_case, b_case = await site.audit_a.case, await site.audit_b.case
    assert a_case.case_no not in queue and b_case.case_no in queue
    assert (page.status, posted.status, draw_page.status, own.status) == (404, 404, 404, 200)
    assert (await CaseAudit.get(id=site.audit_a.id)).status == CaseAuditStatus.PENDING


async def test_others_neither_see_the_menu_nor_record(site: Site) -> None:
    url = f"/case-audits/{site.audit_a.id}"
    async with session(site, "province", Role.REVIEWER, "R101") as reviewer:
        home = await (await reviewer.get("/")).text()
        refused = await reviewer.get("/case-audits")
    async with session(site, "province", Role.OPS_ADMIN, "O101") as ops:
        page = await (await ops.get(url)).text()
        posted = await submit(ops, url, finding("ok"), page=url)
    assert 'href="/case-audits"' not in home and refused.status == 403
    assert 'name="outcome"' not in page and posted.status == 403


async def test_the_draw_page_shows_seed_population_and_verification(site: Site) -> None:
    draw = await AuditDraw.get(org_id=site.desk.ids["outlet_a"])
    async with session(site, "province", Role.AUDITOR, "A101") as client:
        page = await (await client.get(f"/case-audits/draws/{draw.id}")).text()
        await AuditDraw.filter(id=draw.id).update(seed=other_seed(draw))
        tampered = await (await client.get(f"/case-audits/draws/{draw.id}")).text()
    assert draw.seed in page and "2026-W48" in page
    assert page.count('class="chosen"') == 2 and len(draw.population) == 4
    assert zh("Drawn again from the seed: the same cases.") in page
    assert zh("Drawn again from the seed: the cases differ from the queue.") in tampered


async def test_errors_show_in_the_rates_and_the_export_needs_a_purpose_and_is_audited(
    site: Site,
) -> None:
    others = await CaseAudit.filter(org_id=site.desk.ids["outlet_a"],
                                    id__gt=site.audit_a.id)
    today = utcnow().astimezone(ZONE).date()
    period = {"from": (today - timedelta(days=1)).isoformat(),
              "to": (today + timedelta(days=1)).isoformat()}
    report = f"/case-audits/report?from={period['from']}&to={period['to']}"
    async with session(site, "province", Role.AUDITOR, "A101") as client:
        for row, form in ((site.audit_a, finding(against_agent="1")),
                          (others[0], finding("ok"))):
            await submit(client, f"/case-audits/{row.id}", form, page="/case-audits")
        page = await (await client.get(report)).text()
        refused = await submit(client, "/case-audits/report/export",
                               period | {"purpose": " ", "fmt": "csv"}, page=report)
        refused_text = await refused.text()
        as_csv = await submit(client, "/case-audits/report/export",
                              period | {"purpose": "季度稽核通报", "fmt": "csv"}, page=report)
        csv_text = (await as_csv.read()).decode("utf-8-sig")
        as_xlsx = await submit(client, "/case-audits/report/export",
                               period | {"purpose": "季度稽核通报", "fmt": "xlsx"}, page=report)
        book = openpyxl.load_workbook(io.BytesIO(await as_xlsx.read()))
    assert "F001 员工F001" in page and "50.0" in page
    assert refused.status == 400 and zh("Enter the purpose of the export.") in refused_text
    lines = after_stamp(csv.reader(io.StringIO(csv_text)))
    assert lines[0][0] == zh("Level")
    assert [zh("Field agent"), "F001 员工F001", "网点a", "2", "1", "50.0"] in lines
    assert len(after_stamp(book.active.values)) == len(lines)
    exports = await AuditLog.filter(action=EXPORT).order_by("id")
    assert [e.detail["format"] for e in exports] == ["csv", "xlsx"]
    assert exports[0].detail["purpose"] == "季度稽核通报"
    assert exports[0].detail["responsible"] == "A101 员工A101"


async def test_a_backwards_period_is_refused(site: Site) -> None:
    async with session(site, "province", Role.AUDITOR, "A101") as client:
        page = await client.get("/case-audits/report?from=2026-12-31&to=2026-12-01")
        text = await page.text()
    assert page.status == 400
    assert zh("The start date must not be after the end date.") in text
