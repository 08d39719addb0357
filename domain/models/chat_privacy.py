"""Customer data in chat: the confidentiality pledge, messages to delete, inbound rates (C10)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.models.cases import Case
from domain.models.orgs import Staff


class ConfidentialityPledge(Model):
    """A staff member's confirmation of the confidentiality pledge (保密协议), one per text
    version, with the chat channel he confirmed it in and when (C10)."""

    id = fields.IntField(primary_key=True)
    staff: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="confidentiality_pledges", on_delete=fields.CASCADE
    )
    version = fields.CharField(max_length=16)
    channel = fields.CharField(max_length=16)
    confirmed_at = fields.DatetimeField()

    class Meta:
        table = "confidentiality_pledge"
        unique_together = (("staff", "version"),)


class ChatCustomerMessage(Model):
    """An agent's chat message that carried customer data (name, ID number, mobile, photo),
    deleted from the chat once its case is submitted or its draft cancelled (C10)."""

    id = fields.BigIntField(primary_key=True)
    case: fields.ForeignKeyRelation[Case] = fields.ForeignKeyField(
        "models.Case", related_name="chat_messages", on_delete=fields.CASCADE
    )
    channel = fields.CharField(max_length=16)
    chat_id = fields.CharField(max_length=64)
    message_id = fields.CharField(max_length=64)
    sent_at = fields.DatetimeField()
    delete_from = fields.DatetimeField(null=True, db_index=True)
    attempts = fields.IntField(default=0)
    deleted_at = fields.DatetimeField(null=True)
    gave_up_at = fields.DatetimeField(null=True)

    class Meta:
        table = "chat_customer_message"
        unique_together = (("channel", "chat_id", "message_id"),)


class ChatInboundHit(Model):
    """One inbound chat event of a sender, kept for the length of the sliding rate window."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    sender = fields.CharField(max_length=64)
    at = fields.DatetimeField()
    dropped = fields.BooleanField(default=False)

    class Meta:
        table = "chat_inbound_hit"
        indexes = (("channel", "sender", "at"),)
