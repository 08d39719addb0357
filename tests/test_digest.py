"""The daily digest (issue 14, "Fewer, better messages"): notices that are not urgent wait for
one message per person per business day, sent by the scheduler's job, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from domain.models import OutboxMessage, OutboxStatus, Role
from domain.platform import digest, outbox
from domain.platform.calendar import Calendar
from domain.platform.intents import Intent
from locales import translate
from scheduler.jobs import scheduled_jobs
from scheduler.runner import run_leased
from tests.clock_support import SteadyClock
from tests.factories import capture_context, org_tree, person

CALENDAR = Calendar()
MONDAY_8AM = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
MONDAY_9AM = MONDAY_8AM + timedelta(hours=1)
CLOSED = "Incident #%(incident)s is closed."
VOIDED = "Void request #%(request)s is done."


async def fyi(staff_id: int, number: int, kind: str = "incident.closed") -> None:
    """Queue one notice that is not urgent."""
    template, key = (CLOSED, "incident") if kind == "incident.closed" else (VOIDED, "request")
    await outbox.enqueue(staff_id, template, {key: number}, intent=Intent.of(kind, number),
                         idempotency_key=f"test:{kind}:{number}:{staff_id}")


async def digests_of(staff_id: int) -> list[OutboxMessage]:
    return await OutboxMessage.filter(recipient_id=staff_id, kind="digest.daily").order_by("id")


async def test_a_notice_that_is_not_urgent_waits_for_the_digest(database_url: str,
                                                                test_clock: SteadyClock) -> None:
    ids = await org_tree()
    row, _ = await person(ids["branch_a"], Role.SUPERVISOR, no="S1")
    test_clock.move_to(MONDAY_8AM)
    await fyi(row.id, 1)
    await outbox.enqueue(row.id, "Incident #%(incident)s was reported.", {"incident": 2},
                         intent=Intent.of("incident.reported", 2), idempotency_key="test:urgent")
    statuses = {m.kind: m.status for m in await OutboxMessage.filter(recipient_id=row.id)}
    assert statuses == {"incident.closed": OutboxStatus.DIGEST,
                        "incident.reported": OutboxStatus.PENDING}


async def test_one_digest_per_person_and_business_day(database_url: str,
                                                      test_clock: SteadyClock) -> None:
    ids = await org_tree()
    first, _ = await person(ids["branch_a"], Role.SUPERVISOR, no="S1")
    second, _ = await person(ids["branch_b"], Role.SUPERVISOR, no="S2")
    await second.update_from_dict({"locale": "en"}).save()
    test_clock.move_to(MONDAY_8AM)
    for number in (1, 2):
        await fyi(first.id, number)
    await fyi(second.id, 3, "void.voided")
    assert await digest.send_due_digests(CALENDAR, MONDAY_8AM + timedelta(minutes=10)) == 0
    assert await digest.send_due_digests(CALENDAR, MONDAY_9AM) == 2
    assert await digest.send_due_digests(CALENDAR, MONDAY_9AM + timedelta(hours=2)) == 0
    [mine] = await digests_of(first.id)
    text = translate("zh_CN", mine.template, **mine.params)
    assert translate("zh_CN", CLOSED, incident=1) in text
    assert translate("zh_CN", CLOSED, incident=2) in text and mine.params["count"] == 2
    [theirs] = await digests_of(second.id)
    assert "Void request #3 is done." in translate("en", theirs.template, **theirs.params)
    held = await OutboxMessage.filter(kind__in=["incident.closed", "void.voided"])
    assert {m.status for m in held} == {OutboxStatus.SENT}


async def test_what_comes_after_the_days_digest_waits_for_the_next_working_day(
        database_url: str, test_clock: SteadyClock) -> None:
    ids = await org_tree()
    row, _ = await person(ids["branch_a"], Role.SUPERVISOR, no="S1")
    friday_9am = MONDAY_9AM + timedelta(days=4)
    test_clock.move_to(friday_9am - timedelta(hours=1))
    await fyi(row.id, 1)
    assert await digest.send_due_digests(CALENDAR, friday_9am) == 1
    test_clock.move_to(friday_9am + timedelta(hours=1))
    await fyi(row.id, 2)
    assert await digest.send_due_digests(CALENDAR, friday_9am + timedelta(hours=2)) == 0
    saturday = friday_9am + timedelta(days=1)
    assert await digest.send_due_digests(CALENDAR, saturday) == 0
    assert await digest.send_due_digests(CALENDAR, saturday + timedelta(days=2)) == 1
    later = await digests_of(row.id)
    assert [m.params["count"] for m in later] == [1, 1]
    assert translate("zh_CN", CLOSED, incident=2) in translate("zh_CN", later[1].template,
                                                               **later[1].params)


async def test_the_scheduler_sends_the_digest_once_across_processes(
        database_url: str, test_clock: SteadyClock, tmp_path: Path) -> None:
    ids = await org_tree()
    row, _ = await person(ids["branch_a"], Role.SUPERVISOR, no="S1")
    test_clock.move_to(MONDAY_8AM)
    await fyi(row.id, 1)
    test_clock.move_to(MONDAY_9AM)
    [job] = [job for job in scheduled_jobs(capture_context(tmp_path), timedelta(minutes=30))
             if job.name == "daily_digest"]
    await run_leased(job, "p1")
    await run_leased(job, "p2")
    assert len(await digests_of(row.id)) == 1
