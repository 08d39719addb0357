"""Staff records, their roles and web log-ins, managed by system admins."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from domain.models import (
    BindCode,
    ChatBinding,
    Role,
    RoleGrant,
    RoleGrantState,
    Staff,
    StaffRole,
    WebCredential,
)
from domain.people import login_throttle, role_grants, sessions
from domain.people.credentials import store_password
from domain.people.duties import Incompatibility, conflicts, privileged, require_compatible
from domain.people.orgs import get_org
from domain.people.passwords import DEFAULT_POLICY, PasswordPolicy, hash_password
from domain.platform import audit, outbox, webchat
from domain.platform.access import Permission, require, require_scope, scope_prefix
from domain.platform.actors import Actor
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.intents import Intent
from domain.platform.paging import Page, PageRequest, keyset_page

NO_SUCH_STAFF = N_("No such staff member.")
SERVER_ONLY = N_("A system administrator's password is reset only on the server, with the "
                 "command fieldops reset-password; nobody else sees it.")
PASSWORD_SENT = N_("%(actor)s issued a one-time password for your FieldOps web log-in "
                   "%(username)s: %(password)s\nLog in and choose your own password; the "
                   "one-time password expires in %(hours)d hours. If you did not ask for it, "
                   "tell your supervisor.")


@dataclass(frozen=True)
class StaffForm:
    """Editable fields of a staff record."""

    employee_no: str
    name: str
    org_id: int
    roles: frozenset[Role]
    phone: str = ""


async def _matching_staff(actor: Actor, org_id: int | None, query: str, active: bool | None
                          ) -> QuerySet[Staff]:
    """Staff of the actor's subtree, optionally of one org and matching a name or number."""
    require(actor, Permission.STAFF_VIEW)
    prefix = scope_prefix(actor)
    if org_id:
        prefix = (await get_org(actor, org_id)).path
    rows = Staff.filter(org__path__startswith=prefix)
    if query:
        rows = rows.filter(Q(name__icontains=query) | Q(employee_no__icontains=query))
    return rows if active is None else rows.filter(active=active)


async def list_staff(
    actor: Actor, *, org_id: int | None = None, query: str = "", active: bool | None = None
) -> list[Staff]:
    """Staff of the actor's subtree, optionally of one org and matching a name or number."""
    return await (await _matching_staff(actor, org_id, query, active)).prefetch_related(
        "org", "roles").order_by("employee_no")


async def staff_page(actor: Actor, paging: PageRequest, *, org_id: int | None = None,
                     query: str = "", active: bool | None = None) -> Page[Staff]:
    """One page of the staff list, by employee number."""
    return await keyset_page(await _matching_staff(actor, org_id, query, active),
                             ("employee_no", "id"), paging,
                             lambda rows: rows.prefetch_related("org", "roles"))


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


@dataclass(frozen=True)
class IssuedLogin:
    """A web log-in given a one-time password: shown once to the admin (`password`), or sent
    to the person's own chat (`channel`) and not shown (S3)."""

    username: str
    password: str | None
    channel: str | None


async def issue_web_login(actor: Actor, staff_id: int, username: str,
                          policy: PasswordPolicy = DEFAULT_POLICY) -> IssuedLogin:
    """A system administrator in the web creates or resets a web log-in, ending its sessions
    (S3, S2): never a system administrator's, nor one asked to become one (that password is
    set on the server, `fieldops reset-password`), the refusal audited; the one-time password
    goes to the person's own chat when he has one, else it is shown once."""
    require(actor, Permission.STAFF_MANAGE)
    member = await get_staff(actor, staff_id, Permission.STAFF_MANAGE)
    if await _sysadmin_or_asked(member):
        async with in_transaction():
            await audit.record(actor, "staff.web_login_reset_refused", "staff", member.id,
                               org_id=member.org.id, detail={"username": username.strip(),
                                                             "reason": "sysadmin"})
        raise PermissionDenied(SERVER_ONLY)
    channel = await _own_chat(member.id)
    hours = int(policy.one_time_lifetime.total_seconds() // 3600)
    initial = await _set_initial_password(actor, staff_id, username, (channel, hours))
    return IssuedLogin(username.strip(), None if channel else initial, channel)


async def grant_web_login(actor: Actor, staff_id: int, username: str) -> str:
    """Create or reset a web log-in on the server (the system actor: command line, first
    set-up, demo), ending its sessions; return the one-time password (S3)."""
    if not actor.is_system:
        raise PermissionDenied(SERVER_ONLY)
    return await _set_initial_password(actor, staff_id, username, None)


async def reset_password_on_server(actor: Actor, username: str) -> str:
    """`fieldops reset-password`: a new one-time password for a web log-in, any account's, a
    system administrator's too (S3); return it for the operator to hand over."""
    credential = await WebCredential.get_or_none(username=username.strip())
    if credential is None:
        raise NotFound(N_("No web log-in has the user name %(name)s."), name=username.strip())
    return await grant_web_login(actor, credential.staff_id,  # type: ignore[attr-defined]
                                 credential.username)


async def _sysadmin_or_asked(member: Staff) -> bool:
    """True when the member holds the system administrator role or waits for it."""
    if Role.SYSADMIN in {Role(r.role) for r in member.roles}:
        return True
    return await RoleGrant.exists(staff_id=member.id, role=Role.SYSADMIN,
                                  state=RoleGrantState.PENDING, expires_at__gt=utcnow())


async def _own_chat(staff_id: int) -> str | None:
    """The chat outside the admin site the person reads (the browser chat needs the log-in
    the password is for), or None."""
    bound = set(await ChatBinding.filter(staff_id=staff_id).values_list("channel", flat=True))
    return next((channel for channel in outbox.CHANNEL_PREFERENCE
                 if channel in bound and channel != webchat.CHANNEL), None)


async def _set_initial_password(actor: Actor, staff_id: int, username: str,
                                sent: tuple[str | None, int] | None) -> str:
    """Store a new one-time password, lift the name's log-in waits, end the sessions, audit;
    with `sent` (a channel and the hours the password lasts), queue the password to the
    person's chat in the same transaction."""
    channel, hours = sent or (None, 0)
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
        row = await audit.record(actor, "staff.web_login_reset", "staff", staff.id,
                                 org_id=staff.org.id,
                                 detail={"username": username, "sent_to": channel or ""})
        if channel is not None:
            await outbox.enqueue(
                staff.id, PASSWORD_SENT, {"actor": actor.label, "username": username,
                                          "password": initial, "hours": hours},
                intent=Intent.of("staff.password_issued", staff.id),
                idempotency_key=f"staff.password:{row.id}", channel=channel)
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
    password_on_server: bool = False  # a sysadmin's: reset only with the command line (S3)
    password_chat: str | None = None  # the chat a one-time password is sent to (S3)

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
                        tuple(grants), await _sysadmin_or_asked(member),
                        await _own_chat(member.id))
