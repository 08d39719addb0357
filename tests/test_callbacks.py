"""Customer callbacks in the domain: sampling by rate, slots in the calling hours, the script,
retries, denials and complaints, reminders and escalation (K1, Q4, S1)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from domain.models import (
    AuditLog,
    BusinessType,
    Callback,
    CallbackAttempt,
    CallbackOutcome,
    CallbackStatus,
    Case,
    Incident,
    IncidentKind,
    OutboxMessage,
    Role,
)
from domain.oversight import callback_deadlines, callbacks
from domain.oversight.callback_calendar import draw_of, plan_callback, retry_slot
from domain.oversight.callbacks import CallRecord
from domain.platform.actors import Actor
from domain.platform.calendar import Calendar
from domain.platform.clock import utcnow
from domain.platform.errors import DomainError, NotFound, PermissionDenied
from domain.platform.sweeps import SweepResult
from scheduler import calendar_sweeps
from tests.callback_support import CONFIRMED, approved
from tests.case_support import MOBILE, MONDAY_10AM, ZONE
from tests.factories import person
from tests.review_support import Desk, build_desk, messages_to

CALENDAR = Calendar()


@dataclass
class Bench:
    """A review desk plus callback agents: two at branch a, one at branch b."""

    desk: Desk
    caller: Actor
    caller2: Actor
    far_caller: Actor


@pytest.fixture
async def bench(database_url: str, tmp_path: Path) -> Bench:
    desk = await build_desk(tmp_path)
    await BusinessType.all().update(callback_rate=100)
    return Bench(desk,
                 (await person(desk.ids["branch_a"], Role.CALLBACK_AGENT, no="C001"))[1],
                 (await person(desk.ids["branch_a"], Role.CALLBACK_AGENT, no="C002"))[1],
                 (await person(desk.ids["branch_b"], Role.CALLBACK_AGENT, no="C003"))[1])


async def scheduled(bench: Bench, at: datetime = MONDAY_10AM) -> Callback:
    """One approved case drawn at 100 % and its callback."""
    case = await approved(bench.desk, at)
    assert await callbacks.sample_callbacks(at, CALENDAR) == 1
    return await Callback.get(case_id=case.id)


async def call(actor: Actor, callback: Callback, record: CallRecord, at: datetime) -> Callback:
    """Record a call with the form as last shown."""
    fresh = await Callback.get(id=callback.id)
    seen = CallRecord(**{**record.__dict__, "attempts_seen": fresh.attempts})
    return await callbacks.record_call(actor, callback.id, seen, CALENDAR, now=at)


def local(moment: datetime) -> datetime:
    return moment.astimezone(ZONE)


# --- sampling ---------------------------------------------------------------------------


async def test_a_zero_rate_draws_no_case_but_marks_every_case_considered(bench: Bench) -> None:
    await BusinessType.all().update(callback_rate=0)
    cases = [await approved(bench.desk) for _ in range(3)]
    assert await callbacks.sample_callbacks(MONDAY_10AM, CALENDAR) == 0
    assert await Callback.all().count() == 0
    assert await Case.filter(id__in=[c.id for c in cases], callback_drawn_at=None).count() == 0


async def test_a_full_rate_draws_every_case_once_under_reruns_and_two_processes(
        bench: Bench) -> None:
    cases = [await approved(bench.desk) for _ in range(4)]
    first, second = await asyncio.gather(callbacks.sample_callbacks(MONDAY_10AM, CALENDAR),
                                         callbacks.sample_callbacks(MONDAY_10AM, CALENDAR))
    again = await callbacks.sample_callbacks(MONDAY_10AM + timedelta(hours=1), CALENDAR)
    assert first + second == 4 and again == 0
    assert sorted(await Callback.all().values_list("case_id", flat=True)) == [
        c.id for c in cases]


async def test_the_stored_draw_of_the_case_number_decides_at_a_partial_rate(
        bench: Bench) -> None:
    cases = [await approved(bench.desk) for _ in range(6)]
    draws = {c.id: draw_of(c.case_no or "") for c in cases}
    rate = sorted(draws.values())[3]  # the lower three draws fall under it
    await BusinessType.all().update(callback_rate=rate)
    await callbacks.sample_callbacks(MONDAY_10AM, CALENDAR)
    stored = dict(await Callback.all().values_list("case_id", "draw"))
    assert stored == {case_id: draw for case_id, draw in draws.items() if draw < rate}
    assert 0 < len(stored) < len(cases)  # a partial rate calls back some, not all


def test_the_draw_is_a_fixed_even_function_of_the_case_number() -> None:
    # pinned values: anyone can recompute a stored draw from the case number afterwards (K1)
    assert (draw_of("YD20261123-000001"), draw_of("YD20261231-000042")) == (16, 32)
    deciles = Counter(draw_of(f"YD20261123-{n:06d}") // 10 for n in range(1, 2001))
    assert sorted(deciles) == list(range(10))
    assert all(150 <= count <= 250 for count in deciles.values())  # about 200 each


async def test_callbacks_go_to_the_least_loaded_agent_of_the_nearest_org(bench: Bench) -> None:
    province_caller = (await person(bench.desk.ids["province"], Role.CALLBACK_AGENT,
                                    no="C009"))[1]
    rows = [await scheduled(bench) for _ in range(4)]
    assignees = [row.assigned_to_id for row in rows]  # type: ignore[attr-defined]
    assert sorted(assignees) == sorted([bench.caller.staff_id, bench.caller2.staff_id] * 2)
    assert province_caller.staff_id not in assignees


async def test_without_a_callback_agent_in_the_chain_the_callback_is_unassigned(
        database_url: str, tmp_path: Path) -> None:
    desk = await build_desk(tmp_path)
    await BusinessType.all().update(callback_rate=100)
    await person(desk.ids["branch_b"], Role.CALLBACK_AGENT, no="C003")
    await approved(desk)
    await callbacks.sample_callbacks(MONDAY_10AM, CALENDAR)
    assert (await Callback.get()).assigned_to_id is None  # type: ignore[attr-defined]


async def test_the_scheduler_job_samples_through_the_domain(bench: Bench) -> None:
    await approved(bench.desk)
    assert await calendar_sweeps.sample_callbacks(CALENDAR) == 1
    row = await Callback.get()
    assert row.due_at > utcnow()  # a draw past the window gets a fresh one


# --- the calendar -------------------------------------------------------------------------


CALENDARS = (
    Calendar(),
    Calendar(working_weekdays=frozenset({0, 1, 2, 3}), calling_weekdays=frozenset({0, 1, 2, 3})),
    Calendar(calling_hours=(time(8, 30), time(12)), calling_weekdays=frozenset({1, 2, 3, 4, 5}),
             callback_window_days=1),
)


def assert_callable(moment: datetime, calendar: Calendar) -> None:
    """The moment lies in the calling hours of a calling day."""
    at = moment.astimezone(calendar.zone)
    start, end = calendar.calling_hours
    assert at.weekday() in calendar.calling_weekdays, at
    assert start <= at.time() < end, at


@pytest.mark.parametrize("calendar", CALENDARS)
def test_slots_never_fall_at_night_or_on_a_rest_day(calendar: Calendar) -> None:
    friday_night = datetime(2026, 11, 27, 23, 30, tzinfo=ZONE)
    starts = [friday_night, friday_night + timedelta(hours=10)]  # and Saturday morning
    starts += [MONDAY_10AM + timedelta(minutes=47 * n) for n in range(700)]  # three weeks
    for approved_at in starts:
        for draw in (0, 42, 99):
            slot, due = plan_callback(approved_at, draw, approved_at, calendar)
            assert_callable(slot, calendar)
            assert approved_at < slot <= due
            assert due - approved_at < timedelta(days=calendar.callback_window_days + 8)


@pytest.mark.parametrize("calendar", CALENDARS)
def test_a_retry_moves_to_another_part_of_the_calling_hours(calendar: Calendar) -> None:
    start, end = (datetime.combine(datetime(2026, 1, 1), t) for t in calendar.calling_hours)
    third = (end - start) / 3
    for n in range(400):
        failed = MONDAY_10AM + timedelta(minutes=23 * n)
        retry = retry_slot(failed, calendar)
        assert_callable(retry, calendar)
        assert retry > failed
        if calendar.calling_hours[0] <= local(failed).time() < calendar.calling_hours[1]:
            apart = abs(datetime.combine(datetime(2026, 1, 1), local(retry).time())
                        - datetime.combine(datetime(2026, 1, 1), local(failed).time()))
            assert apart >= third - timedelta(minutes=5), (failed, retry)


# --- working a callback -------------------------------------------------------------------


async def test_not_reached_calls_retry_at_another_time_then_end_unreachable(
        bench: Bench) -> None:
    callback = await scheduled(bench)
    caller = bench.caller if callback.assigned_to_id == bench.caller.staff_id else bench.caller2  # type: ignore[attr-defined]
    at = callback.scheduled_at
    slots = [at]
    for _ in range(3):
        callback = await call(caller, callback, CallRecord("unreached", comment="无人接听"), at)
        at = callback.scheduled_at if callback.status == CallbackStatus.ATTEMPTED else at
        slots.append(at)
    assert callback.status == CallbackStatus.UNREACHABLE and callback.attempts == 3
    hours = {local(slot).hour for slot in slots[:3]}
    assert len(hours) == 3
    log = await CallbackAttempt.filter(callback_id=callback.id).order_by("number")
    assert [(row.number, row.agent_id, row.reached) for row in log] == [  # type: ignore[attr-defined]
        (n, caller.staff_id, False) for n in (1, 2, 3)]
    assert [row.at for row in log] == slots[:3]
    with pytest.raises(DomainError) as refused:
        await call(caller, callback, CONFIRMED, at)
    assert refused.value.key.startswith("The callback of case %(case_no)s is already finished")


async def test_a_confirmed_call_records_the_script_answers(bench: Bench) -> None:
    callback = await scheduled(bench)
    callback = await call(bench.caller, callback, CONFIRMED, callback.scheduled_at)
    assert callback.status == CallbackStatus.COMPLETED
    assert callback.outcome == CallbackOutcome.CONFIRMED
    assert callback.answers == {"in_person": True, "risk_hints": True}
    assert (callback.satisfaction, callback.comment) == (5, "满意")
    assert callback.completed_by_id == bench.caller.staff_id  # type: ignore[attr-defined]
    assert callback.assigned_to_id in (bench.caller.staff_id, bench.caller2.staff_id)  # type: ignore[attr-defined]


async def test_a_denial_opens_a_major_incident_and_alerts_ops_and_supervisors_once(
        bench: Bench) -> None:
    desk = bench.desk
    callback = await scheduled(bench)
    await Callback.filter(id=callback.id).update(assigned_to_id=None)
    denial = CallRecord("denied", in_person="no", comment="客户称从未办理")
    callback = await call(bench.caller, callback, denial, callback.scheduled_at)
    with pytest.raises(DomainError):
        await call(bench.caller, callback, denial, callback.scheduled_at)
    incident = await Incident.get()
    assert (incident.kind, incident.major) == (IncidentKind.MAJOR_ERROR, True)
    assert incident.detail["reason"] == "callback_denied"
    assert incident.staff_id == desk.agent.staff_id  # type: ignore[attr-defined]
    assert callback.incident_id == incident.id  # type: ignore[attr-defined]
    assert callback.assigned_to_id == bench.caller.staff_id  # type: ignore[attr-defined]
    for person_ in (desk.ops, desk.supervisor):
        alerts = [m for m in await messages_to(person_) if m.template == callbacks.DENIAL_ALERT]
        assert len(alerts) == 1 and alerts[0].params["incident"] == incident.id
    for outsider in (desk.far_supervisor, desk.reviewer, desk.agent):
        assert not [m for m in await messages_to(outsider)
                    if m.template == callbacks.DENIAL_ALERT]


async def test_a_complaint_opens_an_ordinary_incident(bench: Bench) -> None:
    callback = await scheduled(bench)
    complaint = CallRecord("complaint", in_person="yes", risk_hints="no", satisfaction=2,
                           comment="未提示风险")
    callback = await call(bench.caller, callback, complaint, callback.scheduled_at)
    incident = await Incident.get()
    assert callback.outcome == CallbackOutcome.COMPLAINT
    assert (incident.major, incident.detail["reason"]) == (False, "callback_complaint")
    assert [m.template for m in await messages_to(bench.desk.supervisor)] == [
        callbacks.COMPLAINT_ALERT]
    assert not await messages_to(bench.desk.ops)


@pytest.mark.parametrize(("record", "message"), [
    (CallRecord("confirmed", in_person="yes", risk_hints="yes", satisfaction=7),
     "Rate the customer's satisfaction from 1 to 5."),
    (CallRecord("confirmed", in_person="yes", risk_hints="yes"),
     "Rate the customer's satisfaction from 1 to 5."),
    (CallRecord("confirmed", risk_hints="yes", satisfaction=4),
     "Record whether the customer did the business in person."),
    (CallRecord("complaint", in_person="yes", satisfaction=1, comment="x"),
     "Record whether the agent gave the customer the risk hints."),
    (CallRecord("confirmed", in_person="no", risk_hints="yes", satisfaction=3),
     "The customer says he did not do this business in person: record it as a denial."),
    (CallRecord("denied"), "Write down what the customer said."),
    (CallRecord("maybe"), "Choose the result of the call."),
    (CallRecord("unreached", comment="长" * 1001), "The comment may be at most %(n)s characters."),
])
async def test_bad_input_is_refused_and_writes_nothing(bench: Bench, record: CallRecord,
                                                       message: str) -> None:
    callback = await scheduled(bench)
    audit_rows = await AuditLog.all().count()
    with pytest.raises(DomainError) as refused:
        await call(bench.caller, callback, record, callback.scheduled_at)
    assert refused.value.key == message
    after = await Callback.get(id=callback.id)
    assert (after.status, after.attempts, after.answers) == (CallbackStatus.SCHEDULED, 0, {})
    assert await CallbackAttempt.all().count() == 0 and await Incident.all().count() == 0
    assert await AuditLog.all().count() == audit_rows


async def test_a_business_type_that_issues_a_voucher_asks_about_it(bench: Bench) -> None:
    callback = await scheduled(bench)
    await BusinessType.filter(id=callback.business_type_id).update(  # type: ignore[attr-defined]
        voucher_type_code="DEBIT_CARD")
    with pytest.raises(DomainError) as refused:
        await call(bench.caller, callback, CONFIRMED, callback.scheduled_at)
    assert refused.value.key == "Record whether the customer received the card or key."
    record = CallRecord(**{**CONFIRMED.__dict__, "voucher_received": "yes"})
    done = await call(bench.caller, callback, record, callback.scheduled_at)
    assert done.answers["voucher_received"] is True


async def test_only_the_assigned_agent_of_the_org_records_a_call(bench: Bench) -> None:
    callback = await scheduled(bench)
    other = bench.caller2 if callback.assigned_to_id == bench.caller.staff_id else bench.caller  # type: ignore[attr-defined]
    for outsider in (other, bench.desk.supervisor):
        with pytest.raises(PermissionDenied):
            await call(outsider, callback, CONFIRMED, callback.scheduled_at)
    with pytest.raises(NotFound):  # another org's callback reads as missing
        await call(bench.far_caller, callback, CONFIRMED, callback.scheduled_at)
    assert await CallbackAttempt.all().count() == 0


async def test_a_stale_form_is_refused(bench: Bench) -> None:
    callback = await scheduled(bench)
    await Callback.filter(id=callback.id).update(assigned_to_id=None)
    await call(bench.caller, callback, CallRecord("unreached"), callback.scheduled_at)
    with pytest.raises(PermissionDenied):  # taken by the first caller
        await call(bench.caller2, callback, CONFIRMED, callback.scheduled_at)
    with pytest.raises(DomainError) as refused:  # the form as shown before the first call
        await callbacks.record_call(bench.caller, callback.id, CONFIRMED, CALENDAR,
                                    now=callback.scheduled_at)
    assert refused.value.key.startswith("Another call on this callback was recorded")
    assert await CallbackAttempt.all().count() == 1


# --- the queue, the reveal and the deadlines -----------------------------------------------


async def test_the_queue_shows_due_callbacks_masked_to_their_agent(bench: Bench) -> None:
    rows = [await scheduled(bench) for _ in range(3)]
    await Callback.filter(id=rows[2].id).update(assigned_to_id=None)
    due = max(row.scheduled_at for row in rows)
    mine = (await callbacks.callback_queue(bench.caller, due, bench.desk.ctx.cipher)).rows
    expected = {row.id for row in rows
                if row.assigned_to_id in (bench.caller.staff_id, None)}  # type: ignore[attr-defined]
    assert {view.callback.id for view in mine} == expected | {rows[2].id}
    assert all(view.mobile_masked == "138****5678" for view in mine)
    assert (await callbacks.callback_queue(bench.caller, MONDAY_10AM, bench.desk.ctx.cipher)
            ).rows == []
    overseen = await callbacks.callback_queue(bench.desk.supervisor, due, bench.desk.ctx.cipher)
    assert len(overseen.rows) == overseen.total == 3
    assert (await callbacks.callback_queue(bench.far_caller, due, bench.desk.ctx.cipher)
            ).rows == []


async def test_revealing_the_mobile_is_audited(bench: Bench) -> None:
    callback = await scheduled(bench)
    caller = bench.caller if callback.assigned_to_id == bench.caller.staff_id else bench.caller2  # type: ignore[attr-defined]
    assert await callbacks.reveal_mobile(caller, callback.id, bench.desk.ctx.cipher) == MOBILE
    row = await AuditLog.filter(action="callback.customer_reveal").get()
    assert (row.actor_id, row.object_id) == (caller.staff_id, str(callback.id))
    with pytest.raises(NotFound):
        await callbacks.reveal_mobile(bench.far_caller, callback.id, bench.desk.ctx.cipher)


async def test_deadlines_remind_the_agent_once_and_escalate_once(bench: Bench) -> None:
    callback = await scheduled(bench)
    agent_id = callback.assigned_to_id  # type: ignore[attr-defined]
    before = callback.scheduled_at - timedelta(minutes=1)
    swept = await callback_deadlines.sweep_callback_deadlines(before, CALENDAR)
    assert swept == SweepResult(0, 0)
    for _ in range(2):
        await callback_deadlines.sweep_callback_deadlines(callback.scheduled_at, CALENDAR)
    reminders = await OutboxMessage.filter(template=callback_deadlines.DUE_TO_AGENT)
    assert [m.recipient_id for m in reminders] == [agent_id]  # type: ignore[attr-defined]
    late = callback.due_at + timedelta(minutes=1)
    for _ in range(2):
        await callback_deadlines.sweep_callback_deadlines(late, CALENDAR)
    escalations = await OutboxMessage.filter(template=callback_deadlines.OVERDUE_ASSIGNED)
    assert sorted(m.recipient_id for m in escalations) == sorted(  # type: ignore[attr-defined]
        [bench.desk.ops.staff_id, bench.desk.supervisor.staff_id])
    assert (await Callback.get(id=callback.id)).escalated_at == late
