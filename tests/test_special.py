"""Out-of-hours special approvals (C2): request, supervisors told, decided once, gate opened."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from domain.cases import capture_gate, special
from domain.models import AuditLog, Role, SpecialApproval, SpecialApprovalStatus
from domain.platform.errors import DomainError, NotFound, PermissionDenied
from tests.case_support import MONDAY_8PM, refusal
from tests.factories import person
from tests.outbox_support import chat_buttons
from tests.review_support import Desk, build_desk, messages_to, rendered

HOUR = timedelta(hours=1)
ASKED_AT = MONDAY_8PM - 3 * HOUR  # 17:00 business time, still in working hours


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Desk:
    return await build_desk(tmp_path)


async def ask(desk: Desk, start_hours: float = -1, end_hours: float = 2,
              reason: str = "客户住院，只能晚间办理") -> SpecialApproval:
    """The agent asks for a window around 20:00."""
    return await special.request_special(
        desk.agent, MONDAY_8PM + timedelta(hours=start_hours),
        MONDAY_8PM + timedelta(hours=end_hours), reason, ASKED_AT)


async def test_request_reaches_the_supervisors_of_the_agents_chain(desk: Desk) -> None:
    _, top = await person(desk.ids["province"], Role.SUPERVISOR, no="S009")
    request = await ask(desk)
    assert request.status == SpecialApprovalStatus.REQUESTED
    for supervisor in (desk.supervisor, top):
        [message] = await messages_to(supervisor)
        text = rendered(message, "en")
        assert "2026-11-23 19:00" in text and "2026-11-23 22:00" in text
        assert "客户住院" in text and "F001" in text
        assert chat_buttons(message) == [
            [["Approve", f"sp:approve:{request.id}"], ["Refuse", f"sp:refuse:{request.id}"]],
            [["Open in web", "/special-approvals"]]]
    assert not await messages_to(desk.far_supervisor)
    assert await AuditLog.filter(action="special_approval.requested",
                                 object_id=str(request.id)).exists()


@pytest.mark.parametrize(("start", "end", "reason", "msgid"), [
    (-1, 2, "   ", "Give the reason why you must work outside working hours."),
    (2, 1, "加班", "The window must end after it starts."),
    (-6, -4, "加班", "The window must not end in the past."),
    (0, 13, "加班", "A special approval window may last at most %(hours)s hours."),
])
async def test_a_bad_window_or_reason_is_refused(desk: Desk, start: int, end: int, reason: str,
                                                 msgid: str) -> None:
    refused = await refusal(ask, desk, start, end, reason)
    assert refused.key == msgid
    assert not await SpecialApproval.exists()


async def test_only_field_agents_ask_and_never_twice_for_the_same_hours(desk: Desk) -> None:
    with pytest.raises(PermissionDenied):
        await special.request_special(desk.supervisor, MONDAY_8PM, MONDAY_8PM + HOUR, "加班",
                                      ASKED_AT)
    await ask(desk)
    refused = await refusal(ask, desk, 1, 3)
    assert refused.key == ("You already have a request or an approval for a window that "
                           "overlaps this one.")
    assert await SpecialApproval.all().count() == 1


async def test_only_an_approved_window_opens_the_gate_and_only_while_it_lasts(desk: Desk) -> None:
    agent_id = desk.agent.staff_id
    assert agent_id is not None
    request = await ask(desk)
    with pytest.raises(DomainError):
        await capture_gate.capture_gate(agent_id, desk.plain_type_id, MONDAY_8PM, desk.ctx)
    approved = await special.decide_special(desk.supervisor, request.id, True, "同意", ASKED_AT)
    assert approved.status == SpecialApprovalStatus.APPROVED
    assert approved.decided_by_id == desk.supervisor.staff_id  # type: ignore[attr-defined]
    await capture_gate.capture_gate(agent_id, desk.plain_type_id, MONDAY_8PM, desk.ctx)
    with pytest.raises(DomainError):
        await capture_gate.capture_gate(agent_id, desk.plain_type_id, MONDAY_8PM + 3 * HOUR,
                                        desk.ctx)
    [told] = await messages_to(desk.agent)
    text = rendered(told, "en")
    assert "approved by S001" in text and "同意" in text and "19:00" in text
    assert await AuditLog.filter(action="special_approval.approved").count() == 1


async def test_a_refused_request_keeps_the_gate_shut_and_tells_the_agent(desk: Desk) -> None:
    agent_id = desk.agent.staff_id
    assert agent_id is not None
    request = await ask(desk)
    refused = await special.decide_special(desk.supervisor, request.id, False, "", ASKED_AT)
    assert refused.status == SpecialApprovalStatus.REFUSED
    with pytest.raises(DomainError):
        await capture_gate.capture_gate(agent_id, desk.plain_type_id, MONDAY_8PM, desk.ctx)
    [told] = await messages_to(desk.agent)
    assert "was refused by S001" in rendered(told, "en")
    again = await ask(desk)
    assert again.status == SpecialApprovalStatus.REQUESTED


async def test_a_request_is_decided_once_by_a_supervisor_in_scope(desk: Desk) -> None:
    request = await ask(desk)
    with pytest.raises(NotFound):
        await special.decide_special(desk.far_supervisor, request.id, True, now=ASKED_AT)
    with pytest.raises(PermissionDenied):
        await special.decide_special(desk.reviewer, request.id, True, now=ASKED_AT)
    with pytest.raises(NotFound):
        await special.decide_special(desk.supervisor, 999_999, True, now=ASKED_AT)
    await special.decide_special(desk.supervisor, request.id, True, now=ASKED_AT)
    refused = await refusal(special.decide_special, desk.supervisor, request.id, False,
                            now=ASKED_AT)
    assert refused.key == "This special approval request has already been approved."
    assert (await SpecialApproval.get(id=request.id)).status == SpecialApprovalStatus.APPROVED
    assert len(await messages_to(desk.agent)) == 1


async def test_a_supervisor_cannot_approve_his_own_request(desk: Desk) -> None:
    _, both = await person(desk.ids["outlet_a"], Role.FIELD_AGENT, Role.SUPERVISOR, no="X001")
    request = await special.request_special(both, MONDAY_8PM, MONDAY_8PM + HOUR, "夜间服务",
                                            ASKED_AT)
    refused = await refusal(special.decide_special, both, request.id, True, now=ASKED_AT)
    assert refused.key == "You cannot decide your own special approval request."


async def test_a_window_that_has_ended_can_only_be_refused(desk: Desk) -> None:
    request = await ask(desk)
    after = MONDAY_8PM + 3 * HOUR
    refused = await refusal(special.decide_special, desk.supervisor, request.id, True, now=after)
    assert refused.key == "This window has already ended; it can no longer be approved."
    late = await special.decide_special(desk.supervisor, request.id, False, now=after)
    assert late.status == SpecialApprovalStatus.REFUSED


async def test_lists_show_the_scope_and_the_agents_own_requests(desk: Desk) -> None:
    first = await ask(desk, -1, 0)
    second = await ask(desk, 0, 1)
    await special.decide_special(desk.supervisor, first.id, True, now=ASKED_AT)
    listed = (await special.list_special(desk.supervisor)).rows
    assert [r.id for r in listed] == [second.id, first.id]
    waiting = (await special.list_special(desk.supervisor, SpecialApprovalStatus.REQUESTED)).rows
    assert [r.id for r in waiting] == [second.id] and waiting[0].staff.name == "员工F001"
    assert (await special.list_special(desk.far_supervisor)).rows == []
    with pytest.raises(PermissionDenied):
        await special.list_special(desk.reviewer)
    assert [r.id for r in await special.my_requests(desk.agent)] == [second.id, first.id]
