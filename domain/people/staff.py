"""Staff records, their roles and web log-ins, managed by system admins."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.models import (
    BindCode,
    ChatBinding,
    Role,
    RoleGrant,
    Staff,
    StaffRole,
    WebCredential,
)
from domain.people import login_throttle, role_grants, sessions
from domain.people.credentials import store_password
from domain.people.duties import Incompatibility, conflicts, privileged, require_compatible
from domain.people.orgs import get_org
from domain.people.passwords import hash_password
from domain.platform import audit, outbox
from domain.platform.access import Permission, require, require_scope, scope_prefix
from domain.platform.actors import Actor
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.intents import Intent

NO_SUCH_STAFF = N_("No such staff member.")
ROLE_LABELS: dict[Role, str] = {
    Role.FIELD_AGENT: N_("Field agent"),
    Role.REVIEWER: N_("Central reviewer"),
    Role.SUPERVISOR: N_("Branch operations supervisor"),
    Role.BUSINESS_HEAD: N_("Business department head"),
    Role.OPS_ADMIN: N_("Operations management"),
    Role.IT_ADMIN: N_("IT department"),
    Role.CALLBACK_AGENT: N_("Callback agent"),
    Role.AUDITOR: N_("Auditor"),
    Role.SYSADMIN: N_("System administrator"),
}


@dataclass(frozen=True)
class StaffForm:
    """Editable fields of a staff record."""

    employee_no: str
    name: str
    org_id: int
    roles: frozenset[Role]
    phone: str = ""


async def list_staff(
    actor: Actor, *, org_id: int | None = None, query: str = "", active: bool | None = None
) -> list[Staff]:
    """Staff of the actor's subtree, optionally of one org and matching a name or number."""
    require(actor, Permission.STAFF_VIEW)
    prefix = scope_prefix(actor)
    if org_id:
        prefix = (await get_org(actor, org_id)).path
    rows = Staff.filter(org__path__startswith=prefix).prefetch_related("org", "roles")
    if query:
        rows = rows.filter(Q(name__icontains=query) | Q(employee_no__icontains=query))
    if active is not None:
        rows = rows.filter(active=active)
    return await rows.order_by("employee_no")


async def get_staff(actor: Actor, staff_id: int, permission: Permission = Permission.STAFF_VIEW
                    ) -> Staff:
    """One staff member inside the actor's subtree."""
    require(actor, permission)
    staff = await Staff.get_or_none(id=staff_id).prefetch_related("org", "roles")
    if staff is None:
        raise NotFound(NO_SUCH_STAFF)
    require_scope(actor, staff.org, NO_SUCH_STAFF)
    return staff


def _clean(form: StaffForm) -> StaffForm:
    employee_no, name = form.employee_no.strip(), form.name.strip()
    if not employee_no or not name:
        raise DomainError(N_("Employee number and name are required."))
    if not form.roles:
        raise DomainError(N_("Choose at least one role."))
    return StaffForm(employee_no, name, form.org_id, form.roles, form.phone.strip())


def _asked(actor: Actor, roles: frozenset[Role], added: frozenset[Role]) -> frozenset[Role]:
    """The added roles that wait for a second system administrator, after holding `roles`
    to the duties table (S2). The system actor (first set-up, demo, command line) gives
    every role at once and is not held to the table, so data from before it still loads."""
    if actor.is_system:
        return frozenset()
    require_compatible(roles)
    return privileged(added)


async def create_staff(actor: Actor, form: StaffForm) -> Staff:
    """Add a staff member with roles in an org of the actor's subtree; the privileged ones a
    person asks for wait for a second system administrator (S2)."""
    require(actor, Permission.STAFF_MANAGE)
    form = _clean(form)
    asked = _asked(actor, form.roles, form.roles)
    given = form.roles - asked
    async with in_transaction():
        org = await get_org(actor, form.org_id)
        if await Staff.exists(employee_no=form.employee_no):
            raise DomainError(
                N_("Employee number %(no)s is already used."), no=form.employee_no
            )
        staff = await Staff.create(
            employee_no=form.employee_no, name=form.name, org=org, phone=form.phone
        )
        await StaffRole.bulk_create([StaffRole(staff=staff, role=r) for r in sorted(given)])
        await audit.record(
            actor, "staff.create", "staff", staff.id, org_id=org.id,
            detail={"employee_no": staff.employee_no, "name": staff.name,
                    "roles": sorted(given), "asked": sorted(asked)},
        )
        await role_grants.ask(actor, staff, asked)
    return staff


