"""Admin-site test helpers: a site client, log-in, and a database with a row of every kind."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from tortoise.models import Model

from admin_web.app import AdminConfig, init_app
from domain.ledgers import incidents
from domain.models import (
    AuditDraw,
    BoxCount,
    BusinessType,
    Callback,
    Case,
    CaseAudit,
    CasePhoto,
    CountKind,
    Device,
    Incident,
    IncidentKind,
    Inspection,
    InspectionSample,
    MisIssue,
    Org,
    OutboxMessage,
    Qualification,
    ReviewReason,
    Role,
    SpecialApproval,
    Staff,
    StaffRole,
    TailBox,
    VoidRequest,
    Voucher,
    VoucherState,
    WebCredential,
    WebNotice,
    WebSession,
)
from domain.people import auth, staff
from domain.platform.actors import Actor, actor_for
from domain.platform.calendar import Calendar
from domain.vouchers import day_end_counts, mis_issues, tail_boxes, voucher_counts
from fieldops.demo import DEMO_PASSWORD, LOST_CARD_HOLDER, MIS_ISSUE_BOX, seed_demo
from locales import translate
from tests.factories import ROOT, capture_context, org_tree, web_user

PASSWORD = "Secret-pass-123"
CONFIG = AdminConfig(secret_key="test-secret", bot_username="fieldops_test_bot")
# Demo web users by role (fieldops.demo.PEOPLE): each may see some of the admin lists.
DEMO_USERS = ("admin", "ops", "it", "auditor", "reviewer", "callback", "bizhead", "supervisor")
DISCREPANCY_AGENT = "E0101"
# The row each path parameter of the router names; staff and photos are chosen apart.
PATH_MODELS: dict[str, type[Model]] = {
    "approval_id": SpecialApproval, "audit_id": CaseAudit, "box_id": TailBox,
    "business_type_id": BusinessType, "callback_id": Callback, "case_id": Case,
    "device_id": Device, "draw_id": AuditDraw, "incident_id": Incident,
    "inspection_id": Inspection, "message_id": OutboxMessage, "mis_issue_id": MisIssue,
    "org_id": Org, "qualification_id": Qualification, "reason_id": ReviewReason,
    "sample_id": InspectionSample, "session_id": WebSession, "void_id": VoidRequest,
    "notice_id": WebNotice,
}
# A path parameter of a route pattern, with or without its regular expression.
PARAMETER = re.compile(r"\{(\w+)(?::[^{}]*(?:\{\d+\}[^{}]*)*)?\}")


@asynccontextmanager
async def admin_site(config: AdminConfig = CONFIG) -> AsyncIterator[TestClient]:
    """A client of a freshly built admin site."""
    async with TestClient(TestServer(init_app(config))) as client:
        yield client


async def csrf_token(client: TestClient, page: str = "/login") -> str:
    """The CSRF token rendered into a page's forms."""
    html = await (await client.get(page)).text()
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def zh(message: str, **params: object) -> str:
    """What a Chinese user reads for a msgid."""
    return translate("zh_CN", message, **params)


async def submit(client: TestClient, url: str, data: dict[str, str] | list[tuple[str, str]],
                 page: str = "/") -> ClientResponse:
    """Post a form the way a browser does, with the token of the page it sits on."""
    fields = list(data.items()) if isinstance(data, dict) else list(data)
    return await client.post(url, data=[*fields, ("csrf_token", await csrf_token(client, page))])


def sent_back(response: ClientResponse, page: str) -> bool:
    """A refused form answered 303 back to its page (post/redirect/get), now shown."""
    return (response.status == 200 and response.url.path == page
            and [step.status for step in response.history] == [303])


async def log_in(client: TestClient, username: str, password: str = PASSWORD) -> ClientResponse:
    """Fill in the log-in form."""
    return await submit(client, "/login", {"username": username, "password": password},
                        page="/login")


async def sysadmin_session(client: TestClient) -> dict[str, int]:
    """An org tree and a logged-in system admin; returns the org ids."""
    ids = await org_tree()
    _, username = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    assert (await log_in(client, username)).url.path == "/"
    return ids


async def demo_log_in(client: TestClient, username: str) -> ClientResponse:
    """Log a demo user in with the demo password."""
    return await log_in(client, username, DEMO_PASSWORD)


def site_config(media_root: Path) -> AdminConfig:
    """The admin site as `fieldops run` builds it: with the capture context (C10)."""
    return replace(CONFIG, capture=capture_context(media_root))


