from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
import json
import re
from json import dumps, loads
from tortoise import fields
from typing import Any

# The notifications as 0013 wrote them: the kind read from the idempotency key, buttons of
# callback data and admin paths. Frozen here as they were, whatever the code says later.
RENAMED_KINDS = {
    "qualification:event": "qualification.changed",
    "staff.roles": "staff.roles_changed",
    "staff.active": "staff.activation_changed",
    "mis_issue:chain": "mis_issue.to_chain",
    "mis_issue": "mis_issue.reminder",
    "inspection": "inspection.reminder",
    "callback:callback_denied": "callback.denied",
    "callback:callback_complaint": "callback.complaint",
}
SUBJECT_TYPES = {
    "case": "case", "special": "special_approval", "device": "device",
    "incident": "incident", "qualification": "qualification", "staff": "staff",
    "staff.roles": "staff", "staff.active": "staff", "void": "void_request",
    "tail_box": "tail_box", "mis_issue": "mis_issue", "box_count": "box_count",
    "inspection": "inspection", "callback": "callback",
}
ACTIONS = {
    "rv:claim:": "claim", "rv:approve:": "approve", "rv:return:": "return",
    "cap:retake:": "retake", "sp:approve:": "approve", "sp:refuse:": "refuse",
    "dev:confirm:": "confirm_receipt", "vc:back:": "take_back", "vc:count:": "count",
    "vc:handover:": "take_over", "insp:count:": "count", "insp:start:": "start",
}
WAITING = "('pending', 'sending', 'waiting', 'dead')"


def _intent(kind: str, key: str, recipient_id: int, buttons: list[list[list[str]]]
            ) -> tuple[str, str, int, int | None, list[str]] | None:
    """(kind, subject type, subject id, revision, actions) of a notification row of 0013,
    or None when its key does not say what it is about."""
    prefix, *parts = key.split(":")
    actions = [("open" if data.startswith("/") else next(
        (name for start, name in ACTIONS.items() if data.startswith(start)), ""))
        for row in buttons for _label, data in row]
    if prefix not in SUBJECT_TYPES or not parts or "" in actions:
        return None
    if kind == "staff:retraining":
        kind = "staff:retraining_proposed" if ":proposal:" in key else "staff:retraining_flagged"
    elif kind == "mis_issue:holder":
        kind = "mis_issue:to_recover" if actions else "mis_issue:to_holder"
    kind = RENAMED_KINDS.get(kind, kind.replace(":", "."))
    subject_id = recipient_id if prefix in ("staff.roles", "staff.active") else int(parts[0])
    revision = (int(parts[1][1:]) if prefix == "case" and len(parts) > 1
                and re.fullmatch(r"r\d+", parts[1]) else None)
    return kind, SUBJECT_TYPES[prefix], subject_id, revision, actions


async def convert_waiting_notifications(apps: Any, schema_editor: Any) -> None:
    """Give the notifications still to be sent (or retried) their intent from their key and
    buttons; one that cannot be read expires with the reason. Sent and expired rows keep
    their history as it was."""
    client = schema_editor.client
    sqlite = client.capabilities.dialect == "sqlite"
    marks = ["?"] * 7 if sqlite else [f"${n}" for n in range(1, 8)]
    _, rows = await client.execute_query(
        'SELECT "id", "kind", "idempotency_key", "recipient_id", "buttons" '
        f"FROM \"outbox_message\" WHERE \"kind\" <> 'reply' AND \"status\" IN {WAITING}")
    for row in rows:
        buttons = row["buttons"]
        found = _intent(row["kind"], row["idempotency_key"], row["recipient_id"],
                        json.loads(buttons) if isinstance(buttons, str) else buttons or [])
        if found is None:
            await client.execute_query(
                f'UPDATE "outbox_message" SET "status" = \'expired\', "claimed_until" = NULL, '
                f'"last_error" = {marks[0]} WHERE "id" = {marks[1]}',
                ["no intent could be read from it (migration 0014)", row["id"]])
            continue
        kind, subject_type, subject_id, revision, actions = found
        await client.execute_query(
            f'UPDATE "outbox_message" SET "kind" = {marks[0]}, "subject_type" = {marks[1]}, '
            f'"subject_id" = {marks[2]}, "subject_revision" = {marks[3]}, '
            f'"actions" = {marks[4]}, "buttons" = {marks[5]} WHERE "id" = {marks[6]}',
            [kind, subject_type, subject_id, revision, json.dumps(actions), "[]", row["id"]])


class Migration(migrations.Migration):
    dependencies = [('models', '0013_capture_device')]

    initial = False

    operations = [
        ops.AddField(
            model_name='OutboxMessage',
            name='subject_type',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='subject_id',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='subject_revision',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='actions',
            field=fields.JSONField(default=list, null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.RunPython(convert_waiting_notifications, ops.RunPython.noop),
    ]
