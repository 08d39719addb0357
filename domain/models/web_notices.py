"""Notifications shown in the admin site (issue 16): the bell and the notifications page."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.models.orgs import Staff


class WebNotice(Model):
    """One notification to one staff member as the admin shows it, written with its outbox
    message in the same transaction (one per message, the same idempotency key).

    It keeps the intent (kind, subject) and the msgid with its parameters, so the admin
    translates it in the reader's language and links it to its subject; `read_at` is when
    its recipient marked it read (None while unread)."""

    id = fields.BigIntField(primary_key=True)
    recipient: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="web_notices", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=64)
    subject_type = fields.CharField(max_length=32)
    subject_id = fields.BigIntField()
    subject_revision = fields.IntField(null=True)
    template = fields.TextField()
    params: dict = fields.JSONField(default=dict)
    idempotency_key = fields.CharField(max_length=128, unique=True)
    created_at = fields.DatetimeField()
    read_at = fields.DatetimeField(null=True, db_index=True)

    class Meta:
        table = "web_notice"
        ordering = ["-id"]
        indexes = (("recipient_id", "read_at"),)  # the bell's unread count
