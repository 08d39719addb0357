"""Chat bindings, one-time bind codes, flow sessions and processed-update marks."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.models.orgs import Staff


class ChatBinding(Model):
    """The one chat account of a staff member on one channel (Q6)."""

    id = fields.IntField(primary_key=True)
    staff: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="chat_bindings", on_delete=fields.CASCADE
    )
    channel = fields.CharField(max_length=16)
    external_user_id = fields.CharField(max_length=64)
    chat_id = fields.CharField(max_length=64)
    bound_at = fields.DatetimeField()
    language_code = fields.CharField(max_length=16, null=True)

    class Meta:
        table = "chat_binding"
        unique_together = (("staff", "channel"), ("channel", "external_user_id"))


class BindCode(Model):
    """A one-time code that binds a chat account, only its hash is stored."""

    id = fields.IntField(primary_key=True)
    staff: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="bind_codes", on_delete=fields.CASCADE
    )
    code_hash = fields.CharField(max_length=64, unique=True)
    created_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="issued_bind_codes", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "bind_code"


class ChatSession(Model):
    """Flow state of one chat account, kept in the database so restarts lose nothing."""

    id = fields.IntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    external_user_id = fields.CharField(max_length=64)
    chat_id = fields.CharField(max_length=64)
    locale = fields.CharField(max_length=8, null=True)
    flow = fields.CharField(max_length=32, default="")
    step = fields.CharField(max_length=32, default="")
    data: dict = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "chat_session"
        unique_together = (("channel", "external_user_id"),)


class ProcessedUpdate(Model):
    """Marks an inbound update as handled so a redelivery does nothing twice.

    `update_id` holds what identifies the update on its channel: the update id together with
    the chat and the message or button press it carries (hashed past 64 characters), so an
    update counter that starts again never matches an update handled before.
    """

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    update_id = fields.CharField(max_length=64)
    processed_at = fields.DatetimeField()

    class Meta:
        table = "processed_update"
        unique_together = (("channel", "update_id"),)


class ChatInbound(Model):
    """A webhook update registered on arrival, so that the updates of one chat are handled
    in update-id order whichever worker received them (issue 14); `handled_at` is set once
    it was handled or given up."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    update_id = fields.BigIntField()
    sender = fields.CharField(max_length=64)
    received_at = fields.DatetimeField()
    handled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "chat_inbound"
        unique_together = (("channel", "update_id"),)
        indexes = (("channel", "sender", "update_id"),)


class WebChatMessage(Model):
    """One line of the browser chat transcript of a staff member, inbound or from the bot."""

    id = fields.BigIntField(primary_key=True)
    staff: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="web_chat_messages", on_delete=fields.CASCADE
    )
    from_bot = fields.BooleanField()
    text = fields.TextField(default="")
    buttons: list = fields.JSONField(default=list)
    photo_sha256 = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "web_chat_message"
        ordering = ["id"]
