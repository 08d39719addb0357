"""Inbound chat messages kept durably before they are handled (issue 15)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class InboxStatus(StrEnum):
    """pending → handled; dead after the last failed attempt."""

    PENDING = "pending"
    HANDLED = "handled"
    DEAD = "dead"


class ChatInboxMessage(Model):
    """A message a chat platform pushed to us, stored before it is answered and handled later,
    per sender in arrival order (issue 15).

    `dedupe_key` is the same for every retry of one platform message, unique per channel.
    `payload` is what the channel needs to handle it, kept encrypted as it arrived (customer
    data stays encrypted at rest) and emptied once handled. A worker claims the head pending
    row of a sender under `claim_token` until `claimed_until`; after a failed attempt
    `claimed_until` is when it may be tried again.
    """

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    dedupe_key = fields.CharField(max_length=128)
    sender = fields.CharField(max_length=64)
    payload = fields.TextField()
    status = fields.CharEnumField(InboxStatus, max_length=16, default=InboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(default="")
    claim_token = fields.CharField(max_length=64, null=True)
    claimed_until = fields.DatetimeField(null=True)
    received_at = fields.DatetimeField()
    handled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "chat_inbox"
        unique_together = (("channel", "dedupe_key"),)
        indexes = (("channel", "status", "sender", "id"),)
