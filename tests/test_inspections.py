"""Vault inspections in the domain (V5, K3, S1): the monthly round covers every open box once,
two people count blind, a difference opens an incident that stops allocations, deadlines are
reminded and escalated once each, surprise samples can be drawn again from their seed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import timedelta

import pytest

from domain.ledgers import incidents
from domain.models import (
    AuditLog,
    Device,
    DeviceState,
    Incident,
    IncidentKind,
    IncidentStatus,
    Inspection,
    InspectionKind,
    InspectionResult,
    InspectionSample,
    InspectionStatus,
    OutboxMessage,
    TailBox,
)
from domain.oversight import inspection_deadlines, inspection_reports, inspections
from domain.platform.calendar import Calendar
from domain.platform.errors import DomainError, NotFound, PermissionDenied
from domain.vouchers import voucher_stock
from scheduler import calendar_sweeps
from tests.audit_support import AUDIT_KEY
from tests.case_support import refusal
from tests.factories import ROOT
from tests.inspection_support import (
    NOV_1,
    NOV_DUE,
    STOCK,
    Vault,
    day_end_count,
    vault_world,
)
from tests.outbox_support import chat_buttons

CALENDAR = Calendar()


@pytest.fixture
async def v(database_url: str) -> Vault:
    return await vault_world()


async def monthly(v: Vault) -> Inspection:
    """The month's inspection of the holder's box."""
    return await Inspection.get(box_id=v.box.id, kind=InspectionKind.MONTHLY)


async def started(v: Vault) -> Inspection:
    await inspections.create_monthly_inspections(NOV_1)
    return await inspections.start_inspection(v.supervisor, (await monthly(v)).id,
                                              now=NOV_1 + timedelta(hours=1))


async def test_monthly_round_covers_every_open_box_once_also_when_run_twice(v: Vault) -> None:
    retired = await TailBox.create(device=await _retired_device(v), org_id=v.ids["outlet_a"],
                                   holder_id=v.holder.staff_id)
    assert await inspections.create_monthly_inspections(NOV_1) == 3
    assert await inspections.create_monthly_inspections(NOV_1 + timedelta(hours=1)) == 0
    rows = await Inspection.all()
    assert sorted(row.box_id for row in rows) == sorted(  # type: ignore[attr-defined]
        [v.box.id, v.other_box.id, v.far_box.id])
    assert retired.id not in {row.box_id for row in rows}  # type: ignore[attr-defined]
    assert {(row.period, row.due_at, row.status) for row in rows} == {
        ("2026-11", NOV_DUE, InspectionStatus.SCHEDULED)}
    assert await AuditLog.filter(action="inspection.scheduled").count() == 3
    assert await inspections.create_monthly_inspections(NOV_1 + timedelta(days=30)) == 3
    assert await Inspection.filter(period="2026-12").count() == 3


async def _retired_device(v: Vault) -> Device:
    """A retired tablet, written directly: its box is not inspected any more."""
    return await Device.create(asset_tag="PADRET", serial="SNRET", model="old",
                               org_id=v.ids["outlet_a"], state=DeviceState.RETIRED)


async def test_concurrent_monthly_runs_create_each_inspection_once(v: Vault) -> None:
    created = await asyncio.gather(*(inspections.create_monthly_inspections(NOV_1)
                                     for _ in range(3)))
    assert sum(created) == 3
    assert await Inspection.all().count() == 3
    assert await AuditLog.filter(action="inspection.scheduled").count() == 3


MONTHLY_RUN = """
import asyncio, sys
from datetime import datetime
from domain.oversight import inspections
from domain.platform import audit
from fieldops.db import close_database, open_database

async def main() -> None:
    audit.use_keys(sys.argv[3])
    await open_database(sys.argv[1])
    try:
        print(await inspections.create_monthly_inspections(datetime.fromisoformat(sys.argv[2])))
    finally:
        await close_database()

