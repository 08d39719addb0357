"""Customer callbacks in the admin web: the queue, the audited reveal, the script, scope, and
the report with its audited export (K1, Q4, S1, S4)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from aiohttp.test_utils import TestClient
from markupsafe import escape

from admin_web.app import AdminConfig
from admin_web.views.callbacks import DONE_MESSAGES
from domain.models import (
    AuditLog,
    BusinessType,
    Callback,
    CallbackAttempt,
    CallbackOutcome,
    CallbackStatus,
    Incident,
    OutboxMessage,
    Role,
)
from domain.oversight import callbacks
from domain.oversight.callbacks import CallRecord
from domain.platform import clock
from domain.platform.actors import Actor, actor_for
from domain.platform.calendar import Calendar
from tests.admin_support import admin_site, log_in, sent_back, submit, zh
from tests.callback_support import CONFIRMED, approved
from tests.export_support import after_stamp
from tests.factories import web_user
from tests.review_support import Desk, build_desk

CALENDAR = Calendar()
EXPORT = "callback.report.export"


@dataclass
class Site:
    """A review desk, its admin site, and web log-ins: callback agents at branch a (two)
    and branch b, an ops admin at the province, a supervisor at sub-branch a."""

    desk: Desk
    config: AdminConfig
    users: dict[str, str]
    actors: dict[str, Actor]


@pytest.fixture
async def site(database_url: str, tmp_path: Path) -> Site:
    desk = await build_desk(tmp_path)
    await BusinessType.all().update(callback_rate=100)
    users: dict[str, str] = {}
    actors: dict[str, Actor] = {}
    for key, org, role in (("caller", "branch_a", Role.CALLBACK_AGENT),
                           ("caller2", "branch_a", Role.CALLBACK_AGENT),
                           ("far_caller", "branch_b", Role.CALLBACK_AGENT),
                           ("ops", "province", Role.OPS_ADMIN),
                           ("supervisor", "sub_a", Role.SUPERVISOR)):
        row, users[key] = await web_user(desk.ids[org], role, no=f"W{len(users):03d}")
        actors[key] = await actor_for(row)
    config = AdminConfig(secret_key="test-secret", capture=desk.ctx, calendar=CALENDAR)
    return Site(desk, config, users, actors)


@asynccontextmanager
async def browser(site: Site, who: str) -> AsyncIterator[TestClient]:
    """A browser logged in as one of the site's users."""
    async with admin_site(site.config) as client:
        assert (await log_in(client, site.users[who])).url.path == "/"
        yield client


async def due_callbacks(site: Site, count: int) -> list[Callback]:
    """Approved cases drawn now, their calls moved an hour into the past so they are due."""
    for _ in range(count):
        await approved(site.desk)
    now = clock.utcnow()
    await callbacks.sample_callbacks(now, CALENDAR)
    await Callback.all().update(scheduled_at=now - timedelta(hours=1))
    return list(await Callback.all().order_by("id"))


def assigned(site: Site, callback: Callback) -> str:
    """The key of the site user the callback is assigned to."""
    return next(key for key, actor in site.actors.items()
                if actor.staff_id == callback.assigned_to_id)  # type: ignore[attr-defined]


def script(callback: Callback, **fields: str) -> dict[str, str]:
    """The script form as shown for the callback, with the given answers."""
    return {"attempts": str(callback.attempts), "comment": ""} | fields


async def test_the_queue_shows_due_callbacks_masked_and_marks_unassigned_ones(
        site: Site) -> None:
    rows = await due_callbacks(site, 3)
    await Callback.filter(id=rows[2].id).update(assigned_to_id=None)
    mine = [row for row in rows[:2] if assigned(site, row) == "caller"]
    async with browser(site, "caller") as client:
        page = await (await client.get("/callbacks")).text()
    listed = set(map(int, re.findall(r'data-callback="(\d+)"', page)))
    assert listed == {row.id for row in mine} | {rows[2].id}
    assert 'href="/callbacks"' in page and "138****5678" in page and "13812345678" not in page
    assert zh("Unassigned") in page and "张三" in page


async def test_reveal_shows_the_mobile_once_and_is_audited(site: Site) -> None:
    [callback] = await due_callbacks(site, 1)
    who = assigned(site, callback)
    async with browser(site, who) as client:
        page = await (await client.get(f"/callbacks/{callback.id}")).text()
        revealed = await submit(client, f"/callbacks/{callback.id}/reveal", {},
                                page=f"/callbacks/{callback.id}")
        shown = await revealed.text()
    assert "13812345678" not in page and "138****5678" in page
    assert revealed.status == 200 and "13812345678" in shown
    row = await AuditLog.get(action="callback.customer_reveal")
    assert row.actor_id == site.actors[who].staff_id


