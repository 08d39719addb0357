"""A page per person (issue 16): what a supervisor looks for first about an agent, within his
org scope; the audit lines only for the auditor; a field agent reads only his own page."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.cases import review
from domain.models import (
    Callback,
    CallbackOutcome,
    CallbackStatus,
    Incident,
    IncidentKind,
    Role,
)
from domain.oversight.person_history import person_history
from domain.platform import clock
from domain.platform.errors import PermissionDenied
from locales import translate
from tests.admin_support import admin_site, log_in, web_login
from tests.factories import web_user
from tests.review_support import Desk, build_desk, seen, submitted_case


async def agent_with_history(tmp_path: Path) -> tuple[Desk, list[str]]:
    """The desk's agent with two cases (one approved, with a completed callback) and a lost
    tablet incident; the case numbers."""
    desk = await build_desk(tmp_path)
    approved = await submitted_case(desk)
    waiting = await submitted_case(desk, seed=1)
    await review.claim(desk.reviewer, approved.id)
    await seen(desk.reviewer, approved.id)
    await review.approve(desk.reviewer, approved.id, desk.ctx)
    now = clock.utcnow()
    await Callback.create(
        case=approved, org_id=approved.org_id, business_type_id=desk.plain_type_id,  # type: ignore[attr-defined]
        field_agent_id=desk.agent.staff_id, status=CallbackStatus.COMPLETED,
        outcome=CallbackOutcome.CONFIRMED, satisfaction=5, draw=1, scheduled_at=now,
        due_at=now, created_at=now)
    await Incident.create(kind=IncidentKind.DEVICE_LOSS, staff_id=desk.agent.staff_id,
                          org_id=desk.ids["outlet_a"], reported_at=now)
    return desk, [str(approved.case_no), str(waiting.case_no)]


async def test_supervisor_reads_his_agents_history(database_url: str, tmp_path: Path) -> None:
    desk, case_nos = await agent_with_history(tmp_path)
    agent = desk.agent.staff_id
    async with admin_site() as client:
        await log_in(client, await web_login("S001"))
        page = await client.get(f"/people/{agent}")
        text = await page.text()
        staff_list = await (await client.get("/staff")).text()
    assert page.status == 200
    assert "员工F001" in text and translate("zh_CN", "Field agent") in text
    assert "借记卡开户" in text and "PAD00001" in text  # qualification, tablet and box
    assert all(f">{number}</a>" in text for number in case_nos)
    assert f'href="/cases?agent_id={agent}&amp;status=approved"' in text
    assert f'href="/cases?agent_id={agent}&amp;status=submitted"' in text
    assert translate("zh_CN", "Device lost") in text
    assert translate("zh_CN", "Customer confirmed the business") in text
    assert "person-audit" not in text  # the audit log is the auditor's
    assert f'<a href="/people/{agent}">员工F001</a>' in staff_list


async def test_the_auditor_sees_the_audit_lines_about_him(database_url: str,
                                                           tmp_path: Path) -> None:
    desk, _ = await agent_with_history(tmp_path)
    _, username = await web_user(desk.ids["province"], Role.AUDITOR, no="A001")
    async with admin_site() as client:
        await log_in(client, username)
        text = await (await client.get(f"/people/{desk.agent.staff_id}")).text()
    assert 'data-action="case.submitted"' in text
    assert 'data-action="case.approved"' not in text  # the reviewer's, not about the agent
    assert f'href="/audit?person={desk.agent.staff_id}"' in text


async def test_a_page_outside_the_scope_is_not_found(database_url: str, tmp_path: Path) -> None:
    desk = await build_desk(tmp_path)
    async with admin_site() as client:
        await log_in(client, await web_login("S002"))  # the supervisor of branch b
        outside = await client.get(f"/people/{desk.agent.staff_id}")
        own = await client.get(f"/people/{desk.far_supervisor.staff_id}")
    assert outside.status == 404 and own.status == 200


async def test_a_field_agent_reads_only_his_own_page(database_url: str, tmp_path: Path) -> None:
    desk = await build_desk(tmp_path)
    own = await person_history(desk.agent, desk.agent.staff_id)
    assert own.staff.employee_no == "F001" and own.audit_lines is None
    with pytest.raises(PermissionDenied):
        await person_history(desk.agent, desk.reviewer.staff_id)
    with pytest.raises(PermissionDenied):
        await person_history(desk.reviewer, desk.agent.staff_id)
