"""A month of demo history, written through the real services with past clock times: cases
captured and decided on each working day of the last 30 days, their callbacks sampled and
called, last month's vault inspections done (one left overdue), this month's created, and
the weekly off-site audit drawn and partly worked. The dashboard, the inspection pages and
the callback queue then have something to show. Each part runs only when missing."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from tortoise.transactions import in_transaction

from domain.cases import cases, review, review_photos
from domain.cases.capture_gate import CaptureContext
from domain.models import (
    AuditDraw,
    BusinessType,
    Callback,
    CallbackStatus,
    Case,
    CaseAudit,
    CaseAuditStatus,
    Inspection,
    InspectionKind,
    InspectionStatus,
    PhotoKind,
    Staff,
)
from domain.oversight import callbacks, case_audits, inspection_deadlines, inspections
from domain.platform import webchat
from domain.platform.actors import Actor, actor_for
from domain.platform.calendar import Calendar
from domain.platform.clock import utcnow
from domain.platform.identity import resident_id_check_digit

HISTORY_DAYS = 30
# (field agent, business type) of the cases captured each working day
DAILY_CASES: tuple[tuple[str, str], ...] = (("E0101", "SMS_ALERT"),
                                            ("E0102", "MOBILE_TRANSFER"),
                                            ("E0104", "SMS_ALERT"))
REVIEWER, SECOND_REVIEWER = "E0005", "E0010"
CALLBACK_AGENT, AUDITOR = "E0006", "E0004"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛")
SATISFACTION = (5, 4, 5, 3, 4, 5, 4, 2, 5, 4)
STEPS = 4  # cases, callbacks, inspections, off-site audits

Progress = Callable[[str], None]
Photo = Callable[[int], bytes]


@dataclass(frozen=True)
class History:
    """What the history is written with: the capture context (any hour allowed), the
    calendar, the demo photo maker and the real present."""

    ctx: CaptureContext
    calendar: Calendar
    photo: Photo
    now: datetime

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        """A business-time moment of a day, in UTC."""
        return datetime.combine(day, time(hour, minute), self.ctx.zone).astimezone(UTC)


async def seed_history(ctx: CaptureContext, calendar: Calendar, photo: Photo,
                       progress: Progress) -> None:
    """Write whatever of the month of history is missing (C3, K1, K3, V5)."""
    history = History(ctx, calendar, photo, utcnow())
    days = _working_days(history)
    if not await _history_written(history):
        for employee_no, _ in DAILY_CASES:
            await webchat.bind_web_chat((await Staff.get(employee_no=employee_no)).id)
        for index, day in enumerate(days):
            await _day_of_cases(history, day, index)
    progress("cases")
    if not await Callback.filter(attempts__gt=0).exists():
        for day in days:
            await callbacks.sample_callbacks(history.at(day, 18), calendar)
        await _work_callbacks(history)
    progress("callbacks")
    await _inspections(history)
    progress("inspections")
    if not await AuditDraw.exists():
        await _audits(history, days)
    progress("audits")


async def _history_written(history: History) -> bool:
    """True once cases of the history agents exist from before today: a later run, on any
    day, writes no second month."""
    today = history.at(history.now.astimezone(history.ctx.zone).date(), 0)
    return await Case.filter(agent__employee_no__in=[no for no, _ in DAILY_CASES],
                             submitted_at__lt=today).exists()


def _working_days(history: History) -> list[date]:
    """The working days of the last HISTORY_DAYS days, today excluded."""
    today = history.now.astimezone(history.ctx.zone).date()
    span = (today - timedelta(days=n) for n in range(HISTORY_DAYS, 0, -1))
    return [day for day in span if day.weekday() in history.calendar.working_weekdays]


def _customer(seed: int) -> tuple[str, str, str]:
    """A made-up customer: name, a valid resident ID number, a mobile number (C1, C4)."""
    pick = random.Random(seed)
    name = pick.choice(SURNAMES) + pick.choice(GIVEN) + pick.choice(GIVEN)
    born = date(1960, 1, 1) + timedelta(days=pick.randrange(40 * 365))
    body = f"320106{born:%Y%m%d}{pick.randrange(1000):03d}"
    return name, body + resident_id_check_digit(body), f"139{pick.randrange(10**8):08d}"


async def _day_of_cases(history: History, day: date, index: int) -> None:
    """The day's cases: captured in the morning, decided a few minutes later; every sixth
    past its SLA, every ninth returned, every eleventh rejected (C6, C7, C8)."""
    for slot, (employee_no, type_code) in enumerate(DAILY_CASES):
        number = index * len(DAILY_CASES) + slot
        agent = await actor_for(await Staff.get(employee_no=employee_no))
        business_type = await BusinessType.get(code=type_code)
        start = history.at(day, 9 + slot * 2, (index * 7) % 50)
        case_id = await _captured(history, agent, business_type, number, start)
        late = timedelta(minutes=45 if number % 6 == 5 else 6)
        await _decide(history, case_id, number, start + late, business_type.four_eyes)


async def _captured(history: History, agent: Actor, business_type: BusinessType, number: int,
                    at: datetime) -> int:
    """One case captured and submitted by the agent at a past moment (C1 to C11)."""
    name, id_number, mobile = _customer(number)
    async with in_transaction():
        case = await cases.start_draft(agent, business_type.id, history.ctx, at)
        await cases.set_customer(agent, case.id, name, id_number, mobile, history.ctx)
        for seed, kind in enumerate(sorted(business_type.required_photo_kinds)):
            await cases.add_photo(agent, case.id, PhotoKind(kind), history.photo(100 + seed),
                                  f"{kind}.jpg", "image/jpeg", history.ctx)
        await cases.confirm_risk_hint(agent, case.id)
        await cases.submit(agent, case.id, history.ctx, at + timedelta(minutes=2))
    return case.id


async def _decide(history: History, case_id: int, number: int, at: datetime,
                  four_eyes: bool) -> None:
    """Approve (two reviewers where four eyes apply), return or reject (C6, C7, S2)."""
    first = await actor_for(await Staff.get(employee_no=REVIEWER))
    claimed = await review.claim(first, case_id, at - timedelta(minutes=2))
    await review_photos.note_photos_viewed(first, claimed, at - timedelta(minutes=1))
    if number % 9 == 4:
        await review.return_case(first, case_id, ["unclear_image"], "身份证正面反光，请重拍",
                                 history.ctx, now=at)
    elif number % 11 == 7:
        await review.reject(first, case_id, "customer_not_present", "现场照无客户本人",
                            history.ctx, now=at)
    else:
        await review.approve(first, case_id, history.ctx, at)
        if four_eyes:
            second = await actor_for(await Staff.get(employee_no=SECOND_REVIEWER))
            claimed = await review.claim(second, case_id, at + timedelta(minutes=1))
            await review_photos.note_photos_viewed(second, claimed, at + timedelta(minutes=2))
            await review.approve(second, case_id, history.ctx, at + timedelta(minutes=3))


async def _work_callbacks(history: History) -> None:
    """Call back every sampled customer whose slot lies a day or more in the past: mostly
    confirmed with a rating, some not reached, one complaint and one denial (K1, Q4)."""
    agent = await actor_for(await Staff.get(employee_no=CALLBACK_AGENT))
    due = await Callback.filter(scheduled_at__lt=history.now - timedelta(days=1),
                                status=CallbackStatus.SCHEDULED).order_by("id")
    for index, callback in enumerate(due):
        at = callback.scheduled_at + timedelta(minutes=5)
        await callbacks.record_call(agent, callback.id, _call(index), history.calendar, at)


def _call(index: int) -> callbacks.CallRecord:
    """The index-th call of the history: its result as the callback agent records it."""
    if index == 3:
        return callbacks.CallRecord("denied", comment="客户称未办理该业务，也未见过业务人员")
    if index % 10 == 7:
        return callbacks.CallRecord("unreached", comment="无人接听")
    if index == 12:
        return callbacks.CallRecord("complaint", in_person="yes", risk_hints="no",
                                    satisfaction=2, comment="业务人员未提示风险")
    return callbacks.CallRecord("confirmed", in_person="yes", risk_hints="yes",
                                satisfaction=SATISFACTION[index % len(SATISFACTION)],
                                comment="")


async def _inspections(history: History) -> None:
    """Last month's round done by holder and second person, the last box left overdue, and
    this month's round created (V5, S1)."""
    month_start = history.now.astimezone(history.ctx.zone).date().replace(day=1)
    last_month = (month_start - timedelta(days=1)).replace(day=1)
    opened = history.at(last_month, 9)
    period = inspections.month_period(opened, history.ctx.zone)
    if not await Inspection.exists(kind=InspectionKind.MONTHLY, period=period):
        await inspections.create_monthly_inspections(opened, history.ctx.zone)
        rows = await Inspection.filter(kind=InspectionKind.MONTHLY, period=period,
                                       status=InspectionStatus.SCHEDULED).order_by("id")
        for offset, row in enumerate(rows[:-1]):
            await _inspected(history, row, history.at(last_month + timedelta(days=10 + offset),
                                                      15))
        await inspection_deadlines.sweep_inspection_deadlines(history.now, history.calendar)
    await inspections.create_monthly_inspections(history.now, history.ctx.zone)


