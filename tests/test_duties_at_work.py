"""Independence at work (S2, issue 13): nobody audits, calls back or inspects a case or box
he captured, reviewed or holds, even after moving to the role that checks it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from domain.models import BusinessType, Callback, CaseAudit, CaseAuditStatus, Role, Staff
from domain.oversight import callbacks, case_audits
from domain.oversight.case_audits import Finding
from domain.people import staff
from domain.platform.actors import Actor, actor_for
from domain.platform.errors import PermissionDenied
from tests.callback_support import CONFIRMED
from tests.callback_support import approved as approved_for_callback
from tests.case_audit_support import CALENDAR, DRAW_49, approved
from tests.case_support import MONDAY_10AM
from tests.factories import ROOT, person
from tests.review_support import build_desk


async def moved_to(actor: Actor, role: Role) -> Actor:
    """The same person after a system administrator gave him only `role`."""
    row = await Staff.get(id=actor.staff_id)
    await staff.update_staff(ROOT, row.id, staff.StaffForm(
        row.employee_no, row.name, row.org_id, frozenset({role})))  # type: ignore[attr-defined]
    return await actor_for(row)


async def test_a_reviewer_moved_to_audit_cannot_audit_his_own_approval(
        database_url: str, tmp_path: Path) -> None:
    desk = await build_desk(tmp_path)
    _, colleague = await person(desk.ids["province"], Role.AUDITOR, no="A001")
    [case] = await approved(desk, 1)
    await case_audits.draw_weekly(DRAW_49, CALENDAR)
    row = await CaseAudit.get(case_id=case.id)
    former_reviewer = await moved_to(desk.second, Role.AUDITOR)
    moment = DRAW_49 + timedelta(hours=1)
    with pytest.raises(PermissionDenied) as refused:
        await case_audits.record_finding(former_reviewer, row.id, Finding("ok"), CALENDAR,
                                         moment)
    assert "another auditor" in refused.value.key
    assert (await CaseAudit.get(id=row.id)).status == CaseAuditStatus.PENDING
    done = await case_audits.record_finding(colleague, row.id, Finding("ok"), CALENDAR, moment)
    assert done.status == CaseAuditStatus.OK


async def test_a_reviewer_moved_to_callbacks_neither_gets_nor_makes_his_cases_call(
        database_url: str, tmp_path: Path) -> None:
    desk = await build_desk(tmp_path)
    await BusinessType.all().update(callback_rate=100)
    caller = await moved_to(desk.reviewer, Role.CALLBACK_AGENT)
    case = await approved_for_callback(desk, MONDAY_10AM)
    assert await callbacks.sample_callbacks(MONDAY_10AM, CALENDAR) == 1
    callback = await Callback.get(case_id=case.id)
    seen = CONFIRMED.__class__(**{**CONFIRMED.__dict__, "attempts_seen": callback.attempts})
    with pytest.raises(PermissionDenied) as refused:
        await callbacks.record_call(caller, callback.id, seen, CALENDAR,
                                    now=MONDAY_10AM + timedelta(hours=1))
    assert callback.assigned_to_id is None  # type: ignore[attr-defined]
    assert "another callback agent must call" in refused.value.key
    assert (await Callback.get(id=callback.id)).attempts == 0
