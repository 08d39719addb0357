"""Permissions: which roles may do what, and the org-subtree scope of every read."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from tortoise.models import Model

from domain.models import Org, Role
from domain.platform.actors import Actor
from domain.platform.errors import N_, NotFound, PermissionDenied

ScopedRow = TypeVar("ScopedRow", bound=Model)

ALL_WEB_ROLES = frozenset(Role) - {Role.FIELD_AGENT}
NO_SUCH_RECORD = N_("No such record.")


class Permission(StrEnum):
    """Named permissions checked by the services."""

    DASHBOARD_VIEW = "dashboard.view"
    ORG_VIEW = "org.view"
    ORG_MANAGE = "org.manage"
    STAFF_VIEW = "staff.view"
    STAFF_MANAGE = "staff.manage"
    BIND_CODE_ISSUE = "bind_code.issue"
    AUDIT_VIEW = "audit.view"
    OUTBOX_VIEW = "outbox.view"
    OUTBOX_RETRY = "outbox.retry"
    BUSINESS_TYPE_VIEW = "business_type.view"
    BUSINESS_TYPE_MANAGE = "business_type.manage"
    CASE_VIEW = "case.view"
    CUSTOMER_DATA_REVEAL = "customer_data.reveal"
    CASE_REVIEW = "case.review"
    REVIEW_REASON_MANAGE = "review_reason.manage"
    SPECIAL_APPROVAL_VIEW = "special_approval.view"
    SPECIAL_APPROVAL_DECIDE = "special_approval.decide"
    QUALIFICATION_VIEW = "qualification.view"
    QUALIFICATION_MANAGE = "qualification.manage"
    DEVICE_VIEW = "device.view"
    DEVICE_MANAGE = "device.manage"
    INCIDENT_VIEW = "incident.view"
    INCIDENT_MANAGE = "incident.manage"
    IDLE_ACCOUNT_KEEP = "idle_account.keep"
    VOUCHER_VIEW = "voucher.view"
    VOUCHER_MANAGE = "voucher.manage"
    VOID_SIGN_BUSINESS = "void.sign_business"
    VOID_SIGN_OPERATIONS = "void.sign_operations"
    REPORT_EXPORT = "report.export"
    INSPECTION_VIEW = "inspection.view"
    INSPECTION_MANAGE = "inspection.manage"
    INSPECTION_CONDUCT = "inspection.conduct"
    CALLBACK_VIEW = "callback.view"
    CALLBACK_WORK = "callback.work"
    CASE_AUDIT_VIEW = "case_audit.view"
    CASE_AUDIT_RECORD = "case_audit.record"
    SESSION_MANAGE = "session.manage"


GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.DASHBOARD_VIEW: ALL_WEB_ROLES,
    Permission.ORG_VIEW: ALL_WEB_ROLES,
    Permission.ORG_MANAGE: frozenset({Role.SYSADMIN}),
    Permission.STAFF_VIEW: frozenset(
        {Role.SYSADMIN, Role.OPS_ADMIN, Role.IT_ADMIN, Role.AUDITOR, Role.SUPERVISOR}
    ),
    Permission.STAFF_MANAGE: frozenset({Role.SYSADMIN}),
    Permission.BIND_CODE_ISSUE: frozenset({Role.SYSADMIN}),
    Permission.AUDIT_VIEW: frozenset({Role.SYSADMIN, Role.AUDITOR}),
    Permission.OUTBOX_VIEW: frozenset({Role.SYSADMIN}),
    Permission.OUTBOX_RETRY: frozenset({Role.SYSADMIN}),
    Permission.BUSINESS_TYPE_VIEW: frozenset(
        {Role.OPS_ADMIN, Role.REVIEWER, Role.SUPERVISOR, Role.AUDITOR, Role.SYSADMIN}
    ),
    Permission.BUSINESS_TYPE_MANAGE: frozenset({Role.OPS_ADMIN}),
    Permission.CASE_VIEW: frozenset(
        {Role.REVIEWER, Role.SUPERVISOR, Role.OPS_ADMIN, Role.AUDITOR, Role.SYSADMIN}
    ),
    Permission.CUSTOMER_DATA_REVEAL: frozenset({Role.REVIEWER, Role.OPS_ADMIN, Role.AUDITOR}),
    Permission.CASE_REVIEW: frozenset({Role.REVIEWER}),
    Permission.REVIEW_REASON_MANAGE: frozenset({Role.OPS_ADMIN}),
    Permission.SPECIAL_APPROVAL_VIEW: frozenset(
        {Role.SUPERVISOR, Role.OPS_ADMIN, Role.AUDITOR, Role.SYSADMIN}
    ),
    Permission.SPECIAL_APPROVAL_DECIDE: frozenset({Role.SUPERVISOR}),
    Permission.QUALIFICATION_VIEW: frozenset(
        {Role.OPS_ADMIN, Role.AUDITOR, Role.SUPERVISOR, Role.SYSADMIN}
    ),
    Permission.QUALIFICATION_MANAGE: frozenset({Role.OPS_ADMIN}),
    Permission.DEVICE_VIEW: frozenset(
        {Role.IT_ADMIN, Role.OPS_ADMIN, Role.SUPERVISOR, Role.AUDITOR, Role.SYSADMIN}
    ),
    Permission.DEVICE_MANAGE: frozenset({Role.IT_ADMIN}),
    Permission.INCIDENT_VIEW: frozenset(
        {Role.OPS_ADMIN, Role.IT_ADMIN, Role.SUPERVISOR, Role.AUDITOR, Role.SYSADMIN}
    ),
    Permission.INCIDENT_MANAGE: frozenset({Role.OPS_ADMIN, Role.IT_ADMIN}),
    Permission.IDLE_ACCOUNT_KEEP: frozenset({Role.OPS_ADMIN, Role.SYSADMIN}),
    Permission.VOUCHER_VIEW: frozenset(
        {Role.OPS_ADMIN, Role.SUPERVISOR, Role.BUSINESS_HEAD, Role.AUDITOR, Role.SYSADMIN}
    ),
    Permission.VOUCHER_MANAGE: frozenset({Role.OPS_ADMIN}),
    Permission.VOID_SIGN_BUSINESS: frozenset({Role.BUSINESS_HEAD}),
    Permission.VOID_SIGN_OPERATIONS: frozenset({Role.OPS_ADMIN}),
    Permission.REPORT_EXPORT: frozenset({Role.OPS_ADMIN, Role.AUDITOR}),
    Permission.INSPECTION_VIEW: frozenset(
        {Role.OPS_ADMIN, Role.SUPERVISOR, Role.BUSINESS_HEAD, Role.AUDITOR, Role.SYSADMIN}
    ),
    Permission.INSPECTION_MANAGE: frozenset({Role.OPS_ADMIN}),
    Permission.INSPECTION_CONDUCT: frozenset({Role.SUPERVISOR, Role.OPS_ADMIN}),
    Permission.CALLBACK_VIEW: frozenset(
        {Role.CALLBACK_AGENT, Role.OPS_ADMIN, Role.SUPERVISOR, Role.AUDITOR, Role.SYSADMIN}
    ),
    Permission.CALLBACK_WORK: frozenset({Role.CALLBACK_AGENT}),
    Permission.CASE_AUDIT_VIEW: frozenset({Role.AUDITOR, Role.OPS_ADMIN, Role.SYSADMIN}),
    Permission.CASE_AUDIT_RECORD: frozenset({Role.AUDITOR}),
    Permission.SESSION_MANAGE: frozenset({Role.SYSADMIN}),
}


def can(actor: Actor, permission: Permission) -> bool:
    """True when one of the actor's roles grants the permission."""
    return actor.is_system or actor.has(*GRANTS[permission])


