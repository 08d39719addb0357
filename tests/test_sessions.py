"""Server-side admin sessions (S3, issue 13): a saved cookie stops working once its session
ends — log-out, password change, deactivation, role change, the idle and the absolute
lifetime, a user or a sysadmin ending it — and the cookie carries nothing but the id."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import timedelta

from aiohttp.test_utils import TestClient
from cryptography.fernet import Fernet

from admin_web.sessions import COOKIE_NAME
from domain.models import AuditLog, Role, Staff, WebSession
from domain.people import sessions, staff
from domain.people.sessions import EndReason
from domain.platform.actors import actor_for
from tests.admin_support import (
    CONFIG,
    PASSWORD,
    admin_site,
    csrf_token,
    log_in,
    submit,
    zh,
)
from tests.clock_support import SteadyClock
from tests.factories import ROOT, org_tree, web_user

NEW_PASSWORD = "Another-pass-456"


def saved_cookie(client: TestClient) -> str:
    """The session cookie as a browser (or a thief) would keep it."""
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE_NAME].value


def replay(client: TestClient, cookie: str) -> None:
    """Put a saved cookie back, as if the browser had never been told to forget it."""
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE_NAME: cookie}, client.make_url("/"))


async def new_staff_form(client: TestClient, token: str, no: str) -> int:
    """Post the new-staff form with a CSRF token taken earlier; the status answered."""
    ids = await Staff.all().order_by("id").values_list("org_id", flat=True)
    form = {"employee_no": no, "name": "新员工", "org_id": str(ids[0]), "roles": "field_agent",
            "csrf_token": token}
    return (await client.post("/staff/new", data=form, allow_redirects=False)).status


async def test_a_cookie_saved_before_log_out_opens_nothing(database_url: str) -> None:
    ids = await org_tree()
    _, admin = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    async with admin_site() as client:
        await log_in(client, admin)
        cookie, token = saved_cookie(client), await csrf_token(client, "/staff")
        logged_out = await submit(client, "/logout", {}, page="/staff")
        replay(client, cookie)
        page = await client.get("/staff")
        text = await page.text()
        replay(client, cookie)
        posted = await new_staff_form(client, token, "F900")
    assert logged_out.url.path == "/login"
    assert page.url.path == "/login"
    assert zh("Your session has ended. Please log in again.") in text
    assert posted in (302, 303) and not await Staff.exists(employee_no="F900")
    assert await AuditLog.filter(action="auth.logout").count() == 1


async def test_the_cookie_carries_only_the_session_id(database_url: str) -> None:
    ids = await org_tree()
    _, admin = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    async with admin_site() as client:
        await log_in(client, admin)
        cookie = saved_cookie(client)
    key = base64.urlsafe_b64encode(hashlib.sha256(CONFIG.secret_key.encode()).digest())
    data = json.loads(Fernet(key).decrypt(cookie.encode()))["session"]
    assert set(data) == {"sid"}
    row = await WebSession.get()
    assert row.token_hash == hashlib.sha256(data["sid"].encode()).hexdigest()
    assert data["sid"] not in json.dumps(await WebSession.all().values(), default=str)


async def test_a_password_change_ends_the_other_sessions(database_url: str) -> None:
    ids = await org_tree()
    _, admin = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    async with admin_site() as office, admin_site() as stolen:
        await log_in(office, admin)
        await log_in(stolen, admin)
        token = await csrf_token(stolen, "/staff")
        changed = await submit(office, "/password", {
            "current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD}, page="/password")
        kept = await office.get("/staff")
        thrown_out = await stolen.get("/staff")
        posted = await new_staff_form(stolen, token, "F900")
    assert changed.url.path == "/"
    assert kept.url.path == "/staff"
    assert thrown_out.url.path == "/login"
    assert posted in (302, 303) and not await Staff.exists(employee_no="F900")
    ended = await AuditLog.get(action="auth.session_ended")
    assert ended.detail["reason"] == "password_change"


async def test_deactivation_and_a_role_change_end_the_sessions(database_url: str) -> None:
    ids = await org_tree()
    ops, ops_name = await web_user(ids["branch_a"], Role.OPS_ADMIN, no="O001")
    auditor, auditor_name = await web_user(ids["branch_a"], Role.AUDITOR, no="A001")
    async with admin_site() as first, admin_site() as second:
        await log_in(first, ops_name)
        await log_in(second, auditor_name)
        await staff.set_active(ROOT, ops.id, False)
        await staff.update_staff(ROOT, auditor.id, staff.StaffForm(
            "A001", auditor.name, ids["branch_a"], frozenset({Role.SUPERVISOR})))
        ended = await WebSession.filter(ended_at__isnull=False).values_list(
            "end_reason", flat=True)
        deactivated = await first.get("/")
        demoted = await second.get("/")
    assert sorted(ended) == ["deactivated", "roles_changed"]
    assert deactivated.url.path == demoted.url.path == "/login"
    reasons = await AuditLog.filter(action="auth.session_ended").values_list(
        "detail", flat=True)
    assert sorted(d["reason"] for d in reasons) == ["deactivated", "roles_changed"]


async def test_a_busy_session_still_ends_after_its_lifetime(
        database_url: str, test_clock: SteadyClock) -> None:
    ids = await org_tree()
    _, admin = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    start = test_clock()
    async with admin_site() as client:
        await log_in(client, admin)
        for step in range(1, 36):
            test_clock.move_to(start + timedelta(minutes=20 * step))
            assert (await client.get("/staff")).url.path == "/staff", step
        test_clock.move_to(start + timedelta(hours=12, minutes=1))
        response = await client.get("/staff")
        text = await response.text()
    assert response.url.path == "/login"
    assert zh("Sessions last at most %(hours)d hours. Please log in again.", hours=12) in text
    assert (await AuditLog.get(action="auth.session_ended")).detail["reason"] == "expired"


async def test_a_csrf_token_belongs_to_its_own_session(database_url: str) -> None:
    ids = await org_tree()
    _, admin = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    async with admin_site() as first, admin_site() as second:
        await log_in(first, admin)
        await log_in(second, admin)
        token = await csrf_token(first, "/staff")
        refused = await new_staff_form(second, token, "F900")
        accepted = await new_staff_form(first, token, "F901")
    assert refused == 403 and not await Staff.exists(employee_no="F900")
    assert accepted in (302, 303) and await Staff.exists(employee_no="F901")


async def test_my_sessions_lists_them_and_ends_one_or_all_others(database_url: str) -> None:
    ids = await org_tree()
    _, ops = await web_user(ids["branch_a"], Role.OPS_ADMIN, no="O001")
    async with admin_site() as desk, admin_site() as tablet, admin_site() as phone:
        await log_in(desk, ops)
        for client, agent in ((tablet, "Tablet/1.0"), (phone, "Phone/2.0")):
            client.session.headers["User-Agent"] = agent
            await log_in(client, ops)
        listing = await (await desk.get("/sessions")).text()
        tablet_id = (await WebSession.get(user_agent="Tablet/1.0")).id
        ended = await submit(desk, f"/sessions/{tablet_id}/end", {}, page="/sessions")
        tablet_after = await tablet.get("/")
        phone_before = await phone.get("/")
        await submit(desk, "/sessions/end-others", {}, page="/sessions")
        phone_after = await phone.get("/")
        desk_after = await desk.get("/sessions")
    assert "Tablet/1.0" in listing and "Phone/2.0" in listing and "127.0.0.1" in listing
    assert zh("This session") in listing
    assert ended.url.path == "/sessions"
    assert tablet_after.url.path == "/login" and phone_before.url.path == "/"
    assert phone_after.url.path == "/login" and desk_after.url.path == "/sessions"
    reasons = await AuditLog.filter(action="auth.session_ended").values_list(
        "detail", flat=True)
    assert [d["reason"] for d in reasons] == ["ended_by_user", "ended_by_user"]


async def test_a_sysadmin_ends_anyones_session_and_nobody_else_does(database_url: str) -> None:
    ids = await org_tree()
    _, admin = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    _, ops = await web_user(ids["branch_a"], Role.OPS_ADMIN, no="O001")
    _, auditor = await web_user(ids["branch_a"], Role.AUDITOR, no="A001")
    async with (admin_site() as admin_client, admin_site() as ops_client,
                admin_site() as auditor_client):
        await log_in(ops_client, ops)
        await log_in(auditor_client, auditor)
        await log_in(admin_client, admin)
        ops_session = (await WebSession.get(staff__employee_no="O001")).id
        auditor_session = (await WebSession.get(staff__employee_no="A001")).id
        refused = await submit(ops_client, f"/sessions/{auditor_session}/end", {},
                               page="/sessions")
        listing = await (await admin_client.get("/sessions")).text()
        await submit(admin_client, f"/sessions/{ops_session}/end", {}, page="/sessions")
        ops_after = await ops_client.get("/")
        auditor_after = await auditor_client.get("/")
    assert refused.status == 404
    assert zh("Sessions of all users") in listing and "O001" in listing and "A001" in listing
    assert ops_after.url.path == "/login" and auditor_after.url.path == "/"
    ended = await AuditLog.get(action="auth.session_ended")
    assert ended.detail["reason"] == "ended_by_admin" and ended.actor_label.startswith("S001")


async def test_the_sweep_ends_idle_sessions_and_forgets_old_ones(
        database_url: str, test_clock: SteadyClock) -> None:
    ids = await org_tree()
    member, _ = await web_user(ids["branch_a"], Role.OPS_ADMIN, no="O001")
    actor = await actor_for(member)
    start = test_clock()
    await sessions.start_session(actor, "10.0.0.1", "Browser")
    test_clock.move_to(start + timedelta(minutes=29))
    assert await sessions.sweep_sessions() == (0, 0)
    test_clock.move_to(start + timedelta(minutes=31))
    assert await sessions.sweep_sessions() == (1, 0)
    row = await WebSession.get()
    assert row.end_reason == EndReason.IDLE
    assert (await AuditLog.get(action="auth.logout_idle")).actor_label == "system:sessions"
    test_clock.move_to(start + timedelta(days=2))
    assert await sessions.sweep_sessions() == (0, 1)
    assert not await WebSession.exists()


async def test_end_sessions_keeps_the_one_named(database_url: str) -> None:
    ids = await org_tree()
    member, _ = await web_user(ids["branch_a"], Role.OPS_ADMIN, no="O001")
    actor = await actor_for(member)
    tokens = [await sessions.start_session(actor, "10.0.0.1", f"B{n}") for n in range(3)]
    kept = await WebSession.get(user_agent="B1")
    assert await sessions.end_sessions(member.id, EndReason.ROLES_CHANGED, kept.id) == 2
    outcomes = [await sessions.resume(token) for token in tokens]
    assert [type(o).__name__ for o in outcomes] == ["EndedSession", "ActiveSession",
                                                     "EndedSession"]
    assert re.fullmatch(r"[0-9a-f]{64}", kept.token_hash)
