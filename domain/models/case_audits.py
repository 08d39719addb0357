"""Off-site case audit: a weekly reproducible draw of approved cases checked by auditors
(K2, K3)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.models.cases import Case
from domain.models.orgs import Org, Staff


class CaseAuditStatus(StrEnum):
    """A drawn case waits for the auditor, who finds it OK or records an error (K3)."""

    PENDING = "pending"
    OK = "ok"
    ERROR = "error"


class AuditErrorCode(StrEnum):
    """What an off-site audit can find wrong in an approved case (K2, K3)."""

    WRONG_BUSINESS_TYPE = "wrong_business_type"
    MISSING_PAPER = "missing_paper"
    PORTRAIT_MISMATCH_PASSED = "portrait_mismatch_passed"
    VOUCHER_NOT_RECORDED = "voucher_not_recorded"
    RISK_HINT_NOT_GIVEN = "risk_hint_not_given"
    DATA_MISMATCH = "data_mismatch"
    OTHER = "other"


class AuditDraw(Model):
    """One weekly draw of one org: share, seed and population, so it can be redone (K3)."""

    id = fields.IntField(primary_key=True)
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="audit_draws", on_delete=fields.RESTRICT
    )
    week = fields.CharField(max_length=8)
    seed = fields.CharField(max_length=64)
    share_percent = fields.IntField()
    population: list[int] = fields.JSONField(default=list)
    drawn_at = fields.DatetimeField()

    class Meta:
        table = "audit_draw"
        ordering = ["-week", "org_id"]
        unique_together = (("org", "week"),)


class CaseAudit(Model):
    """One drawn case in the auditors' queue and its finding against agent or reviewer (K2)."""

    id = fields.IntField(primary_key=True)
    draw: fields.ForeignKeyRelation[AuditDraw] = fields.ForeignKeyField(
        "models.AuditDraw", related_name="case_audits", on_delete=fields.RESTRICT
    )
    case: fields.OneToOneRelation[Case] = fields.OneToOneField(
        "models.Case", related_name="case_audit", on_delete=fields.RESTRICT
    )
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="case_audits", on_delete=fields.RESTRICT
    )
    field_agent: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="audited_captures", on_delete=fields.RESTRICT
    )
    reviewer: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="audited_reviews", null=True, on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(CaseAuditStatus, max_length=16,
                                  default=CaseAuditStatus.PENDING, db_index=True)
    error_code = fields.CharEnumField(AuditErrorCode, max_length=32, null=True)
    against_agent = fields.BooleanField(default=False)
    against_reviewer = fields.BooleanField(default=False)
    note = fields.TextField(default="")
    audited_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="case_audits_done", null=True, on_delete=fields.RESTRICT
    )
    audited_at = fields.DatetimeField(null=True)

    class Meta:
        table = "case_audit"
        ordering = ["id"]
