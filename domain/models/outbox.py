"""Outgoing chat notifications, written in the sender's transaction (DESIGN.md §3)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.models.orgs import Staff


class OutboxStatus(StrEnum):
    """pending → sending → sent; dead after the last failed attempt; waiting while its
    recipient has no chat to receive it; expired when its moment passed before it was sent;
    digest while a notice that is not urgent waits for its recipient's daily digest, then
    sent with it (issue 14)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    WAITING = "waiting"
    EXPIRED = "expired"
    DIGEST = "digest"


class OutboxMessage(Model):
    """A notification for one staff member, template is a msgid filled with params.

    Its intent is `kind` (what happened, which sets its lifetime), the subject it is about
    and the `actions` its recipient may take, by name; each channel renders them (DESIGN
    §3). A `reply` kind holds a text and `buttons` its channel already rendered.
    """

    id = fields.BigIntField(primary_key=True)
    recipient: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="outbox_messages", on_delete=fields.CASCADE
    )
    channel = fields.CharField(max_length=16)
    kind = fields.CharField(max_length=64, default="")
    # Nullable so that 0014 adds them to a table that holds rows (a reply has no subject).
    subject_type = fields.CharField(max_length=32, null=True)
    subject_id = fields.BigIntField(null=True)
    subject_revision = fields.IntField(null=True)
    actions: list | None = fields.JSONField(default=list, null=True)
    template = fields.TextField()
    params: dict = fields.JSONField(default=dict)
    buttons: list = fields.JSONField(default=list)
    idempotency_key = fields.CharField(max_length=128, unique=True)
    status = fields.CharEnumField(OutboxStatus, max_length=16, default=OutboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(db_index=True)
    claimed_until = fields.DatetimeField(null=True)
    # The fencing token of the claim a dispatcher holds: only that claim marks the row (issue 14).
    claim_token = fields.CharField(max_length=64, null=True)
    # The platform's id of the sent message (Telegram message_id), which an edit needs.
    external_message_id = fields.CharField(max_length=64, null=True)
    # An edit row: the id of the message whose text it replaces once that one is sent.
    edit_of = fields.BigIntField(null=True)
    last_error = fields.TextField(default="")
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_message"
        ordering = ["id"]
        indexes = (("status", "expires_at"),)  # the expiry sweep of the dispatcher


class SendLease(Model):
    """Which process sends for a channel's bot now: one leader at a time, elected with a
    lease whose `epoch` grows on every takeover (the fencing token of its claims), and until
    when the platform asked the whole bot to pause (a 429's retry_after) (issue 14)."""

    name = fields.CharField(max_length=64, primary_key=True)
    holder = fields.CharField(max_length=128)
    epoch = fields.IntField(default=0)
    expires_at = fields.DatetimeField()
    paused_until = fields.DatetimeField(null=True)

    class Meta:
        table = "send_lease"
