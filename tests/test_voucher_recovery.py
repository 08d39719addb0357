"""A closed case's card and mis-issue deadlines (V6, Q4, S1): the card of a rejected or
cancelled case is not back in the box until the holder takes it back, or it is written off
like a mis-issue; recovery deadlines are bounded by the setting, chosen only by voucher
managers, reminded before and escalated after. On SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.actions import TOOK_IT_BACK
from domain.cases import cases
from domain.models import (
    AuditLog,
    CaseEvent,
    CaseEventKind,
    Incident,
    IncidentKind,
    MisIssue,
    MisIssueKind,
    MisIssueStatus,
    OutboxMessage,
    Role,
    VoidKind,
    VoidRequest,
    Voucher,
    VoucherState,
)
from domain.platform.calendar import Calendar
from domain.platform.errors import DomainError, PermissionDenied
from domain.vouchers import (
    case_vouchers,
    mis_issue_deadlines,
    mis_issues,
    tail_boxes,
    voids,
    voucher_stock,
)
from fieldops import settings as settings_module
from fieldops.bootstrap import bootstrap
from fieldops.settings import SettingsError, load_settings
from scheduler.jobs import calendar_jobs
from tests.admin_support import admin_site, log_in, submit, zh
from tests.factories import person, web_user
from tests.outbox_support import chat_buttons
from tests.voucher_support import World, agent_with_box, card, count_box, voucher_world

ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 business time
CALENDAR = Calendar(zone=ZONE)


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> World:
    """Three cards in the agent's box; card 1 reserved by his draft; a supervisor."""
    w = await voucher_world(tmp_path / "media")
    await voucher_stock.set_cap(w.ops, w.ids["outlet_a"], w.card_type.id, 10)
    await voucher_stock.receive_range(w.ops, w.ids["outlet_a"], w.card_type.id, card(1), card(5),
                                      T0)
    await voucher_stock.allocate(w.ops, w.box.id, w.card_type.id, count=3, now=T0)
    await person(w.ids["outlet_a"], Role.SUPERVISOR, no="S001", name="周主管")
    return w


async def draft_with_card(world: World) -> int:
    case = await cases.start_draft(world.agent, world.business_type_id, world.ctx, T0)
    await case_vouchers.reserve_for_case(world.agent, case.id, card(1), T0)
    return case.id


async def state_of(serial: str) -> VoucherState:
    return (await Voucher.get(serial=serial)).state


async def refusal(call, *args, **kwargs) -> DomainError:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as refused:
        await call(*args, **kwargs)
    return refused.value


# --- the card of a closed case -----------------------------------------------------------


async def test_a_cancelled_draft_does_not_put_its_card_back_in_the_box(world: World) -> None:
    case_id = await draft_with_card(world)
    await cases.cancel(world.agent, case_id)
    assert await state_of(card(1)) == VoucherState.MIS_ISSUED
    mis = await MisIssue.get(case_id=case_id)
    assert (mis.kind, mis.status, mis.holder_id) == (  # type: ignore[attr-defined]
        MisIssueKind.CASE_CLOSED, MisIssueStatus.RECOVERING, world.agent.staff_id)
    assert await tail_boxes.expected_in_box(world.box.id) == {"CARD": 2}
    count = await count_box(world.agent, world.box, T0 + timedelta(hours=8), {"CARD": 2})
    assert count.status.value == "matched"
    assert await CaseEvent.exists(case_id=case_id, kind=CaseEventKind.VOUCHER_TO_RECOVER)
    [due] = await mis_issues.cards_to_take_back(world.agent)
    assert due.id == mis.id


