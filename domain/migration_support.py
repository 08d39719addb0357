"""Operations the committed migrations use where Tortoise's own would harm an SQLite
database: there any AlterField rebuilds the table, and the rebuilt table loses its unique
constraints and indexes."""

from __future__ import annotations

from typing import Any

from tortoise.migrations import operations as ops

from domain.platform.clock import utcnow

# Indexes the SQLite schema editor lost: the table rebuild of migration 0007 dropped those
# of voucher_movement, and adding a column (0009) skips its index. Created if missing, under
# the names Tortoise gives them, so PostgreSQL, which kept them, is left as it is.
LOST_INDEXES = (
    'CREATE INDEX IF NOT EXISTS "idx_case_record_callbac_8f3d3b" '
    'ON "case_record" ("callback_drawn_at")',
    'CREATE INDEX IF NOT EXISTS "idx_voucher_mov_voucher_b3f095" '
    'ON "voucher_movement" ("voucher_type_id")',
    'CREATE INDEX IF NOT EXISTS "idx_voucher_mov_org_id_f56322" ON "voucher_movement" ("org_id")',
    'CREATE INDEX IF NOT EXISTS "idx_voucher_mov_from_bo_1add84" '
    'ON "voucher_movement" ("from_box_id")',
    'CREATE INDEX IF NOT EXISTS "idx_voucher_mov_to_box__1b6aa7" '
    'ON "voucher_movement" ("to_box_id")',
    'CREATE INDEX IF NOT EXISTS "idx_voucher_mov_at_3d230c" ON "voucher_movement" ("at")',
)


class EnumMembersChanged(ops.AlterField):
    """An enum field whose members changed: the varchar column is as it was, only the
    documented members (the migration state) move on, so the database is left alone."""

    async def database_forward(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def database_backward(self, *args: Any, **kwargs: Any) -> None:
        return None


async def restore_lost_indexes(apps: Any, schema_editor: Any) -> None:
    """Create the indexes the SQLite schema editor lost, where they are missing."""
    for statement in LOST_INDEXES:
        await schema_editor.client.execute_script(statement)


async def mark_earlier_approvals_drawn(apps: Any, schema_editor: Any) -> None:
    """Cases approved before callbacks existed count as drawn: the sampling starts with the
    cases approved from now on, instead of calling back a backlog with fresh windows (K1)."""
    await schema_editor.client.execute_script(
        'UPDATE "case_record" SET "callback_drawn_at" = "decided_at" '
        "WHERE \"status\" = 'approved' AND \"callback_drawn_at\" IS NULL")


class ColumnDropped(ops.RemoveField):
    """A removed field whose column is dropped in place (`ALTER TABLE … DROP COLUMN`, SQLite
    3.35 and later): Tortoise's SQLite schema editor would rebuild the table instead."""

    async def database_forward(self, app_label: str, old_state: Any, new_state: Any,
                               state_editor: Any = None) -> None:
        if state_editor is None:
            return
        model = old_state.apps.get_model(f"{app_label}.{self.model_name}")
        column = model._meta.fields_map[self.name].source_field or self.name
        await state_editor.client.execute_script(
            f'ALTER TABLE "{model._meta.db_table}" DROP COLUMN "{column}"')


async def start_password_clocks(apps: Any, schema_editor: Any) -> None:
    """Web log-ins from before password ageing (S3): a password waiting for its first change
    counts as one-time, every password without a date starts its age now, and each current
    password opens its log-in's history."""
    client = schema_editor.client
    mark = "?" if client.capabilities.dialect == "sqlite" else "$1"
    await client.execute_query(
        'UPDATE "web_credential" SET "one_time_password" = "must_change_password", '
        f'"password_changed_at" = COALESCE("password_changed_at", {mark})', [utcnow()])
    await client.execute_script(
        'INSERT INTO "password_history" ("credential_id", "password_hash", "set_at") '
        'SELECT "id", "password_hash", "password_changed_at" FROM "web_credential"')
