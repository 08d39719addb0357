"""Cards with buttons sent in chat, so that a press resolves to the flows' own data."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class ChatCard(Model):
    """A card with buttons a chat platform showed a recipient (WeCom's button_interaction
    template card, issue 15): `keys` maps each button's short key to [label, data], the
    flows' callback data or a link; `response_code` is the platform's latest code for
    updating the card, usable once (None when used or none was given), given at `code_at`;
    `pressed_at`/`pressed_key` the one press the card takes until it is edited anew. A text
    message is kept the same way without keys, `task_id` an id of ours for its `msgid`
    (which a recall needs and is too long for the outbox's message id). `replaced_by` is the
    task id of the message an edit sent anew in its place (what the next edit takes)."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    recipient = fields.CharField(max_length=64)
    task_id = fields.CharField(max_length=128, unique=True)
    msgid = fields.CharField(max_length=128)
    keys: dict[str, Any] = fields.JSONField()
    response_code = fields.CharField(max_length=128, null=True)
    code_at = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(db_index=True)
    pressed_at = fields.DatetimeField(null=True)
    pressed_key = fields.CharField(max_length=16, null=True)
    replaced_by = fields.CharField(max_length=128, null=True)

    class Meta:
        table = "chat_card"
