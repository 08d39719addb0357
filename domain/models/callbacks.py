"""Customer callbacks: approved cases sampled per business type and called back (K1, S1)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.models.cases import BusinessType, Case
from domain.models.devices import Incident
from domain.models.orgs import Org, Staff


class CallbackStatus(StrEnum):
    """scheduled, attempted until completed or unreachable; cancelled by an administrator."""

    SCHEDULED = "scheduled"
    ATTEMPTED = "attempted"
    COMPLETED = "completed"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"


class CallbackOutcome(StrEnum):
    """What a reached customer said (K1, Q4)."""

    CONFIRMED = "confirmed"
    DENIED = "denied"
    COMPLAINT = "complaint"


class Callback(Model):
    """One callback of one approved case, with its slot, deadline, agent and outcome (K1)."""

    id = fields.IntField(primary_key=True)
    case: fields.OneToOneRelation[Case] = fields.OneToOneField(
        "models.Case", related_name="callback", on_delete=fields.RESTRICT
    )
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="callbacks", on_delete=fields.RESTRICT
    )
    business_type: fields.ForeignKeyRelation[BusinessType] = fields.ForeignKeyField(
        "models.BusinessType", related_name="callbacks", on_delete=fields.RESTRICT
    )
    field_agent: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="called_back_cases", on_delete=fields.RESTRICT
    )
    assigned_to: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="assigned_callbacks", null=True, on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(CallbackStatus, max_length=16,
                                  default=CallbackStatus.SCHEDULED, db_index=True)
    outcome = fields.CharEnumField(CallbackOutcome, max_length=16, null=True)
    draw = fields.IntField()
    scheduled_at = fields.DatetimeField(db_index=True)
    due_at = fields.DatetimeField(db_index=True)
    attempts = fields.IntField(default=0)
    answers: dict = fields.JSONField(default=dict)
    satisfaction = fields.IntField(null=True)
    comment = fields.TextField(default="")
    completed_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="completed_callbacks", null=True, on_delete=fields.RESTRICT
    )
    completed_at = fields.DatetimeField(null=True)
    incident: fields.ForeignKeyNullableRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="callbacks", null=True, on_delete=fields.RESTRICT
    )
    reminded_at = fields.DatetimeField(null=True)
    escalated_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "callback"
        ordering = ["scheduled_at", "id"]
        # the agents' loads, the due and the late sweeps each read one index (K1, S1)
        indexes = (("assigned_to_id", "status"), ("status", "reminded_at", "scheduled_at"),
                   ("status", "escalated_at", "due_at"))


class CallbackAttempt(Model):
    """One call of a callback: who called, when, and whether the customer was reached (K1)."""

    id = fields.IntField(primary_key=True)
    callback: fields.ForeignKeyRelation[Callback] = fields.ForeignKeyField(
        "models.Callback", related_name="attempt_log", on_delete=fields.RESTRICT
    )
    number = fields.IntField()
    agent: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="callback_attempts", null=True, on_delete=fields.RESTRICT
    )
    at = fields.DatetimeField()
    reached = fields.BooleanField()
    outcome = fields.CharEnumField(CallbackOutcome, max_length=16, null=True)
    note = fields.TextField(default="")

    class Meta:
        table = "callback_attempt"
        ordering = ["callback_id", "number"]
        unique_together = (("callback", "number"),)