async def test_the_holder_takes_the_card_back_into_the_box_once(world: World) -> None:
    case_id = await draft_with_card(world)
    await cases.cancel(world.agent, case_id)
    mis = await MisIssue.get(case_id=case_id)
    other, _, _ = await agent_with_box(world.ids["outlet_a"], "F002")
    stranger = await refusal(mis_issues.take_back, other, mis.id, T0)
    assert isinstance(stranger, PermissionDenied)
    taken = await mis_issues.take_back(world.agent, mis.id, T0 + timedelta(hours=1))
    assert taken.status == MisIssueStatus.TAKEN_BACK and taken.void_request_id is None  # type: ignore[attr-defined]
    assert await state_of(card(1)) == VoucherState.IN_BOX
    assert await tail_boxes.expected_in_box(world.box.id) == {"CARD": 3}
    assert await CaseEvent.exists(case_id=case_id, kind=CaseEventKind.VOUCHER_TAKEN_BACK)
    assert await AuditLog.exists(action="voucher.taken_back")
    again = await refusal(mis_issues.take_back, world.agent, mis.id, T0)
    assert again.key == mis_issues.MIS_ISSUE_SETTLED
    assert not await Incident.exists() and not await VoidRequest.exists()


async def test_a_card_handed_by_mistake_is_not_taken_back_into_the_box(world: World) -> None:
    mis = await mis_issues.record_mis_issue(world.ops, card(2), "拿错卡", now=T0)
    refused = await refusal(mis_issues.take_back, world.agent, mis.id, T0)
    assert refused.key == mis_issues.NOT_A_CASE_CARD
    assert await state_of(card(2)) == VoucherState.MIS_ISSUED


async def test_operations_recording_the_recovery_of_a_closed_case_card_puts_it_back(
        world: World) -> None:
    case_id = await draft_with_card(world)
    await cases.cancel(world.agent, case_id)
    mis = await MisIssue.get(case_id=case_id)
    assert await mis_issues.record_recovery(world.ops, mis.id, "客户交回", T0) is None
    assert await state_of(card(1)) == VoucherState.IN_BOX
    assert (await MisIssue.get(id=mis.id)).status == MisIssueStatus.TAKEN_BACK


async def test_a_closed_case_card_not_taken_back_is_written_off_as_a_major_mis_issue(
        world: World) -> None:
    case_id = await draft_with_card(world)
    await cases.cancel(world.agent, case_id)
    mis = await MisIssue.get(case_id=case_id)
    request = await mis_issues.write_off_mis_issue(world.ops, mis.id, "客户拒绝交回", T0)
    assert request.kind == VoidKind.LOST and await state_of(card(1)) == VoucherState.VOID_PENDING
    settled = await MisIssue.get(id=mis.id)
    incident = await Incident.get(id=settled.incident_id)  # type: ignore[attr-defined]
    assert settled.status == MisIssueStatus.UNRECOVERABLE
    assert (incident.kind, incident.major, incident.staff_id) == (  # type: ignore[attr-defined]
        IncidentKind.MIS_ISSUE, True, world.agent.staff_id)
    await voids.refuse_void(world.head, request.id, "仍可追回", T0)
    back = await MisIssue.get(id=mis.id)
    assert (back.status, back.incident_id) == (MisIssueStatus.RECOVERING, incident.id)  # type: ignore[attr-defined]
    assert await state_of(card(1)) == VoucherState.MIS_ISSUED


async def test_the_holder_is_asked_to_take_the_card_back_with_a_button(world: World) -> None:
    case_id = await draft_with_card(world)
    await cases.cancel(world.agent, case_id)
    mis = await MisIssue.get(case_id=case_id)
    asked = await OutboxMessage.get(template=mis_issues.TO_RECOVER_TO_HOLDER)
    assert asked.recipient_id == world.agent.staff_id  # type: ignore[attr-defined]
    assert chat_buttons(asked) == [[[TOOK_IT_BACK, f"vc:back:{mis.id}"]]]


# --- deadlines -----------------------------------------------------------------------------


def end_of_day(moment: datetime, days: int) -> datetime:
    """23:59 business time `days` business days after the moment, as the admin form gives."""
    day = moment.astimezone(ZONE).date() + timedelta(days=days)
    return datetime.combine(day, time(23, 59), ZONE).astimezone(UTC)