asyncio.run(main())
"""


async def test_two_processes_at_once_create_each_inspection_once(v: Vault, database_url: str
                                                                 ) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("several processes run on PostgreSQL; SQLite serves one (README)")
    command = [sys.executable, "-c", MONTHLY_RUN, database_url, NOV_1.isoformat(), AUDIT_KEY]
    runs = await asyncio.gather(*(asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=120)
        for _ in range(2)))
    assert [run.returncode for run in runs] == [0, 0], [run.stderr for run in runs]
    assert sum(int(run.stdout) for run in runs) == 3
    assert await Inspection.all().count() == 3
    assert await AuditLog.filter(action="inspection.scheduled").count() == 3


async def test_scheduler_job_creates_the_current_month(v: Vault) -> None:
    assert await calendar_sweeps.create_monthly_inspections(CALENDAR) == 3
    assert await calendar_sweeps.create_monthly_inspections(CALENDAR) == 0


async def test_start_records_the_ledger_and_asks_the_holder(v: Vault) -> None:
    row = await started(v)
    assert row.status == InspectionStatus.IN_PROGRESS
    assert row.expected == STOCK
    assert (row.holder_id, row.supervisor_id) == (  # type: ignore[attr-defined]
        v.holder.staff_id, v.supervisor.staff_id)
    [asked] = await OutboxMessage.filter(recipient_id=v.holder.staff_id,
                                         template=inspections.COUNT_REQUESTED)
    assert chat_buttons(asked) == [[["Count now", f"insp:count:{row.id}"]]]
    assert "3" not in str(asked.params)


async def test_holder_cannot_be_the_second_person(v: Vault) -> None:
    await inspections.create_monthly_inspections(NOV_1)
    row = await monthly(v)
    refused = await refusal(inspections.start_inspection, v.holder, row.id)
    assert isinstance(refused, PermissionDenied)
    assert refused.key == inspections.HOLDER_NOT_SECOND
    await TailBox.filter(id=v.box.id).update(holder_id=v.supervisor.staff_id)
    refused = await refusal(inspections.start_inspection, v.supervisor, row.id)
    assert refused.key == inspections.HOLDER_NOT_SECOND
    assert (await monthly(v)).status == InspectionStatus.SCHEDULED


async def test_another_orgs_inspection_is_refused(v: Vault) -> None:
    await inspections.create_monthly_inspections(NOV_1)
    row = await monthly(v)
    with pytest.raises(NotFound):
        await inspection_reports.inspection_detail(v.far_supervisor, row.id)
    with pytest.raises(NotFound):
        await inspections.start_inspection(v.far_supervisor, row.id)


async def test_matching_counts_close_it_ok_and_confirm_the_box(v: Vault) -> None:
    row = await started(v)
    done = NOV_1 + timedelta(hours=2)
    after_one = await inspections.record_count(v.holder, row.id, STOCK, now=done)
    assert after_one.status == InspectionStatus.IN_PROGRESS
    refused = await refusal(inspections.record_count, v.holder, row.id, STOCK)
    assert refused.key == inspections.ALREADY_COUNTED
    closed = await inspections.record_count(v.supervisor, row.id, STOCK, now=done)
    assert (closed.status, closed.result) == (InspectionStatus.COMPLETED, InspectionResult.OK)
    box = await TailBox.get(id=v.box.id)
    assert (box.last_count_at, box.last_count_matched) == (done, True)
    told = await OutboxMessage.get(template=inspections.COMPLETED_OK)
    assert told.recipient_id == v.holder.staff_id  # type: ignore[attr-defined]


async def test_a_difference_opens_an_incident_that_stops_allocations_until_closed(
        v: Vault) -> None:
    await day_end_count(v.holder, v.box, NOV_1)
    row = await started(v)
    await inspections.record_count(v.holder, row.id, {"KEY": 2, "SIM": 2})
    closed = await inspections.record_count(v.supervisor, row.id, STOCK)
    assert closed.result == InspectionResult.DISCREPANCY
    incident = await Incident.get(id=closed.incident_id)  # type: ignore[attr-defined]
    assert incident.kind == IncidentKind.DISCREPANCY
    assert incident.detail["holder_counted"] == {"KEY": 2, "SIM": 2}
    assert incident.detail["expected"] == STOCK
    told = await OutboxMessage.filter(template=inspections.DISCREPANCY_ALERT).values_list(
        "recipient_id", flat=True)
    assert sorted(told) == sorted([v.ops.staff_id, v.supervisor.staff_id])
    refused = await refusal(voucher_stock.allocate, v.ops, v.box.id, v.types["KEY"].id, count=1,
                            now=NOV_1 + timedelta(hours=3))
    assert refused.key == voucher_stock.INSPECTION_INCIDENT_OPEN
    assert refused.params["incident"] == incident.id
    await incidents.close_incident(v.ops, incident.id, "Recounted: one key was in the drawer.")
    await voucher_stock.receive_range(v.ops, v.ids["outlet_a"], v.types["KEY"].id, "00000100",
                                      "00000100")
    moved = await voucher_stock.allocate(v.ops, v.box.id, v.types["KEY"].id, count=1,
                                         now=NOV_1 + timedelta(hours=4))
    assert len(moved) == 1


@pytest.mark.parametrize(("figures", "message"), [
    ({"KEY": -1, "SIM": 2}, "The count of %(code)s must be a whole number, 0 or more."),
    ({"KEY": 3, "SIM": 2, "CASH": 1}, "%(code)s is not a voucher type to count."),
    ({"KEY": 3}, "Give a count for every voucher type; %(code)s is missing."),
])
async def test_bad_counts_are_refused_and_nothing_is_written(
        v: Vault, figures: dict[str, int], message: str) -> None:
    row = await started(v)
    audit_rows = await AuditLog.all().count()
    refused = await refusal(inspections.record_count, v.holder, row.id, figures)
    assert refused.key == message
    assert (await monthly(v)).holder_counted is None
    assert await AuditLog.all().count() == audit_rows


def test_typed_counts_must_be_whole_numbers() -> None:
    assert inspections.whole_counts({"KEY": " 3 ", "SIM": "0"}) == {"KEY": 3, "SIM": 0}
    for typed in ("three", "-1", "1.5", "", "３"):
        with pytest.raises(DomainError) as refused:
            inspections.whole_counts({"KEY": typed})
        assert refused.value.params == {"code": "KEY"}


async def test_only_the_two_people_count(v: Vault) -> None:
    row = await started(v)
    refused = await refusal(inspections.record_count, v.branch_supervisor, row.id, STOCK)
    assert refused.key == inspections.NOT_YOUR_INSPECTION


async def test_reminders_fire_once_each_then_one_escalation_after_due(v: Vault) -> None:
    await inspections.create_monthly_inspections(NOV_1)
    row = await monthly(v)
    sweep = inspection_deadlines.sweep_inspection_deadlines
    to_holder = OutboxMessage.filter(template=inspection_deadlines.REMINDER,
                                     recipient_id=v.holder.staff_id)
    assert await sweep(NOV_DUE - timedelta(hours=73), CALENDAR) == 0
    at_72 = NOV_DUE - timedelta(hours=71)
    assert await sweep(at_72, CALENDAR) == 3
    assert await sweep(at_72 + timedelta(minutes=15), CALENDAR) == 0
    assert await to_holder.count() == 1
    assert await OutboxMessage.filter(recipient_id=v.supervisor.staff_id).count() == 2
    assert await sweep(NOV_DUE - timedelta(hours=23), CALENDAR) == 3
    assert await sweep(NOV_DUE - timedelta(hours=22), CALENDAR) == 0
    assert await to_holder.count() == 2
    assert (await monthly(v)).reminders_sent == ["r72", "r24"]
    assert await sweep(NOV_DUE + timedelta(minutes=1), CALENDAR) == 3
    assert await sweep(NOV_DUE + timedelta(hours=5), CALENDAR) == 0
    escalated = await OutboxMessage.filter(template=inspection_deadlines.ESCALATED
                                           ).values_list("recipient_id", flat=True)
    assert sorted(escalated) == sorted([v.branch_supervisor.staff_id] * 2 + [v.ops.staff_id])
    after = await Inspection.get(id=row.id)
    assert (after.status, after.escalated_org_id) == (InspectionStatus.OVERDUE,
                                                      v.ids["branch_a"])
    assert await AuditLog.filter(action="inspection.reminded", object_id=str(row.id)
                                 ).count() == 2
    assert await AuditLog.filter(action="inspection.escalated").count() == 3
    late = await inspections.start_inspection(v.supervisor, row.id)
    assert late.status == InspectionStatus.IN_PROGRESS


async def test_a_late_first_sweep_sends_only_the_latest_reminder(v: Vault) -> None:
    await inspections.create_monthly_inspections(NOV_1)
    assert await inspection_deadlines.sweep_inspection_deadlines(
        NOV_DUE - timedelta(hours=2), CALENDAR) == 3
    assert await OutboxMessage.filter(template=inspection_deadlines.REMINDER,
                                      recipient_id=v.holder.staff_id).count() == 1
    assert (await monthly(v)).reminders_sent == ["r24", "r72"]


async def test_surprise_sample_is_drawn_again_from_its_seed(v: Vault) -> None:
    sample = await inspections.launch_surprise(v.ops, v.ids["province"], percent=50,
                                               now=NOV_1, due_hours=CALENDAR.surprise_due_hours)
    assert sample.population == sorted([v.box.id, v.other_box.id, v.far_box.id])
    assert len(sample.chosen) == 2
    assert inspections.draw(sample.seed, sample.population, 2) == sample.chosen
    rows = await Inspection.filter(sample_id=sample.id)
    assert sorted(r.box_id for r in rows) == sample.chosen  # type: ignore[attr-defined]
    assert {(r.kind, r.period, r.due_at) for r in rows} == {
        (InspectionKind.SURPRISE, f"S{sample.id}", NOV_1 + timedelta(hours=24))}
    _, check = await inspections.verify_sample(v.ops, sample.id)
    assert check.matches_recorded and check.matches_inspections
    left_out = next(box for box in sample.population if box not in sample.chosen)
    await InspectionSample.filter(id=sample.id).update(chosen=[sample.chosen[0], left_out])
    _, check = await inspections.verify_sample(v.ops, sample.id)
    assert not check.matches_recorded and check.matches_inspections


async def test_surprise_sample_refuses_a_bad_size(v: Vault) -> None:
    launch = inspections.launch_surprise
    assert (await refusal(launch, v.ops, v.ids["outlet_a"], count=3)).params == {
        "org": "网点a", "available": 2, "count": 3}
    for size in ({"percent": 0}, {"percent": 101}, {"count": 0}, {"percent": 5, "count": 1},
                 {}):
        assert (await refusal(launch, v.ops, v.ids["province"], **size)).key == (
            inspections.SAMPLE_SHAPE)
    with pytest.raises(PermissionDenied):
        await launch(v.supervisor, v.ids["sub_a"], count=1)
    assert await InspectionSample.all().count() == 0


async def test_completion_rates_per_org(v: Vault) -> None:
    await inspections.create_monthly_inspections(NOV_1)
    row = await started(v)
    await inspections.record_count(v.holder, row.id, STOCK)
    await inspections.record_count(v.supervisor, row.id, STOCK)
    rates = await inspection_reports.completion_rates(ROOT, "2026-11")
    assert [(r.org.id, r.total, r.completed, r.rate) for r in rates] == [
        (v.ids["outlet_a"], 2, 1, 50), (v.ids["outlet_b"], 1, 0, 0)]
    far = await inspection_reports.completion_rates(v.far_supervisor, "2026-11")
    assert [(r.org.id, r.total) for r in far] == [(v.ids["outlet_b"], 1)]


async def test_incident_stays_listed_with_the_inspection(v: Vault) -> None:
    row = await started(v)
    await inspections.record_count(v.holder, row.id, {"KEY": 3, "SIM": 1})
    await inspections.record_count(v.supervisor, row.id, {"KEY": 3, "SIM": 1})
    listed = await incidents.list_incidents(v.ops, status=IncidentStatus.OPEN.value)
    assert [i.item for i in listed] == [v.tag]
