"""Org tree, staff, their roles and web credentials."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class OrgLevel(StrEnum):
    """Levels of the org tree: 省分行 → 二级分行 → 支行 → 网点."""

    PROVINCE = "province"
    BRANCH = "branch"
    SUBBRANCH = "subbranch"
    OUTLET = "outlet"


class Role(StrEnum):
    """Role keys from DESIGN.md §1."""

    FIELD_AGENT = "field_agent"
    REVIEWER = "reviewer"
    SUPERVISOR = "supervisor"
    BUSINESS_HEAD = "business_head"
    OPS_ADMIN = "ops_admin"
    IT_ADMIN = "it_admin"
    CALLBACK_AGENT = "callback_agent"
    AUDITOR = "auditor"
    SYSADMIN = "sysadmin"


class Org(Model):
    """One node of the org tree, path is the materialised chain of ids, e.g. /1/4/9/."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=100)
    name_en = fields.CharField(max_length=100, default="")
    level = fields.CharEnumField(OrgLevel, max_length=16)
    parent: fields.ForeignKeyNullableRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    path = fields.CharField(max_length=255, default="/", db_index=True)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "org"
        ordering = ["path"]


class Staff(Model):
    """A person (real name, employee number, org) who may hold several roles."""

    id = fields.IntField(primary_key=True)
    employee_no = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=100)
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="staff", on_delete=fields.RESTRICT
    )
    active = fields.BooleanField(default=True)
    locale = fields.CharField(max_length=8, null=True)
    phone = fields.CharField(max_length=20, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_active_at = fields.DatetimeField(null=True)
    idle_flagged_at = fields.DatetimeField(null=True)
    idle_kept_until = fields.DateField(null=True)
    retraining_flagged_at = fields.DatetimeField(null=True)

    roles: fields.ReverseRelation[StaffRole]

    class Meta:
        table = "staff"
        ordering = ["employee_no"]


class StaffRole(Model):
    """One role held by one staff member."""

    id = fields.IntField(primary_key=True)
    staff: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="roles", on_delete=fields.CASCADE
    )
    role = fields.CharEnumField(Role, max_length=32)

    class Meta:
        table = "staff_role"
        unique_together = (("staff", "role"),)


class WebCredential(Model):
    """Web log-in for a staff member: argon2 hash, lock-out and first-log-in state (S3)."""

    id = fields.IntField(primary_key=True)
    staff: fields.OneToOneRelation[Staff] = fields.OneToOneField(
        "models.Staff", related_name="credential", on_delete=fields.CASCADE
    )
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    must_change_password = fields.BooleanField(default=True)
    failed_attempts = fields.IntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    last_login_at = fields.DatetimeField(null=True)
    password_changed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "web_credential"
