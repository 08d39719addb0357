"""The audit chain holds against someone who can write to the database but has no audit key
(S3): each attack of the security review is played and `verify` finds it."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from asyncpg.exceptions import RaiseError as PostgresRefusal
from tortoise import connections
from tortoise.exceptions import OperationalError

from domain.models import AuditLog
from domain.platform import audit
from domain.platform.actors import system_actor
from domain.platform.clock import utcnow
from scheduler.jobs import scheduled_jobs, write_audit_checkpoint
from tests.audit_support import AUDIT_KEY, owner_rights
from tests.factories import capture_context, org_tree

GUESSED_KEY = b"what an attacker without the key would try"


def forged(prev_hash: str, key: bytes | None, **fields: object) -> AuditLog:
    """A row as an attacker writes it: chained to `prev_hash`, hashed with `key` (None: the
    plain SHA-256 the chain used before it was keyed)."""
    row = AuditLog(at=utcnow(), actor_id=None, actor_label="system:cli", action="org.create",
                   object_type="org", object_id="99", org_id=None, detail={}, prev_hash=prev_hash)
    for name, value in fields.items():
        setattr(row, name, value)
    row.row_hash = audit.row_digest(prev_hash, row, key)
    return row


async def head() -> AuditLog:
    row = await AuditLog.all().order_by("-id").first()
    assert row is not None
    return row


@pytest.mark.parametrize("key", [None, GUESSED_KEY], ids=["sha256", "guessed-key"])
async def test_a_forged_row_appended_with_a_valid_hash_is_found(database_url: str,
                                                                key: bytes | None) -> None:
    await org_tree()
    row = forged((await head()).row_hash, key)
    await row.save()
    report = await audit.verify_chain()
    assert report.broken is not None and report.broken.row_id == row.id
    assert report.checked == 7


@pytest.mark.parametrize("key", [None, GUESSED_KEY], ids=["sha256", "guessed-key"])
async def test_an_edited_row_with_the_rest_rechained_is_found(database_url: str,
                                                              key: bytes | None) -> None:
    await org_tree()
    rows = await AuditLog.all().order_by("id")
    victim = rows[2]
    async with owner_rights():
        victim.actor_label = "someone else"
        prev_hash = victim.prev_hash
        for row in rows[2:]:
            row.prev_hash = prev_hash
            row.row_hash = audit.row_digest(prev_hash, row, key)
            await row.save()
            prev_hash = row.row_hash
    report = await audit.verify_chain()
    assert report.broken is not None and report.broken.row_id == victim.id
    assert report.broken.reason == "row content does not match its hash"


async def test_rows_removed_from_the_end_are_found_by_the_checkpoint(database_url: str
                                                                     ) -> None:
    await org_tree()
    mark = await audit.checkpoint()
    assert (mark.rows, mark.head_id) == (7, (await head()).id)
    await audit.record(system_actor("cli"), "org.update", "org", 1)
    async with owner_rights():
        await AuditLog.filter(id__gt=mark.head_id - 2).delete()
    assert (await audit.verify_chain()).broken is None, "the chain alone cannot tell"
    report = await audit.verify_chain([mark])
    assert report.broken is not None and report.broken.row_id is None
    assert report.broken.params["rows"] == 7 and report.checked == 5


async def test_all_rows_removed_are_found_by_the_checkpoint(database_url: str) -> None:
    await org_tree()
    mark = await audit.checkpoint()
    async with owner_rights():
        await AuditLog.all().delete()
    report = await audit.verify_chain([mark])
    assert report.broken is not None and report.checked == 0


async def test_a_chain_rebuilt_to_the_checkpoints_length_differs_from_it(database_url: str
                                                                         ) -> None:
    await org_tree()
    mark = await audit.checkpoint()
    async with owner_rights():
        await AuditLog.all().delete()
    prev_hash = audit.GENESIS_HASH
    for _ in range(mark.rows):
        row = forged(prev_hash, None)
        await row.save()
        prev_hash = row.row_hash
    report = await audit.verify_chain([mark])
    assert report.broken is not None


async def test_a_chain_that_grew_after_its_checkpoints_is_intact(database_url: str) -> None:
    await org_tree()
    marks = [await audit.checkpoint()]
    await audit.record(system_actor("cli"), "org.update", "org", 1)
    marks.append(await audit.checkpoint())
    await audit.record(system_actor("cli"), "org.update", "org", 2)
    report = await audit.verify_chain(marks)
    assert report.broken is None and (report.checked, report.legacy) == (9, 0)


async def test_unkeyed_rows_from_before_the_key_are_sealed_and_nothing_unkeyed_follows(
    database_url: str,
) -> None:
    prev_hash = audit.GENESIS_HASH
    for n in range(3):
        row = forged(prev_hash, None, object_id=str(n))
        await row.save()
        prev_hash = row.row_hash
    assert await audit.seal_legacy_rows() == 3
    assert await audit.seal_legacy_rows() == 0
    sealed = await head()
    assert sealed.action == audit.SEALED and sealed.detail == {"legacy_rows": 3}
    report = await audit.verify_chain()
    assert report.broken is None and (report.checked, report.legacy) == (4, 3)
    late = forged(sealed.row_hash, None)
    await late.save()
    broken = (await audit.verify_chain()).broken
    assert broken is not None and broken.row_id == late.id


async def test_after_a_rotation_the_old_key_checks_old_rows_but_signs_no_new_one(
    database_url: str,
) -> None:
    await org_tree()
    audit.use_keys("the-next-audit-key", [AUDIT_KEY])
    await audit.record(system_actor("cli"), "org.update", "org", 1)
    assert (await audit.verify_chain()).broken is None
    late = forged((await head()).row_hash, AUDIT_KEY.encode())
    await late.save()
    broken = (await audit.verify_chain()).broken
    assert broken is not None and broken.row_id == late.id
    audit.use_keys(AUDIT_KEY)
    assert (await audit.verify_chain()).broken is not None, "rows of the new key fail without it"


async def test_the_database_refuses_to_change_or_remove_audit_rows(database_url: str) -> None:
    await org_tree()
    row = await head()
    for change in (AuditLog.filter(id=row.id).update(actor_label="someone else"),
                   AuditLog.filter(id=row.id).delete(), AuditLog.all().delete()):
        with pytest.raises((OperationalError, PostgresRefusal)) as refused:
            await change
        assert "audit_log is append-only" in str(refused.value)
    client = connections.get("default")
    if client.capabilities.dialect == "postgres":
        with pytest.raises(PostgresRefusal, match="TRUNCATE refused"):
            await client.execute_script('TRUNCATE "audit_log"')
    assert await AuditLog.all().count() == 7
    assert (await audit.verify_chain()).broken is None


async def test_an_unkeyed_process_refuses_to_write_audit_rows(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit._KEYS, "in_force", ())
    with pytest.raises(RuntimeError, match="no key"):
        await audit.record(system_actor("cli"), "org.update", "org", 1)


async def test_the_scheduler_writes_a_checkpoint_line_to_the_log_and_the_file(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await org_tree()
    path = tmp_path / "anchors" / "audit-checkpoints.log"
    [job] = [j for j in scheduled_jobs(capture_context(tmp_path / "media"),
                                       timedelta(minutes=30), audit_checkpoints=path)
             if j.name == "audit_checkpoint"]
    assert job.at_start and job.lease <= job.every
    with caplog.at_level(logging.INFO, logger="scheduler.jobs"):
        await job.sweep()
        await audit.record(system_actor("cli"), "org.update", "org", 1)
        await write_audit_checkpoint(path)
    first, second = audit.read_checkpoints(path)
    assert second.rows == first.rows + 1 and second.head_hash == (await head()).row_hash
    assert f"audit checkpoint: {second.rows} rows" in caplog.text
    assert second.head_hash in caplog.text
    assert (await audit.verify_chain([first, second])).broken is None


def test_a_checkpoint_line_reads_back_as_written(tmp_path: Path) -> None:
    mark = audit.Checkpoint(at=utcnow(), rows=3, head_id=9,
                            head_hash=hashlib.sha256(b"x").hexdigest())
    path = tmp_path / "audit-checkpoints.log"
    line = audit.append_checkpoint(path, mark)
    assert json.loads(line)["sig"] == mark.signature(AUDIT_KEY.encode())
    assert audit.read_checkpoints(path) == [mark]


def checkpoint_file(tmp_path: Path, *lines: dict[str, object]) -> Path:
    """A checkpoint file holding these lines, as someone who can write the file wrote them."""
    path = tmp_path / "audit-checkpoints.log"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def genuine(rows: int) -> dict[str, object]:
    """A checkpoint line as the scheduler signs it."""
    mark = audit.Checkpoint(at=utcnow(), rows=rows, head_id=rows,
                            head_hash=hashlib.sha256(str(rows).encode()).hexdigest())
    return json.loads(mark.line())


def resigned(line: dict[str, object], key: bytes, **changes: object) -> dict[str, object]:
    """The line with `changes`, signed again with `key`."""
    data = line | changes
    mark, _ = audit.Checkpoint.of_line(json.dumps(data))
    return data | {"sig": mark.signature(key)}


@pytest.mark.parametrize("attack", ["forged", "count-edited", "signature-stripped"])
def test_a_forged_edited_or_unsigned_checkpoint_line_is_refused_with_its_number(
    tmp_path: Path, attack: str
) -> None:
    first, second = genuine(5), genuine(7)
    bad = {"forged": resigned(second, GUESSED_KEY, rows=9, head_id=9),
           "count-edited": second | {"rows": 6},
           "signature-stripped": {k: v for k, v in second.items() if k != "sig"}}[attack]
    path = checkpoint_file(tmp_path, first, bad)
    with pytest.raises(audit.CheckpointRejected) as refused:
        audit.read_checkpoints(path)
    assert refused.value.line_no == 2
    assert refused.value.reason == (audit.UNSIGNED_CHECKPOINT if attack == "signature-stripped"
                                    else audit.FORGED_CHECKPOINT)


def test_unsigned_lines_pass_only_when_allowed_and_only_before_the_first_signed_one(
    tmp_path: Path
) -> None:
    old = {k: v for k, v in genuine(3).items() if k != "sig"}
    path = checkpoint_file(tmp_path, old, genuine(5))
    assert [mark.rows for mark in audit.read_checkpoints(path, allow_unsigned=True)] == [3, 5]
    with pytest.raises(audit.CheckpointRejected, match="line 1: the line is not signed"):
        audit.read_checkpoints(path)
    late = checkpoint_file(tmp_path, genuine(5), old)
    with pytest.raises(audit.CheckpointRejected) as refused:
        audit.read_checkpoints(late, allow_unsigned=True)
    assert refused.value.reason == audit.UNSIGNED_AFTER_SIGNED


def test_after_a_rotation_old_checkpoints_still_hold_but_none_signed_with_the_old_key_follows(
    tmp_path: Path
) -> None:
    before = genuine(3)
    audit.use_keys("the-next-audit-key", [AUDIT_KEY])
    after = genuine(5)
    assert [m.rows for m in audit.read_checkpoints(checkpoint_file(tmp_path, before, after))
            ] == [3, 5]
    late = resigned(after, AUDIT_KEY.encode(), rows=9)
    with pytest.raises(audit.CheckpointRejected) as refused:
        audit.read_checkpoints(checkpoint_file(tmp_path, before, after, late))
    assert (refused.value.line_no, refused.value.reason) == (3, audit.RETIRED_KEY_CHECKPOINT)
    audit.use_keys(AUDIT_KEY)
    with pytest.raises(audit.CheckpointRejected, match="line 2: the signature does not match"):
        audit.read_checkpoints(checkpoint_file(tmp_path, before, after))
