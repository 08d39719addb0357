"""Qualification ledger: training, exams, counter qualifications, grants and their events."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.models.cases import BusinessType
from domain.models.orgs import Staff


class QualificationStatus(StrEnum):
    """States of a qualification (DESIGN.md section 4, Q2, Q3, Q5)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    REVOKED_PERMANENTLY = "revoked_permanently"
    EXPIRED = "expired"


class QualificationBasis(StrEnum):
    """What a grant rests on (Q2)."""

    COUNTER = "counter"
    TRAINING_AND_EXAM = "training_and_exam"


class WithdrawalReason(StrEnum):
    """Withdrawal reasons of Q3, the second and third withdraw for good (Q3)."""

    BUSINESS_DEPT_NOTICE = "business_dept_notice"
    REPEATED_MAJOR_INCIDENTS = "repeated_major_incidents"
    MALICIOUS_OPERATION = "malicious_operation"
    TRANSFER_OR_RESIGNATION = "transfer_or_resignation"
    JOINT_DECISION = "joint_decision"


class QualificationEventKind(StrEnum):
    """Entries of the append-only qualification history."""

    GRANTED = "granted"
    SUSPENDED = "suspended"
    REINSTATED = "reinstated"
    REVOKED = "revoked"
    REVOKED_PERMANENTLY = "revoked_permanently"
    EXPIRED = "expired"
    EXPIRY_WARNED = "expiry_warned"


class TrainingRecord(Model):
    """A completed training course of one staff member (Q2)."""

    id = fields.IntField(primary_key=True)
    staff: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="training_records", on_delete=fields.RESTRICT
    )
    course = fields.CharField(max_length=200)
    completed_on = fields.DateField()
    hours = fields.DecimalField(max_digits=6, decimal_places=1)
    trainer = fields.CharField(max_length=100)
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "training_record"
        ordering = ["-completed_on", "id"]


class ExamResult(Model):
    """One exam sat by one staff member, passed when score reaches the pass mark (Q2)."""

    id = fields.IntField(primary_key=True)
    staff: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="exam_results", on_delete=fields.RESTRICT
    )
    exam = fields.CharField(max_length=200)
    taken_on = fields.DateField()
    score = fields.DecimalField(max_digits=6, decimal_places=1)
    pass_mark = fields.DecimalField(max_digits=6, decimal_places=1)
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "exam_result"
        ordering = ["-taken_on", "id"]

    @property
    def passed(self) -> bool:
        """True when the score reaches the pass mark."""
        return self.score >= self.pass_mark


class CounterQualification(Model):
    """A staff member holds the counter qualification, a basis for grants (Q2)."""

    id = fields.IntField(primary_key=True)
    staff: fields.OneToOneRelation[Staff] = fields.OneToOneField(
        "models.Staff", related_name="counter_qualification", on_delete=fields.RESTRICT
    )
    certificate_no = fields.CharField(max_length=64)
    obtained_on = fields.DateField()
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "counter_qualification"


class Qualification(Model):
    """The qualification of one staff member for one business type (Q1 to Q5)."""

    id = fields.IntField(primary_key=True)
    staff: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="qualifications", on_delete=fields.RESTRICT
    )
    business_type: fields.ForeignKeyRelation[BusinessType] = fields.ForeignKeyField(
        "models.BusinessType", related_name="qualifications", on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(QualificationStatus, max_length=24, db_index=True)
    basis = fields.CharEnumField(QualificationBasis, max_length=24)
    training: fields.ForeignKeyNullableRelation[TrainingRecord] = fields.ForeignKeyField(
        "models.TrainingRecord", related_name="grants", null=True, on_delete=fields.RESTRICT
    )
    exam: fields.ForeignKeyNullableRelation[ExamResult] = fields.ForeignKeyField(
        "models.ExamResult", related_name="grants", null=True, on_delete=fields.RESTRICT
    )
    granted_at = fields.DatetimeField()
    valid_until = fields.DateField(null=True)
    status_reason = fields.TextField(default="")
    expiry_warned_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "qualification"
        unique_together = (("staff", "business_type"),)
        ordering = ["id"]


class QualificationEvent(Model):
    """One append-only entry of a qualification history with actor and reason."""

    id = fields.IntField(primary_key=True)
    qualification: fields.ForeignKeyRelation[Qualification] = fields.ForeignKeyField(
        "models.Qualification", related_name="events", on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(QualificationEventKind, max_length=24)
    actor_id = fields.IntField(null=True)
    actor_label = fields.CharField(max_length=200)
    reason = fields.TextField(default="")
    withdrawal_reason = fields.CharEnumField(WithdrawalReason, max_length=32, null=True)
    at = fields.DatetimeField()

    class Meta:
        table = "qualification_event"
        ordering = ["id"]