async def test_a_denial_through_the_script_opens_a_major_incident_and_alerts(
        site: Site) -> None:
    [callback] = await due_callbacks(site, 1)
    page = f"/callbacks/{callback.id}"
    async with browser(site, assigned(site, callback)) as client:
        done = await submit(client, f"{page}/calls", script(
            callback, result="denied", in_person="no", comment="客户称从未办理"), page=page)
        listed = await done.text()
        finished = await (await client.get(page)).text()
    assert done.status == 200 and done.url.path == "/callbacks"
    await callback.fetch_related("case")
    flash = zh(DONE_MESSAGES[CallbackOutcome.DENIED], case_no=callback.case.case_no)
    assert str(escape(flash)) in listed
    row = await Callback.get(id=callback.id)
    assert (row.status, row.outcome) == (CallbackStatus.COMPLETED, CallbackOutcome.DENIED)
    assert (await Incident.get()).major
    assert zh("Customer denies the business") in finished and 'name="result"' not in finished
    assert "客户称从未办理" in finished
    alerted = await OutboxMessage.filter(template=callbacks.DENIAL_ALERT).values_list(
        "recipient_id", flat=True)
    assert site.actors["ops"].staff_id in alerted
    assert site.actors["supervisor"].staff_id in alerted


async def test_bad_script_input_is_refused_with_the_reason_and_writes_nothing(
        site: Site) -> None:
    [callback] = await due_callbacks(site, 1)
    page = f"/callbacks/{callback.id}"
    audit_rows = await AuditLog.exclude(action__startswith="auth.").count()
    async with browser(site, assigned(site, callback)) as client:
        seven = await submit(client, f"{page}/calls", script(
            callback, result="confirmed", in_person="yes", risk_hints="yes",
            satisfaction="7"), page=page)
        seven_page = await seven.text()
        unanswered = await submit(client, f"{page}/calls", script(
            callback, result="confirmed", satisfaction="4"), page=page)
        unanswered_page = await unanswered.text()
    assert sent_back(seven, page) and sent_back(unanswered, page)
    assert str(escape(zh("Rate the customer's satisfaction from 1 to 5."))) in seven_page
    assert str(escape(zh("Record whether the customer did the business in person."))) \
        in unanswered_page
    after = await Callback.get(id=callback.id)
    assert (after.status, after.attempts) == (CallbackStatus.SCHEDULED, 0)
    assert await CallbackAttempt.all().count() == 0
    assert await AuditLog.exclude(action__startswith="auth.").count() == audit_rows


async def test_another_orgs_callback_is_refused(site: Site) -> None:
    [callback] = await due_callbacks(site, 1)
    page = f"/callbacks/{callback.id}"
    async with browser(site, "far_caller") as client:
        seen = await client.get(page)
        queue = await (await client.get("/callbacks?show=upcoming")).text()
        recorded = await submit(client, f"{page}/calls", script(callback, result="unreached"),
                                page="/callbacks")
        revealed = await submit(client, f"{page}/reveal", {}, page="/callbacks")
    assert seen.status == recorded.status == revealed.status == 404
    assert f'data-callback="{callback.id}"' not in queue
    assert await CallbackAttempt.all().count() == 0
    assert not await AuditLog.filter(action="callback.customer_reveal").exists()


async def test_the_case_link_is_shown_only_to_those_who_may_view_the_case(site: Site) -> None:
    [callback] = await due_callbacks(site, 1)
    link = f'href="/cases/{callback.case_id}"'  # type: ignore[attr-defined]
    async with browser(site, assigned(site, callback)) as client:
        as_caller = await (await client.get(f"/callbacks/{callback.id}")).text()
    async with browser(site, "supervisor") as client:
        as_supervisor = await (await client.get(f"/callbacks/{callback.id}")).text()
    assert link not in as_caller and link in as_supervisor
    assert 'name="result"' in as_caller and 'name="result"' not in as_supervisor


async def worked(site: Site) -> list[Callback]:
    """Five callbacks: confirmed (5), complaint (2), denied, unreachable, still open."""
    rows = await due_callbacks(site, 5)
    now = clock.utcnow()
    records = [CONFIRMED, CallRecord("complaint", in_person="yes", risk_hints="no",
                                     satisfaction=2, comment="未提示风险"),
               CallRecord("denied", comment="否认办理")]
    for row, record in zip(rows, records, strict=False):
        actor = site.actors[assigned(site, row)]
        await callbacks.record_call(actor, row.id, record, CALENDAR, now=now)
    actor = site.actors[assigned(site, rows[3])]
    for n in range(CALENDAR.callback_max_attempts):
        await callbacks.record_call(actor, rows[3].id, CallRecord("unreached", attempts_seen=n),
                                    CALENDAR, now=now)
    await Callback.filter(id=rows[4].id).update(due_at=now - timedelta(minutes=1))
    return rows


