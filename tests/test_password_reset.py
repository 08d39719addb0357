"""Password resets cannot bypass maker-checker (S2, S3, issue 13): the web never resets a
system administrator's password (only `fieldops reset-password` on the server does), a
one-time password goes to the person's own chat when he has one, and a session opened with a
one-time password decides no role grant."""

from __future__ import annotations

import getpass
import re
from pathlib import Path

import pytest
from markupsafe import escape

from domain.models import (
    AuditLog,
    OutboxMessage,
    Role,
    RoleGrant,
    RoleGrantState,
    Staff,
    WebCredential,
)
from domain.people import auth, role_grants, staff
from domain.people.passwords import password_matches
from domain.people.staff import PASSWORD_SENT, SERVER_ONLY
from domain.platform.actors import actor_for
from domain.platform.errors import PermissionDenied
from tests.admin_support import admin_site, log_in, submit, sysadmin_session, zh
from tests.cli_support import cli_env, fieldops
from tests.duties_support import bound_to_telegram
from tests.factories import ROOT, org_tree, person, web_user


async def password_hash(member: Staff) -> str:
    """The stored hash of the member's web password."""
    return (await WebCredential.get(staff_id=member.id)).password_hash


async def test_the_web_refuses_to_reset_another_sysadmins_password(database_url: str) -> None:
    async with admin_site() as client:
        await sysadmin_session(client)
        other, username = await web_user((await Staff.get(employee_no="S001")).org_id,  # type: ignore[attr-defined]
                                         Role.SYSADMIN, no="S002")
        before = await password_hash(other)
        page = f"/staff/{other.id}"
        shown = await (await client.get(page)).text()
        refused = await submit(client, f"{page}/web-login", {"username": username}, page=page)
        text = await refused.text()
    assert f'action="{page}/web-login"' not in shown and zh(SERVER_ONLY) in shown
    assert refused.status == 403 and escape(zh(SERVER_ONLY)) in text
    assert await password_hash(other) == before
    row = await AuditLog.get(action="staff.web_login_reset_refused")
    maker = await Staff.get(employee_no="S001")
    assert (row.actor_id, row.object_id) == (maker.id, str(other.id))
    assert not await AuditLog.exists(action="staff.web_login_reset", object_id=str(other.id),
                                     actor_id=maker.id)


async def test_nor_of_someone_waiting_for_the_sysadmin_role(database_url: str) -> None:
    province = (await org_tree())["province"]
    _, maker = await person(province, Role.SYSADMIN, no="S001")
    await person(province, Role.SYSADMIN, no="S002")
    member, _ = await person(province, Role.IT_ADMIN, no="P001")
    await staff.update_staff(maker, member.id, staff.StaffForm(
        "P001", member.name, province, frozenset({Role.SYSADMIN})))
    assert await RoleGrant.exists(staff=member, role=Role.SYSADMIN)
    with pytest.raises(PermissionDenied):
        await staff.issue_web_login(maker, member.id, "p001")
    assert not await WebCredential.exists(staff_id=member.id)
    with pytest.raises(PermissionDenied):  # only the server sets passwords directly
        await staff.grant_web_login(maker, member.id, "p001")


async def test_a_one_time_password_goes_to_the_persons_own_chat(database_url: str) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        bound, _ = await web_user(ids["outlet_a"], Role.FIELD_AGENT, no="F001")
        unbound, _ = await web_user(ids["outlet_a"], Role.SUPERVISOR, no="F002")
        await bound_to_telegram(bound)
        page = f"/staff/{bound.id}"
        form_page = await (await client.get(page)).text()
        sent = await submit(client, f"{page}/web-login", {"username": "uF001"}, page=page)
        sent_text = await sent.text()
        other = f"/staff/{unbound.id}"
        shown = await submit(client, f"{other}/web-login", {"username": "uF002"}, page=other)
        shown_text = await shown.text()
    [message] = await OutboxMessage.filter(kind="staff.password_issued")
    password = message.params["password"]
    assert (message.recipient_id, message.channel, message.template) == (  # type: ignore[attr-defined]
        bound.id, "telegram", PASSWORD_SENT)
    assert await password_matches(await password_hash(bound), password)
    assert "telegram" in form_page
    assert sent.url.path == page and password not in sent_text and "telegram" in sent_text
    reset = await AuditLog.get(action="staff.web_login_reset", object_id=str(bound.id),
                               actor_id=(await Staff.get(employee_no="S001")).id)
    assert reset.detail["sent_to"] == "telegram"
    issued = re.search(r"<code>([^<]+)</code>", shown_text)
    assert shown.status == 200 and issued is not None
    assert await password_matches(await password_hash(unbound), issued.group(1))
    assert not await OutboxMessage.exists(kind="staff.password_issued", recipient_id=unbound.id)


