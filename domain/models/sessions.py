"""Admin web sessions kept on the server, so every worker sees them and they can be ended."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.models.orgs import Staff


class WebSession(Model):
    """A logged-in admin session: the SHA-256 of its cookie id, its CSRF token, when it
    began and was last used, when it ends idle or at the latest, and why it ended (S3).

    The cookie carries the random id only; a row without `ended_at` and within its idle and
    absolute lifetimes is the only thing that lets a request in.
    """

    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    staff: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="web_sessions", on_delete=fields.CASCADE
    )
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()
    idle_until = fields.DatetimeField(db_index=True)
    expires_at = fields.DatetimeField(db_index=True)
    address = fields.CharField(max_length=45)
    user_agent = fields.CharField(max_length=255, default="")
    ended_at = fields.DatetimeField(null=True, db_index=True)
    end_reason = fields.CharField(max_length=32, null=True)
    # What the session's next page shows once (a refused form's message and typed values, a
    # bulk action's results), sealed by the admin site; taken when shown.
    page_note = fields.TextField(null=True)

    class Meta:
        table = "web_session"
        indexes = (("staff_id", "ended_at"),)  # the open sessions of one user
