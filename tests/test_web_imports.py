"""Imports in the web (training, exams, tablets, staff): a preview row by row that writes
nothing, then a commit of exactly the previewed rows, or nothing (Q2, D1)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from admin_web.views.imports import digest
from domain.ledgers import qualification_basis
from domain.ledgers.ledger_csv import MOST_WEB_ROWS
from domain.ledgers.qualification_basis import TrainingForm
from domain.models import AuditLog, Device, Org, Role, Staff, TrainingRecord
from tests.admin_support import csrf_token, session, submit, zh
from tests.factories import ROOT, org_tree, person

TRAINING = "employee_no,course,completed_on,hours,trainer\n"
ROW = "{},移动展业合规,2025-11-03,8,王老师\n"  # one training row of an employee number


@pytest.fixture
async def ids(database_url: str) -> dict[str, int]:
    found = await org_tree()
    await person(found["outlet_a"], Role.FIELD_AGENT, no="F001", name="张三")
    await person(found["outlet_a"], Role.FIELD_AGENT, no="F002", name="李四")
    return found


async def preview(client: TestClient, ledger: str, data: bytes) -> str:
    """Upload a file to an import's preview, as a browser does; the page answered."""
    form = FormData()
    form.add_field("csrf_token", await csrf_token(client, f"/imports/{ledger}"))
    form.add_field("file", data, filename="rows.csv", content_type="text/csv")
    return await (await client.post(f"/imports/{ledger}/preview", data=form)).text()