def require(actor: Actor, permission: Permission) -> None:
    """Refuse unless the actor holds a role granting the permission."""
    if not can(actor, permission):
        raise PermissionDenied(N_("You do not have permission for this action."))


def sees_everything(actor: Actor) -> bool:
    """System actors and system admins see every org (DESIGN.md §1)."""
    return actor.is_system or actor.has(Role.SYSADMIN)


def in_scope(actor: Actor, org: Org) -> bool:
    """True when the org lies in the actor's org subtree."""
    return sees_everything(actor) or org.path.startswith(actor.org_path)


def require_scope(actor: Actor, org: Org, missing: str = NO_SUCH_RECORD) -> None:
    """Answer a record of an org outside the actor's subtree as missing: NotFound with the
    `missing` message, so an outsider cannot tell what exists (S3)."""
    if not in_scope(actor, org):
        raise NotFound(missing)


async def row_in_scope(actor: Actor, model: type[ScopedRow], row_id: int, missing: str
                       ) -> ScopedRow:
    """The row of `model` with this id, its org loaded, when that org lies in the actor's
    subtree; NotFound with the `missing` message when there is no such row."""
    row = await model.get_or_none(id=row_id).prefetch_related("org")
    if row is None:
        raise NotFound(missing)
    require_scope(actor, row.org, missing)  # type: ignore[attr-defined]
    return row


def scope_prefix(actor: Actor) -> str:
    """The org path prefix that bounds what the actor may see."""
    return "/" if sees_everything(actor) else actor.org_path
