"""The audit log refuses UPDATE and DELETE (S3): triggers on PostgreSQL (TRUNCATE too) and
on SQLite.

Rows only ever get appended (`domain.platform.audit.record`); a changed or removed row
would be found by `fieldops audit verify`, and this keeps it from happening through the
application's own connection in the first place. The table's owner can still drop the
trigger, which is why the chain is keyed and anchored by checkpoints outside the database.
"""

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

REFUSAL = "audit_log is append-only"
POSTGRES_UP = (
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
    f"BEGIN RAISE EXCEPTION '{REFUSAL}: % refused', TG_OP; END; $$ LANGUAGE plpgsql",
    'CREATE TRIGGER "audit_log_append_only" BEFORE UPDATE OR DELETE ON "audit_log" '
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    'CREATE TRIGGER "audit_log_no_truncate" BEFORE TRUNCATE ON "audit_log" '
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
)
POSTGRES_DOWN = (
    'DROP TRIGGER IF EXISTS "audit_log_no_truncate" ON "audit_log"',
    'DROP TRIGGER IF EXISTS "audit_log_append_only" ON "audit_log"',
    "DROP FUNCTION IF EXISTS audit_log_append_only()",
)
SQLITE_UP = tuple(
    f'CREATE TRIGGER IF NOT EXISTS "audit_log_no_{verb.lower()}" BEFORE {verb} ON "audit_log" '
    f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}: {verb} refused'); END"
    for verb in ("UPDATE", "DELETE"))
SQLITE_DOWN = ('DROP TRIGGER IF EXISTS "audit_log_no_update"',
               'DROP TRIGGER IF EXISTS "audit_log_no_delete"')


async def _run(schema_editor: Any, statements: dict[str, tuple[str, ...]]) -> None:
    client = schema_editor.client
    for statement in statements[client.capabilities.dialect]:
        await client.execute_script(statement)


async def refuse_changes(apps: Any, schema_editor: Any) -> None:
    """Install the triggers that refuse UPDATE and DELETE on the audit log."""
    await _run(schema_editor, {"postgres": POSTGRES_UP, "sqlite": SQLITE_UP})


async def allow_changes(apps: Any, schema_editor: Any) -> None:
    """Remove those triggers again."""
    await _run(schema_editor, {"postgres": POSTGRES_DOWN, "sqlite": SQLITE_DOWN})


class Migration(migrations.Migration):
    dependencies = [('models', '0015_login_abuse_and_password_policy')]

    initial = False

    operations = [
        ops.RunPython(refuse_changes, allow_changes),
    ]
