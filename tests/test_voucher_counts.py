"""Day-end counts and hand-over of tail boxes (V3, V4, S1): asked once a day, a match
recorded, two mismatches make an incident, silence is reminded then escalated, and a box
changes holder only when both counts match the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.cases.business_types import BusinessTypeForm, create_business_type
from domain.models import (
    AuditLog,
    BoxCount,
    CountKind,
    CountStatus,
    Device,
    DeviceEvent,
    DeviceEventKind,
    Incident,
    IncidentKind,
    OutboxMessage,
    PhotoKind,
    Role,
    Staff,
    TailBox,
    Voucher,
    VoucherState,
)
from domain.platform.actors import Actor
from domain.platform.errors import PermissionDenied
from domain.vouchers import day_end_counts, voucher_counts
from scheduler.jobs import CountSettings, count_jobs
from tests.case_support import refusal
from tests.factories import operational, org_tree, person
from tests.outbox_support import chat_buttons
from tests.voucher_support import BEFORE_CLOSING, stock_box_directly

CLOSING = time(17, 30)
AFTER_CLOSING = datetime(2026, 11, 23, 9, 45, tzinfo=UTC)  # 17:45 business time
REMIND, ESCALATE = timedelta(minutes=30), timedelta(minutes=60)
STOCK = {"CARD": 3, "SIM": 2}


@dataclass
class Counting:
    """A qualified agent holding a stocked box, a second agent, and supervisors near/far."""

    ids: dict[str, int]
    agent: Actor
    agent_row: Staff
    other: Actor
    other_row: Staff
    supervisor: Staff
    far_supervisor: Staff
    box: TailBox


async def counting_world() -> Counting:
    """Two qualified agents in outlet a; the first holds a tablet and its box with STOCK, the
    second holds no tablet yet."""
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O001")
    await create_business_type(ops, "DEBIT_CARD", BusinessTypeForm(
        "借记卡开户", "Debit card opening",
        frozenset({PhotoKind.ID_FRONT, PhotoKind.ONSITE_WITH_AGENT})))
    supervisor, _ = await person(ids["sub_a"], Role.SUPERVISOR, no="S001")
    far_supervisor, _ = await person(ids["branch_b"], Role.SUPERVISOR, no="S002")
    agent_row, agent = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001", name="陈展业")
    other_row, other = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F002", name="李接手")
    await operational(agent_row)
    await operational(other_row, tablet=False)
    box = await stock_box_directly(agent_row, STOCK)
    return Counting(ids, agent, agent_row, other, other_row, supervisor, far_supervisor, box)


@pytest.fixture
async def w(database_url: str) -> Counting:
    return await counting_world()


async def messages_to(staff: Staff) -> list[OutboxMessage]:
    return await OutboxMessage.filter(recipient_id=staff.id).order_by("id")


async def day_end_count(w: Counting) -> BoxCount:
    """Ask for the day's counts and return the agent's."""
    assert await day_end_counts.request_day_end_counts(AFTER_CLOSING) == 1
    return await BoxCount.get(box_id=w.box.id, kind=CountKind.DAY_END)


async def test_day_end_count_is_asked_once_per_open_box_and_business_day(w: Counting) -> None:
    empty_holder, _ = await person(w.ids["outlet_a"], Role.FIELD_AGENT, no="F003")
    await operational(empty_holder)
    await stock_box_directly(empty_holder, {})
    frozen_holder, _ = await person(w.ids["outlet_a"], Role.FIELD_AGENT, no="F004")
    await operational(frozen_holder)
    frozen = await stock_box_directly(frozen_holder, {"CARD": 1})
    await TailBox.filter(id=frozen.id).update(frozen=True)

    assert await day_end_counts.request_day_end_counts(BEFORE_CLOSING, closing=CLOSING) == 0
    assert await day_end_counts.request_day_end_counts(AFTER_CLOSING, closing=CLOSING) == 1
    assert await day_end_counts.request_day_end_counts(AFTER_CLOSING + timedelta(minutes=1),
                                                       closing=CLOSING) == 0
    count = await BoxCount.get()
    assert (count.box_id, count.business_day, count.holder_id) == (  # type: ignore[attr-defined]
        w.box.id, "20261123", w.agent_row.id)
    [asked] = await messages_to(w.agent_row)
    assert chat_buttons(asked) == [[["Count now", f"vc:count:{count.id}"]]]
    assert await OutboxMessage.filter(recipient_id__in=[empty_holder.id, frozen_holder.id]
                                      ).count() == 0
    next_day = AFTER_CLOSING + timedelta(days=1)
    assert await day_end_counts.request_day_end_counts(next_day, closing=CLOSING) == 1


async def test_scheduler_job_asks_once_closing_time_has_passed(w: Counting) -> None:
    jobs = {job.name: job for job in count_jobs(ZoneInfo("Asia/Shanghai"),
                                                CountSettings(closing_time="00:00"))}
    assert await jobs["day_end_count_requests"].sweep() == 1
    assert await jobs["day_end_count_requests"].sweep() == 0
    assert await jobs["day_end_count_sweep"].sweep() == 0
    assert (await BoxCount.get()).holder_id == w.agent_row.id


async def test_matching_count_is_recorded_on_the_box(w: Counting) -> None:
    count = await day_end_count(w)
    answered = await voucher_counts.answer_count(w.agent, count.id, dict(STOCK), AFTER_CLOSING)
    assert (answered.status, answered.counted) == (CountStatus.MATCHED, STOCK)
    box = await TailBox.get(id=w.box.id)
    assert box.last_count_matched is True and box.last_count_at == AFTER_CLOSING
    assert not await Incident.exists()
    closed = await refusal(voucher_counts.answer_count, w.agent, count.id, dict(STOCK))
    assert closed.key == "This count is already closed."


async def test_reserved_and_issued_vouchers_are_not_expected_in_the_box(w: Counting) -> None:
    await Voucher.filter(serial="0001").update(state=VoucherState.RESERVED)
    await Voucher.filter(serial="0002").update(state=VoucherState.ISSUED, box_id=None)
    count = await day_end_count(w)
    answered = await voucher_counts.answer_count(w.agent, count.id, {"CARD": 1, "SIM": 2})
    assert answered.status == CountStatus.MATCHED


async def test_second_mismatch_opens_discrepancy_incident_and_tells_supervisors_once(
        w: Counting) -> None:
    count = await day_end_count(w)
    first = await voucher_counts.answer_count(w.agent, count.id, {"CARD": 2, "SIM": 2})
    assert first.status == CountStatus.RETRY and not await Incident.exists()
    second = await voucher_counts.answer_count(w.agent, count.id, {"CARD": 2, "SIM": 2})
    assert second.status == CountStatus.DISCREPANCY
    incident = await Incident.get()
    assert (incident.kind, incident.staff_id) == (  # type: ignore[attr-defined]
        IncidentKind.DISCREPANCY, w.agent_row.id)
    assert incident.detail["expected"] == STOCK
    assert incident.detail["counted"] == {"CARD": 2, "SIM": 2}
    assert second.incident_id == incident.id  # type: ignore[attr-defined]
    assert (await TailBox.get(id=w.box.id)).last_count_matched is False
    [told] = await messages_to(w.supervisor)
    assert told.params["incident"] == incident.id and "借记卡 2" in told.params["counted"]
    assert "借记卡 3" in told.params["expected"]
    assert await messages_to(w.far_supervisor) == []
    again = await refusal(voucher_counts.answer_count, w.agent, count.id, dict(STOCK))
    assert again.key == "This count is already closed."
    assert await Incident.all().count() == 1 and len(await messages_to(w.supervisor)) == 1


async def test_count_is_answered_only_by_the_holder_with_every_type_as_a_whole_number(
        w: Counting) -> None:
    count = await day_end_count(w)
    with pytest.raises(PermissionDenied):
        await voucher_counts.answer_count(w.other, count.id, dict(STOCK))
    missing = await refusal(voucher_counts.answer_count, w.agent, count.id, {"CARD": 3})
    assert missing.params == {"code": "SIM"}
    negative = await refusal(voucher_counts.answer_count, w.agent, count.id, {"CARD": -1, "SIM": 2})
    assert negative.key == "The count of %(code)s must be a whole number, 0 or more."
    assert (await BoxCount.get(id=count.id)).status == CountStatus.REQUESTED


async def test_silence_brings_one_reminder_then_one_escalation(w: Counting) -> None:
    count = await day_end_count(w)

    async def sweep(minutes: int) -> int:
        return await day_end_counts.sweep_unanswered_counts(
            AFTER_CLOSING + timedelta(minutes=minutes), REMIND, ESCALATE)

    assert await sweep(10) == 0
    assert await sweep(31) == 1
    assert await sweep(45) == 0
    reminders = [m for m in await messages_to(w.agent_row) if m.template.startswith("Remind")]
    assert len(reminders) == 1 and chat_buttons(reminders[0])[0][0][1] == f"vc:count:{count.id}"
    assert await messages_to(w.supervisor) == []
    assert await sweep(61) == 1
    assert await sweep(120) == 0
    assert (await BoxCount.get(id=count.id)).status == CountStatus.UNANSWERED
    [escalated] = await messages_to(w.supervisor)
    assert escalated.params["holder"] == "F001 陈展业"
    assert escalated.params["requested"] == "2026-11-23 17:45"
    assert await messages_to(w.far_supervisor) == []
    late = await voucher_counts.answer_count(w.agent, count.id, dict(STOCK))
    assert late.status == CountStatus.MATCHED


async def test_hand_over_moves_the_box_once_the_new_holder_counts_the_same(
        w: Counting) -> None:
    pending = await voucher_counts.hand_over(w.agent, w.box.id, w.other_row.id, dict(STOCK),
                                       AFTER_CLOSING)
    assert (pending.kind, pending.status, pending.holder_id) == (
        CountKind.HANDOVER, CountStatus.REQUESTED, w.other_row.id)
    [asked] = await messages_to(w.other_row)
    assert chat_buttons(asked) == [[["Count and confirm", f"vc:handover:{pending.id}"]]]
    assert (await TailBox.get(id=w.box.id)).holder_id == w.agent_row.id  # type: ignore[attr-defined]
    with pytest.raises(PermissionDenied):
        await voucher_counts.answer_count(w.agent, pending.id, dict(STOCK))
    done = await voucher_counts.answer_count(w.other, pending.id, dict(STOCK), AFTER_CLOSING)
    assert done.status == CountStatus.MATCHED
    box = await TailBox.get(id=w.box.id)
    assert box.holder_id == w.other_row.id and box.last_count_matched  # type: ignore[attr-defined]
    entry = await AuditLog.get(action="voucher_box.handed_over")
    assert entry.detail["from_holder_id"] == w.agent_row.id
    assert entry.detail["to_holder_id"] == w.other_row.id
    [told] = [m for m in await messages_to(w.agent_row)
              if m.template.startswith("%(taker)s confirmed")]
    assert told.params["taker"] == "F002 李接手"
    tablet = await Device.get(id=box.device_id)  # type: ignore[attr-defined]
    assert (tablet.holder_id, tablet.receipt_confirmed_at) == (w.other_row.id, AFTER_CLOSING)  # type: ignore[attr-defined]
    entry = await DeviceEvent.get(device_id=tablet.id, kind=DeviceEventKind.HANDED_OVER)
    assert (entry.holder_label, entry.actor_label) == ("F002 李接手", "F002 李接手")


async def test_hand_over_is_refused_to_an_agent_who_holds_a_tablet(w: Counting) -> None:
    busy, _ = await person(w.ids["outlet_a"], Role.FIELD_AGENT, no="F003", name="王有机")
    await operational(busy)
    refused = await refusal(voucher_counts.hand_over, w.agent, w.box.id, busy.id, dict(STOCK))
    assert refused.params == {"name": "王有机", "asset_tag": "PAD00002"}
    assert not await BoxCount.exists()


async def test_hand_over_is_refused_to_others_than_the_holder_and_to_unqualified_agents(
        w: Counting) -> None:
    with pytest.raises(PermissionDenied):
        await voucher_counts.hand_over(w.other, w.box.id, w.agent_row.id, dict(STOCK))
    supervisor = await refusal(voucher_counts.hand_over, w.agent, w.box.id, w.supervisor.id,
                               dict(STOCK))
    assert supervisor.key.startswith("%(name)s is not an active, qualified field agent")
    unqualified, _ = await person(w.ids["outlet_a"], Role.FIELD_AGENT, no="F009")
    refused = await refusal(voucher_counts.hand_over, w.agent, w.box.id, unqualified.id,
                            dict(STOCK))
    assert refused.params == {"name": unqualified.name}
    far_agent, _ = await person(w.ids["outlet_b"], Role.FIELD_AGENT, no="F010")
    await operational(far_agent)
    far = await refusal(voucher_counts.hand_over, w.agent, w.box.id, far_agent.id, dict(STOCK))
    assert far.key.startswith("Tail box %(box)s belongs to %(org)s")
    assert not await BoxCount.exists()


async def test_hand_over_needs_counts_that_match_the_ledger(w: Counting) -> None:
    wrong = await refusal(voucher_counts.hand_over, w.agent, w.box.id, w.other_row.id,
                          {"CARD": 3, "SIM": 1})
    assert wrong.key == "Your count does not match the ledger. Count the box again."
    assert not await BoxCount.exists()
    pending = await voucher_counts.hand_over(w.agent, w.box.id, w.other_row.id, dict(STOCK))
    short = {"CARD": 3, "SIM": 1}
    retry = await voucher_counts.answer_count(w.other, pending.id, short)
    assert retry.status == CountStatus.RETRY
    failed = await voucher_counts.answer_count(w.other, pending.id, short)
    assert failed.status == CountStatus.DISCREPANCY
    assert (await TailBox.get(id=w.box.id)).holder_id == w.agent_row.id  # type: ignore[attr-defined]
    assert (await Incident.get()).detail["count_kind"] == "handover"
    assert len(await messages_to(w.supervisor)) == 1