async def test_a_chosen_deadline_is_at_most_the_recovery_days_ahead(world: World) -> None:
    far = await refusal(mis_issues.record_mis_issue, world.ops, card(2), "拿错",
                        recover_by=datetime(2099, 1, 1, tzinfo=UTC), now=T0)
    assert far.key == mis_issues.RECOVER_BY_TOO_FAR and far.params["days"] == 7
    eight = await refusal(mis_issues.record_mis_issue, world.ops, card(2), "拿错",
                          recover_by=end_of_day(T0, 8), now=T0)
    assert eight.key == mis_issues.RECOVER_BY_TOO_FAR
    three = await refusal(mis_issues.record_mis_issue, world.ops, card(2), "拿错",
                          recover_by=end_of_day(T0, 4), now=T0, recovery_days=3)
    assert three.params == {"days": 3, "last": "2026-11-26"}
    mis = await mis_issues.record_mis_issue(world.ops, card(2), "拿错",
                                            recover_by=end_of_day(T0, 7), now=T0)
    assert mis.recover_by == end_of_day(T0, 7)
    assert await MisIssue.all().count() == 1


async def test_only_voucher_managers_choose_a_deadline(world: World) -> None:
    chosen = await refusal(mis_issues.record_mis_issue, world.agent, card(2), "拿错",
                           recover_by=end_of_day(T0, 2), now=T0)
    assert isinstance(chosen, PermissionDenied) and not await MisIssue.exists()
    _, supervisor = await person(world.ids["outlet_a"], Role.SUPERVISOR, no="S009")
    foreign = await refusal(mis_issues.record_mis_issue, supervisor, card(2), "拿错",
                            recover_by=end_of_day(T0, 2), now=T0)
    assert isinstance(foreign, PermissionDenied)
    own = await mis_issues.record_mis_issue(world.agent, card(2), "拿错", now=T0,
                                            recovery_days=5)
    assert own.recover_by == T0 + timedelta(days=5)


