"""Retention (issue 14): finished bookkeeping is pruned after the setting, in batches; audit
rows, records and messages still to be sent stay however old; the dispatcher's poll has its
partial indexes on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from tortoise import connections

from domain.models import (
    AuditLog,
    BindCode,
    ChatInbound,
    ChatInboundHit,
    OutboxMessage,
    OutboxStatus,
    ProcessedUpdate,
    Role,
    Staff,
)
from domain.models.orgs import LoginThrottle
from domain.platform import audit, chat, clock, housekeeping, outbox
from domain.platform.actors import system_actor
from domain.platform.clock import utcnow
from scheduler.jobs import scheduled_jobs
from tests.cli_support import cli_env, fieldops
from tests.factories import capture_context, org_tree, person

DAY = timedelta(days=1)
MONTH = housekeeping.Retention()  # the default: 30 days


async def _agent() -> Staff:
    ids = await org_tree()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="A1")
    return agent


async def _message(recipient: Staff, key: str, status: OutboxStatus, created: datetime,
                   sent: datetime | None = None) -> None:
    await OutboxMessage.create(
        recipient=recipient, channel="telegram", kind="reply", template="hello",
        idempotency_key=key, status=status, next_attempt_at=created, created_at=created,
        sent_at=sent)


async def _keys() -> set[str]:
    return set(await OutboxMessage.all().values_list("idempotency_key", flat=True))


async def test_prune_removes_finished_messages_past_retention_and_keeps_unsent_ones(
        database_url: str) -> None:
    agent, now = await _agent(), utcnow()
    old, recent = now - 31 * DAY, now - 29 * DAY
    await _message(agent, "sent-old", OutboxStatus.SENT, old, sent=old)
    await _message(agent, "sent-late", OutboxStatus.SENT, now - 90 * DAY, sent=recent)
    await _message(agent, "dead-old", OutboxStatus.DEAD, old)
    await _message(agent, "dead-recent", OutboxStatus.DEAD, recent)
    await _message(agent, "expired-old", OutboxStatus.EXPIRED, old)
    for status in (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.WAITING):
        await _message(agent, f"{status}-ancient", status, now - 400 * DAY)

    removed = await housekeeping.prune(MONTH)

    assert removed["outbox_message"] == 3
    assert await _keys() == {"sent-late", "dead-recent", "pending-ancient", "sending-ancient",
                             "waiting-ancient"}


async def test_prune_removes_old_bookkeeping_of_every_kind(database_url: str) -> None:
    agent, now = await _agent(), utcnow()
    old, recent = now - 31 * DAY, now - 29 * DAY
    for number, at in ((1, old), (2, recent)):
        await ProcessedUpdate.create(channel="telegram", update_id=str(number), processed_at=at)
        await BindCode.create(staff=agent, code_hash=f"{number:064d}", created_at=at,
                              expires_at=at + timedelta(minutes=10))
        await ChatInboundHit.create(channel="telegram", sender=str(number), at=at)
        await ChatInbound.create(channel="telegram", update_id=number, sender=str(number),
                                 received_at=at)
        await LoginThrottle.create(key=f"address:10.0.0.{number}", failures=3,
                                   last_failure_at=at)
    await LoginThrottle.create(key="address:10.0.0.3", failures=40, last_failure_at=old,
                               blocked_until=now + DAY)  # still waiting: kept

    removed = await housekeeping.prune(MONTH)

    assert removed == {"outbox_message": 0, "processed_update": 1, "bind_code": 1,
                       "login_throttle": 1, "chat_inbound_hit": 1, "chat_inbound": 1,
                       "chat_card": 0, "web_notice": 0}
    assert await ProcessedUpdate.all().values_list("update_id", flat=True) == ["2"]
    assert await BindCode.all().values_list("code_hash", flat=True) == [f"{2:064d}"]
    assert await ChatInboundHit.all().values_list("sender", flat=True) == ["2"]
    assert await ChatInbound.all().values_list("update_id", flat=True) == [2]
    assert set(await LoginThrottle.all().values_list("key", flat=True)) == {
        "address:10.0.0.2", "address:10.0.0.3"}


async def test_processed_update_marks_stay_a_week_whatever_the_setting(
        database_url: str) -> None:
    assert await chat.claim_update("telegram", "fresh")
    assert await chat.claim_update("telegram", "six-days")
    assert await chat.claim_update("telegram", "eight-days")
    now = utcnow()
    await ProcessedUpdate.filter(update_id="six-days").update(processed_at=now - 6 * DAY)
    await ProcessedUpdate.filter(update_id="eight-days").update(processed_at=now - 8 * DAY)

    removed = await housekeeping.prune(housekeeping.Retention(days=1))

    assert removed["processed_update"] == 1
    assert not await chat.claim_update("telegram", "six-days")  # a redelivery does nothing
    assert await chat.claim_update("telegram", "eight-days")


async def test_audit_rows_and_records_stay_however_old(database_url: str) -> None:
    long_ago = utcnow() - 400 * DAY
    previous = clock.use_clock(lambda: long_ago)
    try:
        agent = await _agent()
        await audit.record(system_actor("tests"), "tests.old", "staff", agent.id)
    finally:
        clock.use_clock(previous)
    rows, staff = await AuditLog.all().count(), await Staff.all().count()

    await housekeeping.prune(housekeeping.Retention(days=1))

    assert await AuditLog.all().count() == rows > 0
    assert await Staff.all().count() == staff


async def test_prune_in_tiny_batches_finishes_and_a_second_sweep_removes_nothing(
        database_url: str) -> None:
    agent, old = await _agent(), utcnow() - 40 * DAY
    await OutboxMessage.bulk_create([
        OutboxMessage(recipient=agent, channel="telegram", kind="reply", template="x",
                      idempotency_key=f"sent-{n}", status=OutboxStatus.SENT,
                      next_attempt_at=old, created_at=old, sent_at=old) for n in range(23)])
    await _message(agent, "kept", OutboxStatus.PENDING, old)
    seen: list[tuple[str, int]] = []

    removed = await housekeeping.prune(housekeeping.Retention(days=30, batch=5),
                                       progress=lambda kind, n: seen.append((kind, n)))

    assert removed["outbox_message"] == 23
    assert seen == [("outbox_message", n) for n in (5, 10, 15, 20, 23)]
    assert await _keys() == {"kept"}
    again = await housekeeping.prune(housekeeping.Retention(days=30, batch=5))
    assert not any(again.values())


async def test_the_scheduler_prunes_with_the_retention_setting(tmp_path: Path) -> None:
    [job] = [j for j in scheduled_jobs(capture_context(tmp_path), timedelta(minutes=30),
                                       retention_days=45) if j.name == "retention"]
    assert job.sweep.args[0] == housekeeping.Retention(days=45)  # type: ignore[attr-defined]


async def test_fieldops_prune_reports_what_it_removed(database_url: str, tmp_path: Path
                                                      ) -> None:
    agent, old = await _agent(), utcnow() - 10 * DAY
    await _message(agent, "sent-ten-days", OutboxStatus.SENT, old, sent=old)
    await _message(agent, "pending", OutboxStatus.PENDING, old)

    result = await fieldops(cli_env(database_url, tmp_path), "prune", "--days", "7",
                            cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "outbox_message       1 row(s) older than 7 days pruned" in result.stdout
    assert await _keys() == {"pending"}


async def test_poll_queries_have_their_partial_indexes(database_url: str) -> None:
    client = connections.get("default")
    if client.capabilities.dialect == "sqlite":
        rows = await client.execute_query_dict(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'outbox_message'")
        found = {row["name"]: row["sql"] for row in rows}
    else:
        rows = await client.execute_query_dict(
            "SELECT indexname AS name, indexdef AS sql FROM pg_indexes "
            "WHERE tablename = 'outbox_message'")
        found = {row["name"]: row["sql"] for row in rows}
    for name in ("outbox_message_due", "outbox_message_chat_pending",
                 "outbox_message_chat_sending"):
        assert name in found, sorted(found)
        assert "WHERE" in found[name].upper()


async def test_metrics_count_the_work_left_and_not_the_history(database_url: str) -> None:
    agent, now = await _agent(), utcnow()
    for number, status in enumerate((OutboxStatus.PENDING, OutboxStatus.PENDING,
                                     OutboxStatus.SENDING, OutboxStatus.DEAD,
                                     OutboxStatus.SENT, OutboxStatus.SENT,
                                     OutboxStatus.EXPIRED)):
        await _message(agent, f"m{number}", status, now, sent=now)

    assert await outbox.status_counts() == {"pending": 2, "sending": 1, "waiting": 0,
                                            "dead": 1}