def total_row(page: str) -> dict[str, str]:
    """The figures of the report's total row by column class."""
    row = re.search(r'<tr class="report-row total"[^>]*>(.*?)</tr>', page, re.S)
    assert row, page
    return dict(re.findall(r'<td class="num (\w+)">([^<]*)</td>', row.group(1)))


async def test_report_figures_equal_direct_counts(site: Site) -> None:
    await worked(site)
    today = clock.utcnow().astimezone(CALENDAR.zone).date()
    span = f"start={today - timedelta(days=7)}&end={today + timedelta(days=14)}"
    async with browser(site, "ops") as client:
        page = await (await client.get(f"/callbacks/report?{span}&by=org")).text()
        by_type = await (await client.get(f"/callbacks/report?{span}&by=business_type")).text()
    figures = total_row(page)
    now = clock.utcnow()
    rated = await Callback.exclude(satisfaction=None).values_list("satisfaction", flat=True)
    assert figures == {
        "due": str(await Callback.all().count()),
        "done": str(await Callback.filter(status=CallbackStatus.COMPLETED).count()),
        "unreachable": str(await Callback.filter(status=CallbackStatus.UNREACHABLE).count()),
        "overdue": str(await Callback.filter(status__in=callbacks.OPEN, due_at__lte=now).count()),
        "reach_rate": "75.0",
        "satisfaction": str(round(sum(rated) / len(rated), 2)),
        "denied": str(await Callback.filter(outcome=CallbackOutcome.DENIED).count()),
        "complaints": str(await Callback.filter(outcome=CallbackOutcome.COMPLAINT).count()),
    }
    assert figures["due"] == "5" and figures["overdue"] == "1"
    assert "借记卡开户" in by_type and total_row(by_type) == figures


async def test_export_requires_a_purpose_and_is_audited(site: Site) -> None:
    await worked(site)
    today = clock.utcnow().astimezone(CALENDAR.zone).date()
    form = {"start": str(today - timedelta(days=7)), "end": str(today + timedelta(days=14)),
            "by": "field_agent"}
    async with browser(site, "ops") as client:
        refused = await submit(client, "/callbacks/report/export", form | {
            "purpose": " ", "fmt": "csv"}, page="/callbacks/report")
        refused_page = await refused.text()
        as_csv = await submit(client, "/callbacks/report/export", form | {
            "purpose": "季度回访分析", "fmt": "csv"}, page="/callbacks/report")
        csv_body = await as_csv.read()
        as_xlsx = await submit(client, "/callbacks/report/export", form | {
            "purpose": "报送运营管理部", "fmt": "xlsx"}, page="/callbacks/report")
        xlsx_body = await as_xlsx.read()
    async with browser(site, "caller") as client:
        forbidden = await submit(client, "/callbacks/report/export", form | {
            "purpose": "看看", "fmt": "csv"}, page="/callbacks/report")
    assert refused.status == 400 and zh("Enter the purpose of the export.") in refused_page
    assert as_csv.status == as_xlsx.status == 200 and forbidden.status == 403
    table = after_stamp(csv.reader(io.StringIO(csv_body.decode("utf-8-sig"))))
    assert table[0][0] == zh("Field agent") and table[-1][0] == zh("Total")
    assert table[-1][1] == "5"
    lines = after_stamp(openpyxl.load_workbook(io.BytesIO(xlsx_body)).active.values)
    assert lines[-1][1] == 5 and lines[-1][7] == 1
    audits = await AuditLog.filter(action=EXPORT).order_by("id")
    assert [(row.detail["purpose"], row.detail["format"]) for row in audits] == [
        ("季度回访分析", "csv"), ("报送运营管理部", "xlsx")]
    assert audits[0].actor_id == site.actors["ops"].staff_id


async def test_staff_without_the_callback_permission_are_refused(site: Site) -> None:
    _, username = await web_user(site.desk.ids["branch_a"], Role.REVIEWER, no="R900")
    site.users["reviewer"] = username
    async with browser(site, "reviewer") as client:
        home = await (await client.get("/")).text()
        queue = await client.get("/callbacks")
        report = await client.get("/callbacks/report")
    assert 'href="/callbacks"' not in home
    assert queue.status == report.status == 403