async def test_the_recovery_days_setting_is_bounded_and_reaches_calendar_and_capture(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(settings_module, "VAR_DIR", tmp_path / "var")
    monkeypatch.setenv("FIELDOPS_MEDIA_ROOT", str(tmp_path / "media"))
    monkeypatch.setenv("FIELDOPS_MIS_ISSUE_RECOVERY_DAYS", "31")
    with pytest.raises(SettingsError):
        load_settings()
    monkeypatch.setenv("FIELDOPS_MIS_ISSUE_RECOVERY_DAYS", "10")
    monkeypatch.setenv("FIELDOPS_MIS_ISSUE_REMINDER_HOURS", "24,72")
    settings = load_settings()
    graph = bootstrap(settings)
    calendar = graph.calendar
    assert (calendar.mis_issue_recovery_days, calendar.mis_issue_reminder_hours) == (10, (72, 24))
    assert graph.capture.mis_issue_recovery_days == 10
    assert "mis_issue_deadlines" in {job.name for job in calendar_jobs(calendar)}


async def test_a_cancelled_case_gets_the_configured_recovery_days(world: World) -> None:
    case_id = await draft_with_card(world)
    await cases.cancel(world.agent, case_id, replace(world.ctx, mis_issue_recovery_days=3))
    mis = await MisIssue.get(case_id=case_id)
    assert mis.recover_by - mis.reported_at == timedelta(days=3)


async def chased(now: datetime) -> int:
    return await mis_issue_deadlines.sweep_mis_issue_deadlines(now, CALENDAR)


async def test_the_holder_is_reminded_48_and_24_hours_before_the_deadline_once_each(
        world: World) -> None:
    mis = await mis_issues.record_mis_issue(world.ops, card(2), "拿错", now=T0)
    due = mis.recover_by
    assert await chased(due - timedelta(hours=49)) == 0
    assert await chased(due - timedelta(hours=47)) == 1
    assert await chased(due - timedelta(hours=46)) == 0
    assert await chased(due - timedelta(hours=23)) == 1
    assert await chased(due - timedelta(hours=22)) == 0
    reminders = await OutboxMessage.filter(template=mis_issue_deadlines.REMINDER)
    assert [m.recipient_id for m in reminders] == [world.agent.staff_id] * 2  # type: ignore[attr-defined]
    assert await AuditLog.filter(action="mis_issue.reminded").count() == 2
    assert (await MisIssue.get(id=mis.id)).reminders_sent == ["r48", "r24"]


async def test_a_short_deadline_skips_the_reminders_already_past(world: World) -> None:
    case_id = await draft_with_card(world)
    await mis_issues.recover_for_closed_case(world.ops, case_id, T0, recovery_days=2)
    mis = await MisIssue.get(case_id=case_id)
    assert mis.recover_by == T0 + timedelta(days=2)
    assert await chased(T0 + timedelta(minutes=1)) == 0
    assert await chased(T0 + timedelta(hours=24, minutes=1)) == 1
    [reminder] = await OutboxMessage.filter(template=mis_issue_deadlines.REMINDER)
    assert chat_buttons(reminder) == [[[TOOK_IT_BACK, f"vc:back:{mis.id}"]]]
    assert (await MisIssue.get(id=mis.id)).reminders_sent == ["r24"]


async def test_an_overdue_recovery_is_escalated_once_then_daily_until_settled(
        world: World) -> None:
    mis = await mis_issues.record_mis_issue(world.ops, card(2), "拿错", now=T0)
    late = mis.recover_by + timedelta(minutes=1)
    await OutboxMessage.all().delete()
    assert await chased(late) == 1
    assert await chased(late + timedelta(hours=23)) == 0
    assert await chased(late + timedelta(days=1)) == 1
    escalated = await OutboxMessage.filter(template=mis_issue_deadlines.ESCALATED)
    supervisor = (await person(world.ids["province"], Role.AUDITOR, no="A1"))[0]
    chain = {world.ops.staff_id, world.ops2.staff_id, world.both.staff_id}
    recipients = {m.recipient_id for m in escalated}  # type: ignore[attr-defined]
    assert world.agent.staff_id not in recipients and supervisor.id not in recipients
    assert chain <= recipients and len(escalated) == 2 * len(recipients)
    assert {m.params["count"] for m in escalated} == {1, 2}
    assert await AuditLog.filter(action="mis_issue.escalated").count() == 2
    await mis_issues.record_recovery(world.ops, mis.id, "已追回", late + timedelta(days=1))
    assert await chased(late + timedelta(days=3)) == 0


async def test_operations_take_a_closed_case_card_back_on_the_mis_issue_page(
        world: World) -> None:
    case_id = await draft_with_card(world)
    await cases.cancel(world.agent, case_id)
    mis = await MisIssue.get(case_id=case_id)
    _, username = await web_user(world.ids["province"], Role.OPS_ADMIN, no="O009")
    async with admin_site() as client:
        assert (await log_in(client, username)).url.path == "/"
        page = await (await client.get("/vouchers/mis-issues")).text()
        done = await submit(client, f"/vouchers/mis-issues/{mis.id}/recovered",
                            {"note": "客户交回"}, page="/vouchers/mis-issues")
        told = await done.text()
    assert zh("Card of a rejected or cancelled case") in page
    assert zh("Record it taken back into the box") in page
    assert done.status == 200 and await state_of(card(1)) == VoucherState.IN_BOX
    assert zh("The recovery is recorded: a card handed by mistake waits for both void "
              "signatures, the card of a closed case is back in its box.") in told
    assert (await MisIssue.get(id=mis.id)).status == MisIssueStatus.TAKEN_BACK