async def _inspected(history: History, row: Inspection, at: datetime) -> None:
    """The second person starts, both count what the ledger holds: closed OK (V5)."""
    box = await row.box
    holder = await actor_for(await Staff.get(id=box.holder_id))  # type: ignore[attr-defined]
    org = await row.org
    seconds = await inspections.second_persons(org, box.holder_id)  # type: ignore[attr-defined]
    if not seconds:
        return
    checker = await actor_for(seconds[0])
    started = await inspections.start_inspection(checker, row.id, at)
    asked = await inspections.count_request(checker, row.id)
    counted = {kind.code: started.expected.get(kind.code, 0) for kind in asked.types}
    await inspections.record_count(checker, row.id, counted, at + timedelta(minutes=20))
    await inspections.record_count(holder, row.id, counted, at + timedelta(minutes=25))


async def _audits(history: History, days: list[date]) -> None:
    """The weekly off-site draws of the month; the older weeks audited, with one error
    against an agent and one against a reviewer (K2, K3)."""
    auditor = await actor_for(await Staff.get(employee_no=AUDITOR))
    for monday in _draw_mondays(history, days):
        drawn_at = min(history.at(monday, 6), history.now)
        await case_audits.draw_weekly(drawn_at, history.calendar)
    this_week = case_audits.previous_week(history.now, history.ctx.zone)
    pending = await CaseAudit.filter(status=CaseAuditStatus.PENDING).prefetch_related(
        "draw").order_by("id")
    for index, audit in enumerate(row for row in pending if row.draw.week != this_week):
        await case_audits.record_finding(auditor, audit.id, _finding(index), history.calendar,
                                         audit.draw.drawn_at + timedelta(days=1))


def _draw_mondays(history: History, days: list[date]) -> list[date]:
    """The Monday of every week of the history after the first, this week's included (its
    draw of last week stays pending), whatever weekday today is."""
    today = history.now.astimezone(history.ctx.zone).date()
    return sorted({day - timedelta(days=day.weekday()) for day in [*days, today]})[1:]


def _finding(index: int) -> case_audits.Finding:
    """The index-th finding: OK, except one missing paper and one passed portrait mismatch."""
    if index == 2:
        return case_audits.Finding("error", "missing_paper", against_agent=True,
                                   note="签约申请书缺客户签名")
    if index == 5:
        return case_audits.Finding("error", "portrait_mismatch_passed", against_reviewer=True,
                                   note="现场照与身份证人像明显不符仍予通过")
    return case_audits.Finding("ok")