def commit_fields(page: str) -> dict[str, str]:
    """The hidden fields of a preview's commit form, unescaped as a browser sends them."""
    found = re.search(r'action="/imports/\w+/commit".*?</form>', page, re.S)
    assert found, page
    fields = dict(re.findall(r'name="(csv_text|digest)" value="([^"]*)"', found.group(0)))
    fields["csv_text"] = (fields["csv_text"].replace("&#34;", '"').replace("&#39;", "'")
                          .replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    return fields


async def test_the_preview_writes_nothing_and_the_commit_adds_exactly_its_rows(
        ids: dict[str, int]) -> None:
    text = TRAINING + ROW.format("F001") + ROW.format("F002")
    async with session(ids["province"], Role.OPS_ADMIN, "O001") as client:
        audited = await AuditLog.all().count()
        page = await preview(client, "training", text.encode("utf-8"))
        written = (await TrainingRecord.all().count(), await AuditLog.all().count())
        committed = await submit(client, "/imports/training/commit", commit_fields(page),
                                 page="/imports/training")
        shown = await committed.text()
    assert page.count('class="to-add"') == 2 and 'class="error"' not in page
    assert written == (0, audited)
    assert committed.url.path == "/qualifications"
    assert zh("%(count)s rows imported.", count=2) in shown
    assert sorted(await TrainingRecord.all().values_list("staff__employee_no", flat=True)) == [
        "F001", "F002"]


async def test_refused_rows_are_listed_by_line_and_nothing_can_be_committed(
        ids: dict[str, int]) -> None:
    text = TRAINING + ROW.format("F001") + ROW.format("F999")
    async with session(ids["province"], Role.OPS_ADMIN, "O001") as client:
        page = await preview(client, "training", text.encode("utf-8"))
    row = re.search(r'<tr class="error">\s*<td>3</td>.*?</tr>', page, re.S)
    assert row and zh("Unknown employee number %(employee_no)s.", employee_no="F999") in row[0]
    assert page.count('class="to-add"') == 1 and "/imports/training/commit" not in page
    assert not await TrainingRecord.exists()


async def test_a_commit_that_no_longer_matches_its_preview_writes_nothing(
        ids: dict[str, int]) -> None:
    text = TRAINING + ROW.format("F001") + ROW.format("F002")
    async with session(ids["province"], Role.OPS_ADMIN, "O001") as client:
        page = await preview(client, "training", text.encode("utf-8"))
        fields = commit_fields(page)
        longer = fields | {"csv_text": fields["csv_text"] + ROW.format("F003")}
        tampered = await submit(client, "/imports/training/commit", longer,
                                page="/imports/training")
        tampered_page = await tampered.text()
        agent = await Staff.get(employee_no="F002")
        await qualification_basis.record_training(ROOT, agent.id, TrainingForm(
            "移动展业合规", date(2025, 11, 3), Decimal(8), "王老师"))
        changed = await submit(client, "/imports/training/commit", fields,
                               page="/imports/training")
        changed_page = await changed.text()
    assert tampered.url.path == "/imports/training"
    assert zh("The file differs from its preview. Preview it again.") in tampered_page
    assert changed.url.path == "/imports/training"
    assert "Line 3" in changed_page or zh("Line %(line)s", line=3) in changed_page
    assert zh("This record is already in the ledger.") in changed_page
    assert await TrainingRecord.all().count() == 1  # only the one recorded meanwhile


async def test_a_bad_file_gets_a_clear_answer(ids: dict[str, int]) -> None:
    async with session(ids["province"], Role.IT_ADMIN, "I001") as client:
        binary = await preview(client, "devices", "资产,序列号".encode("gbk"))
        header = await preview(client, "devices", b"tag,serial\nPAD1,SN1\n")
        refused = await client.get("/imports/staff")
    assert zh("The file is not UTF-8 text.") in binary
    assert zh("The first line must be the header %(columns)s.",
              columns="asset_tag,serial,imei,model,purchase_date,org_code") in header
    assert refused.status == 403
    assert not await Device.exists()


async def test_staff_are_imported_from_the_web_through_the_staff_rules(ids: dict[str, int]
                                                                     ) -> None:
    outlet = await Org.get(id=ids["outlet_a"])
    text = ("employee_no,name,org_code,phone,roles\n"
            f"F010,周七,{outlet.code},13800000000,field_agent\n"
            f"F011,吴八,{outlet.code},,auditor;wizard\n")
    async with session(ids["province"], Role.SYSADMIN, "S001") as client:
        refused = await preview(client, "staff", text.encode("utf-8"))
        page = await preview(client, "staff", text.splitlines(keepends=True)[0].encode()
                             + text.splitlines(keepends=True)[1].encode())
        committed = await submit(client, "/imports/staff/commit", commit_fields(page),
                                 page="/imports/staff")
    assert "wizard" in re.search(r'<tr class="error">.*?</tr>', refused, re.S)[0]
    assert committed.url.path == "/staff"
    assert await Staff.filter(employee_no="F010", name="周七").exists()
    assert not await Staff.filter(employee_no="F011").exists()


async def test_a_file_too_long_for_the_web_or_unreadable_as_csv_is_refused(ids: dict[str, int]
                                                                           ) -> None:
    rows = "".join(ROW.format(f"F{n:05d}") for n in range(MOST_WEB_ROWS + 1))
    long_cell = TRAINING + ROW.format("F001").replace("王老师", '"' + "王" * 140_000 + '"')
    async with session(ids["province"], Role.OPS_ADMIN, "O001") as client:
        too_long = await preview(client, "training", (TRAINING + rows).encode("utf-8"))
        fields = {"csv_text": TRAINING + rows, "digest": digest(TRAINING + rows)}
        committed = await submit(client, "/imports/training/commit", fields,
                                 page="/imports/training")
        sent_back = await committed.text()
        unreadable = await preview(client, "training", long_cell.encode("utf-8"))
    assert zh("The file has %(count)s rows; import at most %(most)s at a time (split the "
              "file).", count=MOST_WEB_ROWS + 1, most=MOST_WEB_ROWS) in too_long
    assert committed.url.path == "/imports/training"
    assert zh("The file has %(count)s rows; import at most %(most)s at a time (split the "
              "file).", count=MOST_WEB_ROWS + 1, most=MOST_WEB_ROWS) in sent_back
    assert zh("Line %(line)s cannot be read as CSV (a cell is too long or badly quoted).",
              line=2) in unreadable
    assert not await TrainingRecord.exists()
