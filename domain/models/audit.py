"""The append-only, hash-chained audit log."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class AuditLog(Model):
    """One recorded action, row_hash covers the row and the hash of the row before."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(db_index=True)
    actor_id = fields.IntField(null=True, db_index=True)
    actor_label = fields.CharField(max_length=128)
    action = fields.CharField(max_length=64, db_index=True)
    object_type = fields.CharField(max_length=32, db_index=True)
    object_id = fields.CharField(max_length=64, default="")
    org_id = fields.IntField(null=True)
    detail: dict = fields.JSONField(default=dict)
    prev_hash = fields.CharField(max_length=64)
    row_hash = fields.CharField(max_length=64)

    class Meta:
        table = "audit_log"
        ordering = ["id"]