async def update_staff(actor: Actor, staff_id: int, form: StaffForm) -> Staff:
    """Change name, org, phone and roles of a staff member; a change of roles ends his web
    sessions (S3)."""
    require(actor, Permission.STAFF_MANAGE)
    form = _clean(form)
    async with in_transaction():
        staff = await get_staff(actor, staff_id, Permission.STAFF_MANAGE)
        org = await get_org(actor, form.org_id)
        if form.employee_no != staff.employee_no and await Staff.exists(
            employee_no=form.employee_no
        ):
            raise DomainError(
                N_("Employee number %(no)s is already used."), no=form.employee_no
            )
        before_roles = sorted(r.role for r in staff.roles)
        if actor.staff_id == staff.id and set(before_roles) != form.roles:
            raise PermissionDenied(N_("You cannot change your own roles."))
        asked = _asked(actor, form.roles, form.roles - set(before_roles))
        roles = form.roles - asked
        before = {"employee_no": staff.employee_no, "name": staff.name,
                  "org_id": staff.org.id, "phone": staff.phone, "roles": before_roles}
        staff.employee_no, staff.name, staff.org, staff.phone = (
            form.employee_no, form.name, org, form.phone
        )
        await staff.save()
        await StaffRole.filter(staff=staff).exclude(role__in=list(roles)).delete()
        for role in sorted(roles - set(before_roles)):
            await StaffRole.create(staff=staff, role=role)
        after = {"employee_no": staff.employee_no, "name": staff.name, "org_id": org.id,
                 "phone": staff.phone, "roles": sorted(roles), "asked": sorted(asked)}
        row = await audit.record(actor, "staff.update", "staff", staff.id, org_id=org.id,
                                 detail={"before": before, "after": after})
        await role_grants.ask(actor, staff, asked)
        if set(before_roles) != roles:
            await sessions.end_sessions(staff.id, sessions.EndReason.ROLES_CHANGED, actor=actor)
            await outbox.enqueue(
                staff.id, N_("%(actor)s changed your roles. Send /whoami to see them."),
                {"actor": actor.label}, intent=Intent.of("staff.roles_changed", staff.id),
                idempotency_key=f"staff.roles:{row.id}",
            )
    return await get_staff(actor, staff_id)


async def set_active(actor: Actor, staff_id: int, active: bool) -> Staff:
    """Deactivate (or reactivate) a staff member; deactivation revokes open bind codes and
    ends his web sessions (S3)."""
    require(actor, Permission.STAFF_MANAGE)
    if actor.staff_id == staff_id and not active:
        raise DomainError(N_("You cannot deactivate yourself."))
    async with in_transaction():
        staff = await get_staff(actor, staff_id, Permission.STAFF_MANAGE)
        if staff.active == active:
            return staff
        staff.active = active
        await staff.save(update_fields=["active"])
        if not active:
            await sessions.end_sessions(staff.id, sessions.EndReason.DEACTIVATED, actor=actor)
            await BindCode.filter(staff=staff, used_at=None, revoked_at=None).update(
                revoked_at=utcnow()
            )
        row = await audit.record(
            actor, "staff.activate" if active else "staff.deactivate", "staff", staff.id,
            org_id=staff.org.id,
        )
        notice = (N_("%(actor)s reactivated your staff account.") if active else
                  N_("%(actor)s deactivated your staff account. "
                     "FieldOps no longer accepts your requests."))
        await outbox.enqueue(staff.id, notice, {"actor": actor.label},
                             intent=Intent.of("staff.activation_changed", staff.id),
                             idempotency_key=f"staff.active:{row.id}")
    return staff


async def grant_web_login(actor: Actor, staff_id: int, username: str) -> str:
    """Create or reset a web log-in, ending its sessions; return the initial password, shown
    once (S3)."""
    require(actor, Permission.STAFF_MANAGE)
    username = username.strip()
    if not username:
        raise DomainError(N_("A user name is required."))
    initial = secrets.token_urlsafe(9) + "7a"
    initial_hash = await hash_password(initial)
    async with in_transaction():
        staff = await get_staff(actor, staff_id, Permission.STAFF_MANAGE)
        taken = await WebCredential.filter(username=username).exclude(staff=staff).exists()
        if taken:
            raise DomainError(N_("User name %(name)s is already used."), name=username)
        credential = await WebCredential.get_or_none(staff=staff)
        if credential is None:
            credential = WebCredential(staff=staff)
        credential.username = username
        await store_password(credential, initial_hash, one_time=True)
        await login_throttle.lift(username)
        await sessions.end_sessions(staff.id, sessions.EndReason.PASSWORD_RESET, actor=actor)
        await audit.record(actor, "staff.web_login_reset", "staff", staff.id,
                           org_id=staff.org.id, detail={"username": username})
    return initial



async def count_staff(actor: Actor, *, active: bool | None = None) -> int:
    """Number of staff in the actor's subtree, optionally only active or inactive ones."""
    require(actor, Permission.STAFF_VIEW)
    rows = Staff.filter(org__path__startswith=scope_prefix(actor))
    if active is not None:
        rows = rows.filter(active=active)
    return await rows.count()


@dataclass(frozen=True)
class StaffProfile:
    """A staff member with the web user name and the bound chat channels."""

    staff: Staff
    username: str | None
    chat_channels: tuple[str, ...]
    grants: tuple[RoleGrant, ...] = ()

    @property
    def roles(self) -> frozenset[Role]:
        """The roles the staff member holds."""
        return frozenset(Role(r.role) for r in self.staff.roles)

    @property
    def conflicts(self) -> list[Incompatibility]:
        """Pairs of the duties table his roles break (set up before it, or by the system)."""
        return conflicts(self.roles)


async def get_profile(actor: Actor, staff_id: int) -> StaffProfile:
    """One staff member of the actor's subtree with log-in, chat bindings and the role grants
    waiting for a second system administrator."""
    member = await get_staff(actor, staff_id)
    credential = await WebCredential.get_or_none(staff=member)
    channels = await ChatBinding.filter(staff=member).order_by("channel").values_list(
        "channel", flat=True
    )
    grants = await role_grants.pending_for(actor, member.id)
    return StaffProfile(member, credential.username if credential else None, tuple(channels),
                        tuple(grants))
