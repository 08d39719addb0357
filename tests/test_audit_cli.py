"""`fieldops audit verify` and `fieldops audit checkpoint` as an operator runs them (S3)."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from pathlib import Path

from domain.models import AuditLog
from domain.platform import audit
from domain.platform.clock import utcnow
from tests.audit_support import owner_rights
from tests.cli_support import cli_env, fieldops
from tests.factories import org_tree


async def test_verify_compares_with_the_checkpoints_and_finds_removed_and_forged_rows(
    database_url: str, tmp_path: Path
) -> None:
    env = cli_env(database_url, tmp_path)
    await org_tree()
    anchored = await fieldops(env, "audit", "checkpoint", cwd=tmp_path)
    assert anchored.returncode == 0, anchored.stderr
    assert "audit checkpoint: 7 rows" in anchored.stdout
    intact = await fieldops(env, "audit", "verify", cwd=tmp_path)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "intact: 7 rows verified" in intact.stdout
    assert "1 checkpoint(s) compared" in intact.stdout
    assert "7/7" in intact.stderr and "audit rows" in intact.stderr
    kept = tmp_path / "offsite" / "checkpoints.log"
    kept.parent.mkdir()
    shutil.move(tmp_path / "var" / "audit-checkpoints.log", kept)
    last = await AuditLog.all().order_by("-id").first()
    assert last is not None
    async with owner_rights():
        await AuditLog.filter(id=last.id).delete()
    unanchored = await fieldops(env, "audit", "verify", cwd=tmp_path)
    assert unanchored.returncode == 0 and "cannot be found" in unanchored.stderr
    truncated = await fieldops(env, "audit", "verify", "--checkpoint", str(kept), cwd=tmp_path)
    assert truncated.returncode == 1
    assert "BROKEN after the last row" in truncated.stdout and "7" in truncated.stdout
    async with owner_rights():
        await AuditLog.all().delete()
    emptied = await fieldops(env, "audit", "verify", "--checkpoint", str(kept), cwd=tmp_path)
    assert emptied.returncode == 1 and "BROKEN" in emptied.stdout


async def test_verify_names_a_forged_row_and_migrate_seals_unkeyed_rows(
    database_url: str, tmp_path: Path
) -> None:
    env = cli_env(database_url, tmp_path)
    row = AuditLog(at=utcnow(), actor_id=None, actor_label="system:cli", action="org.create",
                   object_type="org", object_id="1", detail={}, prev_hash=audit.GENESIS_HASH)
    row.row_hash = audit.row_digest(audit.GENESIS_HASH, row, None)
    await row.save()
    migrated = await fieldops(env, "migrate", cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "1 earlier row(s) sealed" in migrated.stdout
    sealed = await fieldops(env, "audit", "verify", cwd=tmp_path)
    assert sealed.returncode == 0 and "(1 from before the audit key)" in sealed.stdout
    head = await AuditLog.all().order_by("-id").first()
    assert head is not None
    forged = AuditLog(at=utcnow(), actor_id=None, actor_label="system:cli", action="org.create",
                      object_type="org", object_id="2", detail={}, prev_hash=head.row_hash)
    forged.row_hash = audit.row_digest(head.row_hash, forged, None)
    await forged.save()
    broken = await fieldops(env, "audit", "verify", cwd=tmp_path)
    assert broken.returncode == 1 and f"BROKEN at row {forged.id}" in broken.stdout


async def test_verify_refuses_a_forged_edited_or_unsigned_checkpoint_line_and_names_it(
    database_url: str, tmp_path: Path
) -> None:
    env = cli_env(database_url, tmp_path, FIELDOPS_DEFAULT_LOCALE="en")
    await org_tree()
    anchored = await fieldops(env, "audit", "checkpoint", cwd=tmp_path)
    assert anchored.returncode == 0, anchored.stderr
    path = tmp_path / "var" / "audit-checkpoints.log"
    genuine = json.loads(path.read_text(encoding="utf-8"))
    unsigned = {k: v for k, v in genuine.items() if k != "sig"}
    forged = unsigned | {"rows": 3, "head_id": 3, "sig": hmac.new(
        b"a guessed key", json.dumps(unsigned).encode(), hashlib.sha256).hexdigest()}
    for bad, reason in ((forged, "forged or edited"), (genuine | {"rows": 6}, "forged or edited"),
                        (unsigned, "not signed")):
        kept = tmp_path / "kept.log"
        kept.write_text(f"{json.dumps(genuine)}\n{json.dumps(bad)}\n", encoding="utf-8")
        refused = await fieldops(env, "audit", "verify", "--checkpoint", str(kept), cwd=tmp_path)
        assert refused.returncode == 1, refused.stdout
        assert f"REJECTED: {kept}, line 2: the" in refused.stdout and reason in refused.stdout
    kept.write_text(f"{json.dumps(unsigned)}\n{json.dumps(genuine)}\n", encoding="utf-8")
    older = await fieldops(env, "audit", "verify", "--checkpoint", str(kept),
                           "--allow-unsigned", cwd=tmp_path)
    assert older.returncode == 0 and "2 checkpoint(s) compared" in older.stdout