async def test_a_sysadmins_password_is_reset_on_the_server_and_its_session_decides_nothing(
        database_url: str, tmp_path: Path) -> None:
    async with admin_site() as maker, admin_site() as checker:
        ids = await sysadmin_session(maker)
        second, username = await web_user(ids["province"], Role.SYSADMIN, no="S002")
        member, _ = await person(ids["branch_a"], Role.SUPERVISOR, no="P001")
        await staff.update_staff(await actor_for(await Staff.get(employee_no="S001")),
                                 member.id, staff.StaffForm(
                                     "P001", member.name, ids["branch_a"],
                                     frozenset({Role.SUPERVISOR, Role.REVIEWER})))
        grant = await RoleGrant.get(staff=member)
        done = await fieldops(cli_env(database_url, tmp_path), "reset-password", username,
                              cwd=tmp_path)
        unknown = await fieldops(cli_env(database_url, tmp_path), "reset-password", "nobody",
                                 cwd=tmp_path)
        printed = re.search(rf"one-time password for {username}: (\S+)", done.stdout)
        assert done.returncode == 0 and printed is not None, done.stderr
        landed = await log_in(checker, username, printed.group(1))
        page = f"/staff/{member.id}"
        approved = await submit(checker, f"{page}/grant-approve", {"grant_id": str(grant.id)},
                                page="/password")
    assert unknown.returncode == 1 and "nobody" in unknown.stderr
    assert landed.url.path == "/password"
    assert approved.url.path == "/password"
    assert (await RoleGrant.get(id=grant.id)).state == RoleGrantState.PENDING
    assert await AuditLog.exists(action="staff.web_login_reset", object_id=str(second.id),
                                 actor_id=None, actor_label=f"system:cli:{getpass.getuser()}")
    with pytest.raises(PermissionDenied):  # the domain holds the rule too
        await role_grants.approve(await actor_for(second), member.id, grant.id)


async def test_the_server_resets_any_log_in(database_url: str) -> None:
    province = (await org_tree())["province"]
    member, username = await web_user(province, Role.SYSADMIN, no="S001")
    password = await staff.reset_password_on_server(ROOT, username)
    assert await password_matches(await password_hash(member), password)


async def test_a_new_sysadmins_web_password_stops_working_until_the_server_issues_one(
        database_url: str) -> None:
    province = (await org_tree())["province"]
    _, maker = await person(province, Role.SYSADMIN, no="S001")
    _, checker = await person(province, Role.SYSADMIN, no="S002")
    member, username = await web_user(province, Role.IT_ADMIN, no="P001")
    await staff.update_staff(maker, member.id, staff.StaffForm(
        "P001", member.name, province, frozenset({Role.SYSADMIN})))
    grant = await RoleGrant.get(staff=member, role=Role.SYSADMIN)
    await role_grants.approve(checker, member.id, grant.id)
    with pytest.raises(auth.LoginRefused) as refused:
        await auth.authenticate(username, "Secret-pass-123", "192.0.2.1")
    assert refused.value.key == auth.WRONG_CREDENTIALS
    assert await AuditLog.exists(action="staff.web_password_voided", object_id=str(member.id),
                                 actor_id=checker.staff_id)
    assert await OutboxMessage.exists(recipient_id=member.id,
                                      template=role_grants.PASSWORD_VOIDED)
    password = await staff.reset_password_on_server(ROOT, username)
    actor, must_change = await auth.authenticate(username, password, "192.0.2.1")
    assert actor.has(Role.SYSADMIN) and must_change
