"""Separation of duties (S2, issue 13): nobody changes his own roles, incompatible roles are
refused, and a privileged role takes a second system administrator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.models import AuditLog, OutboxMessage, Role, RoleGrant, RoleGrantState, Staff
from domain.people import duties, role_grants, staff
from domain.platform.errors import DomainError, PermissionDenied
from scheduler.jobs import JOBS
from tests.admin_support import admin_site, log_in, sent_back, submit, sysadmin_session, zh
from tests.clock_support import SteadyClock
from tests.factories import org_tree, person, web_user


def staff_form(member: Staff, org_id: int, *roles: str) -> list[tuple[str, str]]:
    """The edit form of a staff member as a browser posts it, with the roles ticked."""
    return [("employee_no", member.employee_no), ("name", member.name),
            ("org_id", str(org_id)), *(("roles", role) for role in roles)]


async def roles_of(member: Staff) -> set[Role]:
    """The roles the staff member holds now."""
    return {Role(r) for r in await member.roles.all().values_list("role", flat=True)}


async def test_a_sysadmin_cannot_give_himself_a_role(database_url: str) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        me = await Staff.get(employee_no="S001")
        page = f"/staff/{me.id}"
        refused = await submit(client, page, staff_form(me, ids["province"], "sysadmin",
                                                        "reviewer"), page=page)
        own = [*staff_form(me, ids["province"], "sysadmin"), ("phone", "13800000000")]
        kept_phone = await submit(client, page, own, page=page)
    assert refused.status == 403
    assert await roles_of(me) == {Role.SYSADMIN}
    assert not await RoleGrant.exists(staff=me)
    assert kept_phone.url.path == page
    assert (await Staff.get(id=me.id)).phone == "13800000000"


async def test_nobody_removes_his_own_roles_either(database_url: str) -> None:
    province = (await org_tree())["province"]
    me, actor = await person(province, Role.SYSADMIN, no="S009")
    with pytest.raises(PermissionDenied):
        await staff.update_staff(actor, me.id, staff.StaffForm(
            me.employee_no, me.name, province, frozenset({Role.SUPERVISOR})))
    assert await roles_of(me) == {Role.SYSADMIN}


@pytest.mark.parametrize(("held", "added"), [
    (Role.REVIEWER, Role.AUDITOR),
    (Role.FIELD_AGENT, Role.REVIEWER),
    (Role.FIELD_AGENT, Role.CALLBACK_AGENT),
    (Role.SUPERVISOR, Role.SYSADMIN),
    (Role.BUSINESS_HEAD, Role.OPS_ADMIN),
])
async def test_incompatible_roles_are_refused_in_the_admin(
        database_url: str, held: Role, added: Role) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        member, _ = await person(ids["outlet_a"], held, no="F001")
        page = f"/staff/{member.id}"
        refused = await submit(client, page, staff_form(member, ids["outlet_a"], held, added),
                               page=page)
        text = await refused.text()
    pair = next(p for p in duties.INCOMPATIBLE if {p.first, p.second} == {held, added})
    assert sent_back(refused, page)
    assert zh(pair.reason) in text
    assert await roles_of(member) == {held}
    assert not await RoleGrant.exists(staff=member)


async def test_a_new_staff_member_with_clashing_roles_is_refused(database_url: str) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        refused = await submit(client, "/staff/new", [
            ("employee_no", "F100"), ("name", "王芳"), ("org_id", str(ids["outlet_a"])),
            ("roles", "field_agent"), ("roles", "reviewer")], page="/staff/new")
    assert sent_back(refused, "/staff/new")
    assert not await Staff.exists(employee_no="F100")


async def test_a_privileged_role_waits_for_a_second_sysadmin(database_url: str) -> None:
    async with admin_site() as maker, admin_site() as checker, admin_site() as holder:
        ids = await sysadmin_session(maker)
        _, checker_name = await web_user(ids["province"], Role.SYSADMIN, no="S002")
        await log_in(checker, checker_name)
        member, member_name = await web_user(ids["branch_a"], Role.SUPERVISOR, no="P001")
        await log_in(holder, member_name)
        page = f"/staff/{member.id}"
        asked = await submit(maker, page, staff_form(member, ids["branch_a"], "supervisor",
                                                     "reviewer"), page=page)
        pending = await roles_of(member)
        grant = await RoleGrant.get(staff=member)
        self_approved = await submit(maker, f"{page}/grant-approve", {"grant_id": str(grant.id)},
                                     page=page)
        shown = await (await checker.get(page)).text()
        still_in = await holder.get("/")
        approved = await submit(checker, f"{page}/grant-approve", {"grant_id": str(grant.id)},
                                page=page)
        logged_out = await holder.get("/")
    assert asked.url.path == page
    assert pending == {Role.SUPERVISOR}
    assert self_approved.status == 403
    assert "grant-approve" in shown
    assert approved.url.path == page
    assert still_in.url.path == "/" and logged_out.url.path == "/login"
    assert await roles_of(member) == {Role.SUPERVISOR, Role.REVIEWER}
    assert (await RoleGrant.get(id=grant.id)).state == RoleGrantState.APPROVED
    checker_row = await Staff.get(employee_no="S002")
    maker_row = await Staff.get(employee_no="S001")
    assert await OutboxMessage.exists(recipient_id=checker_row.id, kind="staff.grant_asked",
                                      subject_id=member.id)
    assert await OutboxMessage.exists(recipient_id=maker_row.id, kind="staff.grant_decided")
    assert await OutboxMessage.exists(recipient_id=member.id, kind="staff.roles_changed")
    assert await AuditLog.exists(action="staff.role_granted", actor_id=checker_row.id)


async def test_a_refused_or_lapsed_grant_gives_nothing(
        database_url: str, test_clock: SteadyClock) -> None:
    province = (await org_tree())["province"]
    maker_row, maker = await person(province, Role.SYSADMIN, no="S001")
    _, checker = await person(province, Role.SYSADMIN, no="S002")
    first, _ = await person(province, Role.SUPERVISOR, no="P001")
    second, _ = await person(province, Role.IT_ADMIN, no="P002")
    await staff.update_staff(maker, first.id, staff.StaffForm(
        "P001", first.name, province, frozenset({Role.SUPERVISOR, Role.OPS_ADMIN})))
    await staff.update_staff(maker, second.id, staff.StaffForm(
        "P002", second.name, province, frozenset({Role.IT_ADMIN, Role.REVIEWER})))
    refused = await RoleGrant.get(staff=first)
    await role_grants.refuse(checker, first.id, refused.id, "不需要")
    lapsed = await RoleGrant.get(staff=second)
    test_clock.move_to(test_clock() + role_grants.GRANT_LIFETIME + timedelta(minutes=1))
    with pytest.raises(DomainError):
        await role_grants.approve(checker, second.id, lapsed.id)
    with pytest.raises(DomainError):
        await role_grants.approve(checker, first.id, refused.id)
    assert await role_grants.pending_for(checker, second.id) == []
    assert (await RoleGrant.get(id=lapsed.id)).state == RoleGrantState.PENDING  # read only
    assert await role_grants.sweep_lapsed_grants() == 1
    assert (await RoleGrant.get(id=lapsed.id)).state == RoleGrantState.EXPIRED
    assert await roles_of(first) == {Role.SUPERVISOR}
    assert await roles_of(second) == {Role.IT_ADMIN}
    assert maker_row.id == refused.asked_by_id  # type: ignore[attr-defined]


async def test_approval_still_refuses_a_clash_made_meanwhile(database_url: str) -> None:
    province = (await org_tree())["province"]
    _, maker = await person(province, Role.SYSADMIN, no="S001")
    _, checker = await person(province, Role.SYSADMIN, no="S002")
    member, _ = await person(province, Role.SUPERVISOR, no="P001")
    await staff.update_staff(maker, member.id, staff.StaffForm(
        "P001", member.name, province, frozenset({Role.SUPERVISOR, Role.REVIEWER})))
    await staff.update_staff(maker, member.id, staff.StaffForm(
        "P001", member.name, province, frozenset({Role.SUPERVISOR, Role.CALLBACK_AGENT})))
    grant = await RoleGrant.get(staff=member, role=Role.REVIEWER)
    with pytest.raises(DomainError):
        await role_grants.approve(checker, member.id, grant.id)
    assert await roles_of(member) == {Role.SUPERVISOR, Role.CALLBACK_AGENT}


async def test_the_duties_table_is_shown_and_linked_from_staff_pages(database_url: str
                                                                     ) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        member, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001")
        listing = await (await client.get("/staff")).text()
        detail = await (await client.get(f"/staff/{member.id}")).text()
        table = await client.get("/duties")
        text = await table.text()
    assert 'href="/duties"' in listing and 'href="/duties"' in detail
    assert table.status == 200
    assert all(zh(pair.reason) in text for pair in duties.INCOMPATIBLE)


async def test_the_sweep_lapses_unanswered_grants_in_batches_and_tells_the_maker(
        database_url: str, test_clock: SteadyClock) -> None:
    province = (await org_tree())["province"]
    maker_row, maker = await person(province, Role.SYSADMIN, no="S001")
    await person(province, Role.SYSADMIN, no="S002")
    members = [(await person(province, Role.SUPERVISOR, no=f"P00{n}"))[0] for n in range(3)]
    for member in members:
        await staff.update_staff(maker, member.id, staff.StaffForm(
            member.employee_no, member.name, province,
            frozenset({Role.SUPERVISOR, Role.OPS_ADMIN})))
    assert await role_grants.sweep_lapsed_grants() == 0
    test_clock.move_to(test_clock() + role_grants.GRANT_LIFETIME + timedelta(minutes=1))
    assert await role_grants.sweep_lapsed_grants(batch=2) == 3
    assert await role_grants.sweep_lapsed_grants(batch=2) == 0
    assert set(await RoleGrant.all().values_list("state", flat=True)) == {
        RoleGrantState.EXPIRED}
    rows = await AuditLog.filter(action="staff.role_grant_lapsed")
    assert sorted(int(row.object_id) for row in rows) == sorted(m.id for m in members)
    assert {(row.actor_id, row.actor_label) for row in rows} == {(None, "system:role_grants")}
    notices = await OutboxMessage.filter(kind="staff.grant_expired", recipient_id=maker_row.id)
    assert len(notices) == 3
    assert {notice.params["role"] for notice in notices} == {zh("Operations management")}
    assert "role_grant_lapses" in {job.name for job in JOBS}


async def test_notices_name_the_role_in_the_readers_language_never_its_key(
        database_url: str) -> None:
    province = (await org_tree())["province"]
    maker_row, maker = await person(province, Role.SYSADMIN, no="S001")
    checker_row, checker = await person(province, Role.SYSADMIN, no="S002")
    await Staff.filter(id=checker_row.id).update(locale="en")
    member, _ = await person(province, Role.SUPERVISOR, no="P001")
    await staff.update_staff(maker, member.id, staff.StaffForm(
        "P001", member.name, province, frozenset({Role.SUPERVISOR, Role.REVIEWER})))
    await role_grants.approve(checker, member.id, (await RoleGrant.get(staff=member)).id)
    asked = await OutboxMessage.get(kind="staff.grant_asked", recipient_id=checker_row.id)
    decided = await OutboxMessage.get(kind="staff.grant_decided", recipient_id=maker_row.id)
    assert asked.params["role"] == "Central reviewer"
    assert decided.params["role"] == zh("Central reviewer") != "Central reviewer"
