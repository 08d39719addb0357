"""Vault inspections: monthly and surprise two-person counts of every tail box (V5, K3, S1)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.models.devices import Incident
from domain.models.orgs import Org, Staff
from domain.models.vouchers import TailBox


class InspectionKind(StrEnum):
    """Why a box is inspected: the monthly round or a surprise sample (V5, K3)."""

    MONTHLY = "monthly"
    SURPRISE = "surprise"


class InspectionStatus(StrEnum):
    """scheduled, then in progress, then completed; scheduled past its due time is overdue."""

    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    OVERDUE = "overdue"


class InspectionResult(StrEnum):
    """A completed inspection matched the ledger or found a discrepancy (V5)."""

    OK = "ok"
    DISCREPANCY = "discrepancy"


class InspectionSample(Model):
    """One surprise draw of boxes, with its seed and population so it can be checked (K3)."""

    id = fields.IntField(primary_key=True)
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="inspection_samples", on_delete=fields.RESTRICT
    )
    launched_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="inspection_samples", null=True, on_delete=fields.RESTRICT
    )
    launched_at = fields.DatetimeField()
    seed = fields.CharField(max_length=64)
    percent = fields.IntField(null=True)
    count = fields.IntField(null=True)
    population: list[int] = fields.JSONField(default=list)
    chosen: list[int] = fields.JSONField(default=list)
    due_at = fields.DatetimeField()
    note = fields.TextField(default="")

    class Meta:
        table = "inspection_sample"
        ordering = ["-id"]


class Inspection(Model):
    """One two-person inspection of one tail box: holder and supervisor count each voucher
    type independently against the ledger (V5)."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(InspectionKind, max_length=16)
    period = fields.CharField(max_length=16)
    box: fields.ForeignKeyRelation[TailBox] = fields.ForeignKeyField(
        "models.TailBox", related_name="inspections", on_delete=fields.RESTRICT
    )
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="inspections", on_delete=fields.RESTRICT
    )
    sample: fields.ForeignKeyNullableRelation[InspectionSample] = fields.ForeignKeyField(
        "models.InspectionSample", related_name="inspections", null=True,
        on_delete=fields.RESTRICT,
    )
    status = fields.CharEnumField(InspectionStatus, max_length=16,
                                  default=InspectionStatus.SCHEDULED, db_index=True)
    result = fields.CharEnumField(InspectionResult, max_length=16, null=True)
    due_at = fields.DatetimeField(db_index=True)
    holder: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="held_inspections", null=True, on_delete=fields.RESTRICT
    )
    supervisor: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="supervised_inspections", null=True,
        on_delete=fields.RESTRICT,
    )
    started_at = fields.DatetimeField(null=True)
    expected: dict = fields.JSONField(default=dict)
    holder_counted: dict = fields.JSONField(null=True)
    holder_counted_at = fields.DatetimeField(null=True)
    supervisor_counted: dict = fields.JSONField(null=True)
    supervisor_counted_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    incident: fields.ForeignKeyNullableRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="inspections", null=True, on_delete=fields.RESTRICT
    )
    reminders_sent: list[str] = fields.JSONField(default=list)
    escalated_at = fields.DatetimeField(null=True)
    escalated_org_id = fields.IntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "inspection"
        ordering = ["due_at", "id"]
        unique_together = (("box", "kind", "period"),)