async def seed_every_kind(media_root: Path) -> None:
    """The demo with its month of history, plus what the demo leaves out, so every list
    has a row of each kind and state the services create: a repeated loss, a discrepancy,
    an incident marked major by hand, a closed one, a mis-issue written off besides the one
    being recovered (D3, Q4, V3, V6)."""
    ctx = capture_context(media_root)
    await seed_demo(lambda *_: None, ctx, Calendar(zone=ctx.zone))
    ops = await actor_for(await Staff.get(employee_no="E0002"))
    lost_tablet = await Incident.get(kind=IncidentKind.DEVICE_LOSS)
    moment = lost_tablet.reported_at + timedelta(days=1)
    repeated = await actor_for(await Staff.get(employee_no=LOST_CARD_HOLDER))
    await incidents.report_loss(repeated, incidents.LossReport(
        "papers", "客户身份证复印件", moment, "地铁站", "复印件遗失"), moment)
    await incidents.mark_major(ops, lost_tablet.id, "客户资料外泄风险", moment)
    complaint = await Incident.get(kind=IncidentKind.COMPLAINT)
    await incidents.close_incident(ops, complaint.id, "已向客户致歉并重新培训", moment)
    await _discrepancy(moment)
    await _written_off_mis_issue(ops, moment)


async def _written_off_mis_issue(ops: Actor, moment: datetime) -> None:
    """A second card of the mis-issue box handed out by mistake, which the customer never
    returns: written off, a major incident (V6, Q4)."""
    box = await tail_boxes.box_for_device((await Device.get(asset_tag=MIS_ISSUE_BOX)).id)
    wrong = await Voucher.filter(box_id=box.id, state=VoucherState.IN_BOX).order_by(
        "-serial").first()
    assert wrong is not None
    mis = await mis_issues.record_mis_issue(ops, wrong.serial, "错将另一张卡交给客户", now=moment)
    await mis_issues.write_off_mis_issue(ops, mis.id, "客户已出国，无法收回", moment)


async def _discrepancy(now: datetime) -> None:
    """Agent1 counts his box wrong twice at day end: a discrepancy incident (V3)."""
    await day_end_counts.request_day_end_counts(now)
    agent = await actor_for(await Staff.get(employee_no=DISCREPANCY_AGENT))
    count = await BoxCount.get(holder_id=agent.staff_id, kind=CountKind.DAY_END)
    request = await voucher_counts.count_to_answer(agent, count.id)
    nothing = {kind.code: 0 for kind in request.types}
    for minutes in (1, 2):
        await voucher_counts.answer_count(agent, count.id, nothing,
                                          now + timedelta(minutes=minutes))


async def web_login(no: str) -> str:
    """Give a staff member a web log-in (first password change done) once; its user name."""
    row = await Staff.get(employee_no=no)
    username = f"u{no}"
    if not await WebCredential.exists(staff_id=row.id):
        initial = await staff.grant_web_login(ROOT, row.id, username)
        await auth.change_password(await actor_for(row), initial, PASSWORD, PASSWORD)
    return username


@asynccontextmanager
async def session(org_id: int, role: Role, no: str) -> AsyncIterator[TestClient]:
    """A browser logged in as a new staff member with one role."""
    _, username = await web_user(org_id, role, no=no)
    async with admin_site() as client:
        assert (await log_in(client, username)).url.path == "/"
        yield client


async def valid_path_values() -> dict[str, str]:
    """An existing row for each path parameter: a field agent for staff, a case's photo."""
    values = {}
    for name, model in PATH_MODELS.items():
        row = await model.all().order_by("id").first()
        values[name] = str(row.pk if row else 1)
    agent = await StaffRole.filter(role=Role.FIELD_AGENT).order_by("id").first()
    values["staff_id"] = str(agent.staff_id if agent else 1)  # type: ignore[attr-defined]
    tablet = await Device.all().order_by("id").first()
    values["code"] = tablet.asset_tag if tablet else "_"  # a printed label's code
    values["ledger"] = "training"  # a web import (admin_web/views/imports.py)
    photo = await CasePhoto.all().order_by("id").first()
    values["sha256"] = photo.sha256 if photo else "0" * 64
    if photo:
        values["case_id"] = str(photo.case_id)  # type: ignore[attr-defined]
    return values


def fill(pattern: str, values: dict[str, str]) -> str:
    """A route pattern with its path parameters filled in."""
    return PARAMETER.sub(lambda m: values[m.group(1)] or "_", pattern)
