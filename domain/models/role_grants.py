"""Grants of privileged roles waiting for a second system administrator (S2)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.models.orgs import Role, Staff


class RoleGrantState(StrEnum):
    """Where a grant stands: asked, then approved, refused or lapsed unanswered."""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    EXPIRED = "expired"


class RoleGrant(Model):
    """One privileged role asked for a staff member by one system administrator, given only
    when another approves it before `expires_at` (maker-checker, S2)."""

    id = fields.IntField(primary_key=True)
    staff: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="role_grants", on_delete=fields.CASCADE
    )
    role = fields.CharEnumField(Role, max_length=32)
    state = fields.CharEnumField(RoleGrantState, max_length=16, default=RoleGrantState.PENDING)
    asked_by: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="role_grants_asked", on_delete=fields.RESTRICT
    )
    asked_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    decided_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="role_grants_decided", null=True,
        on_delete=fields.RESTRICT
    )
    decided_at = fields.DatetimeField(null=True)
    note = fields.TextField(default="")

    class Meta:
        table = "role_grant"
        indexes = (("staff_id", "state"),)  # the open grants of one staff member
