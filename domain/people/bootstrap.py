"""First start: the root org and the first system admin."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from domain.models import Org, OrgLevel, Role, Staff, StaffRole, WebCredential
from domain.people.credentials import store_password
from domain.people.passwords import DEFAULT_POLICY, PasswordPolicy, check_policy, hash_password
from domain.platform import audit
from domain.platform.actors import system_actor
from domain.platform.errors import N_, DomainError


async def create_first_sysadmin(
    *, username: str, password: str, name: str, employee_no: str, org_code: str, org_name: str,
    policy: PasswordPolicy = DEFAULT_POLICY,
) -> Staff:
    """Create the root org if none exists and the first system admin (refused once one exists)."""
    check_policy(password, username, policy)
    password_hash = await hash_password(password)
    actor = system_actor("init")
    async with in_transaction():
        if await StaffRole.exists(role=Role.SYSADMIN):
            raise DomainError(N_("A system admin already exists; use the admin site."))
        if await WebCredential.exists(username=username) or await Staff.exists(
            employee_no=employee_no
        ):
            raise DomainError(N_("User name or employee number is already used."))
        org = await Org.filter(parent=None).order_by("id").first()
        if org is None:
            org = await Org.create(code=org_code, name=org_name, level=OrgLevel.PROVINCE)
            org.path = f"/{org.id}/"
            await org.save(update_fields=["path"])
            await audit.record(actor, "org.create", "org", org.id, org_id=org.id,
                               detail={"code": org_code, "name": org_name})
        staff = await Staff.create(employee_no=employee_no, name=name, org=org)
        await StaffRole.create(staff=staff, role=Role.SYSADMIN)
        await store_password(WebCredential(staff=staff, username=username), password_hash,
                             one_time=False)
        await audit.record(actor, "staff.create", "staff", staff.id, org_id=org.id,
                           detail={"employee_no": employee_no, "roles": [Role.SYSADMIN],
                                   "username": username})
    return staff
