"""Partial indexes for the dispatcher's claim (issue 14: retention), so its poll stays flat
however many sent, dead and expired rows the outbox keeps until they are pruned.

- `outbox_message_due`: the pending messages by due time, the order the claim takes them;
- `outbox_message_chat_pending` and `outbox_message_chat_sending`: the unsent messages of one
  chat (recipient and channel) by id, for the claim's check that no earlier message to the
  same chat waits.

Each holds live rows only (a few hundred), not the million finished ones. One partial index
per status, not one `WHERE status IN (…)`: the claim binds its statuses as parameters, and
SQLite uses a partial index only when a query's term matches its condition, which a bound
`status = ?` does for `status = 'pending'` but not for an IN list. Tortoise's models cannot
declare such an index, so it lives here only (the models' state is unchanged).
"""

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEXES = (
    ("outbox_message_due", '"next_attempt_at", "id"', "pending"),
    ("outbox_message_chat_pending", '"recipient_id", "channel", "id"', "pending"),
    ("outbox_message_chat_sending", '"recipient_id", "channel", "id"', "sending"),
)


async def create_indexes(apps: Any, schema_editor: Any) -> None:
    """Create the partial indexes (the same statement on PostgreSQL and SQLite)."""
    for name, columns, status in INDEXES:
        await schema_editor.client.execute_script(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "outbox_message" ({columns}) '
            f"WHERE \"status\" = '{status}'")


async def drop_indexes(apps: Any, schema_editor: Any) -> None:
    """Drop them again."""
    for name, _, _ in INDEXES:
        await schema_editor.client.execute_script(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [('models', '0021_send_budget')]

    initial = False

    operations = [
        ops.RunPython(create_indexes, drop_indexes),
    ]
