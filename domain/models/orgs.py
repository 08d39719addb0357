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

    def name_in(self, locale: str) -> str:
        """The display name for a locale: the Chinese name for zh locales and when there is
        no English one."""
        return self.name if locale.startswith("zh") or not self.name_en else self.name_en


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
    # The chat channel he chose for notifications (telegram, wecom, web); None: the default order.
    notify_channel = fields.CharField(max_length=16, null=True)

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
    """Web log-in for a staff member: argon2 hash and the state of a forced change (S3).

    `one_time_password` marks a password an administrator issued (and saw), which expires
    unused and must be replaced at the first log-in. Failed log-ins are counted apart, in
    `LoginThrottle`, per typed user name and per source address.
    """

    id = fields.IntField(primary_key=True)
    staff: fields.OneToOneRelation[Staff] = fields.OneToOneField(
        "models.Staff", related_name="credential", on_delete=fields.CASCADE
    )
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    must_change_password = fields.BooleanField(default=True)
    one_time_password = fields.BooleanField(default=False)
    last_login_at = fields.DatetimeField(null=True)
    password_changed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "web_credential"


class PasswordHistory(Model):
    """A password a web log-in has had, the current one included: recent ones may not return."""

    id = fields.BigIntField(primary_key=True)
    credential: fields.ForeignKeyRelation[WebCredential] = fields.ForeignKeyField(
        "models.WebCredential", related_name="password_history", on_delete=fields.CASCADE
    )
    password_hash = fields.CharField(max_length=255)
    set_at = fields.DatetimeField()

    class Meta:
        table = "password_history"


class KnownLoginAddress(Model):
    """An address a web log-in last succeeded from: its attempts escape the account-wide delay."""

    id = fields.BigIntField(primary_key=True)
    credential: fields.ForeignKeyRelation[WebCredential] = fields.ForeignKeyField(
        "models.WebCredential", related_name="known_addresses", on_delete=fields.CASCADE
    )
    address = fields.CharField(max_length=45)
    last_login_at = fields.DatetimeField()

    class Meta:
        table = "known_login_address"
        unique_together = (("credential", "address"),)


class LoginThrottle(Model):
    """Failed log-ins under one key and when it may try again (S3).

    A key is a source address, a typed user name, or a name at an address it is known from.
    """

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=200, unique=True)
    failures = fields.IntField(default=0)
    last_failure_at = fields.DatetimeField(null=True, db_index=True)
    blocked_until = fields.DatetimeField(null=True)

    class Meta:
        table = "login_throttle"


class LoginRefusalTally(Model):
    """Refused log-ins of one source address and typed user name in one hour (S3).

    The audit log gets one row per tally, not one per attempt.
    """

    id = fields.BigIntField(primary_key=True)
    address = fields.CharField(max_length=45)
    username = fields.CharField(max_length=64)
    outcome = fields.CharField(max_length=16)
    window_start = fields.DatetimeField(db_index=True)
    refusals = fields.IntField(default=0)
    last_at = fields.DatetimeField()

    class Meta:
        table = "login_refusal_tally"
        unique_together = (("address", "username", "outcome", "window_start"),)
