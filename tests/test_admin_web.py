"""The admin site through HTTP: log-in, CSRF, scope, audit, bind codes, outbox, i18n, ops."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from tortoise import connections
from tortoise.exceptions import OperationalError

from domain.models import AuditLog, BindCode, OutboxMessage, OutboxStatus, Role, Staff
from domain.people import binding, staff
from domain.platform import clock, outbox
from domain.platform.intents import Intent
from tests.admin_support import (
    CONFIG,
    PASSWORD,
    admin_site,
    log_in,
    sent_back,
    submit,
    sysadmin_session,
    zh,
)
from tests.factories import ROOT, org_tree, person, web_user


async def test_log_in_lands_on_the_dashboard(database_url: str) -> None:
    ids = await org_tree()
    _, username = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    async with admin_site() as client:
        assert (await client.get("/")).url.path == "/login"
        response = await log_in(client, username)
        page = await response.text()
    assert response.status == 200 and response.url.path == "/"
    assert f"<h1>{zh('Dashboard')}</h1>" in page
    assert response.headers["Content-Security-Policy"] == (
        "default-src 'self'; form-action 'self'; base-uri 'none'")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


async def test_wrong_password_is_refused(database_url: str) -> None:
    ids = await org_tree()
    _, username = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    async with admin_site() as client:
        response = await log_in(client, username, "Wrong-pass-999")
        page = await response.text()
        assert (await client.get("/staff")).url.path == "/login"
    assert response.status == 401
    assert zh("Wrong user name or password.") in page


async def test_sixth_log_in_is_refused_after_five_failures(database_url: str) -> None:
    ids = await org_tree()
    _, username = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    async with admin_site() as client:
        for _ in range(5):
            await log_in(client, username, "Wrong-pass-999")
        response = await log_in(client, username)
        page = await response.text()
    assert response.url.path == "/login"
    assert zh("Too many failed log-ins. Try again in %(minutes)d minutes.", minutes=15) in page


async def test_post_without_the_csrf_token_changes_nothing(database_url: str) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        audit_rows = await AuditLog.all().count()
        form = {"employee_no": "F900", "name": "新员工", "org_id": str(ids["outlet_a"]),
                "roles": "field_agent"}
        missing = await client.post("/staff/new", data=form)
        forged = await client.post("/staff/new", data=form | {"csrf_token": "forged"})
        page = await forged.text()
    assert (missing.status, forged.status) == (403, 403)
    assert zh("This form has expired or did not come from this site. "
              "Go back, reload the page and try again.") in page
    assert not await Staff.exists(employee_no="F900")
    assert await AuditLog.all().count() == audit_rows


async def test_first_log_in_forces_a_password_change(database_url: str) -> None:
    ids = await org_tree()
    row, _ = await person(ids["branch_a"], Role.SYSADMIN, no="S002")
    initial = await staff.grant_web_login(ROOT, row.id, "newadmin")
    async with admin_site() as client:
        assert (await log_in(client, "newadmin", initial)).url.path == "/password"
        assert (await client.get("/staff")).url.path == "/password"
        assert (await client.get("/audit")).url.path == "/password"
        changed = await submit(client, "/password", {"current": initial, "new": PASSWORD,
                                                     "repeat": PASSWORD}, page="/password")
        changed_page = await changed.text()
        staff_page = await client.get("/staff")
    assert changed.url.path == "/"
    assert zh("Your password has been changed.") in changed_page
    assert staff_page.url.path == "/staff" and staff_page.status == 200


async def test_idle_session_is_logged_out(database_url: str, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    start = clock.utcnow()
    async with admin_site() as client:
        await sysadmin_session(client)
        monkeypatch.setattr(clock, "utcnow", lambda: start + timedelta(minutes=31))
        response = await client.get("/staff")
        page = await response.text()
        again = await client.get("/")
    assert response.url.path == "/login"
    assert zh("You were logged out after %(minutes)d minutes without activity.",
              minutes=30) in page
    assert again.url.path == "/login"
    assert await AuditLog.filter(action="auth.logout_idle").count() == 1


async def test_staff_of_another_branch_is_out_of_reach(database_url: str) -> None:
    ids = await org_tree()
    mine, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001")
    theirs, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F002")
    _, auditor = await web_user(ids["branch_a"], Role.AUDITOR, no="A001")
    _, ops = await web_user(ids["branch_a"], Role.OPS_ADMIN, no="O001")
    async with admin_site() as client:
        await log_in(client, auditor)
        own = await client.get(f"/staff/{mine.id}")
        own_text = await own.text()
        other = await client.get(f"/staff/{theirs.id}")
        other_text = await other.text()
    async with admin_site() as client:
        await log_in(client, ops)
        issued = await submit(client, f"/staff/{theirs.id}/bind-code", {}, page="/staff")
    assert own.status == 200 and "F001" in own_text
    assert other.status == 404
    assert zh("No such staff member.") in other_text
    assert "F002" not in other_text
    assert issued.status == 403
    assert not await BindCode.exists(staff_id=theirs.id)


def logged_actions(page: str) -> set[str]:
    """The actions of the audit rows an audit-log page lists."""
    return set(re.findall(r'<tr data-action="([^"]+)"', page))


async def test_staff_changes_are_audited_and_searchable(database_url: str) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        created = await submit(client, "/staff/new", [
            ("employee_no", "F100"), ("name", "王芳"), ("org_id", str(ids["outlet_a"])),
            ("roles", "field_agent"), ("roles", "supervisor")], page="/staff/new")
        member = await Staff.get(employee_no="F100")
        page = f"/staff/{member.id}"
        await submit(client, page, [
            ("employee_no", "F100"), ("name", "王芳芳"), ("org_id", str(ids["outlet_a"])),
            ("phone", "13800000000"), ("roles", "field_agent")], page=page)
        await submit(client, f"{page}/active", {"active": "0"}, page=page)
        updates = await (await client.get(f"/audit?action=staff.update&object_id={member.id}"))\
            .text()
        today = clock.utcnow().astimezone().date()
        tomorrow = (today + timedelta(days=2)).isoformat()
        everything = await (await client.get(f"/audit?object_type=staff&object_id={member.id}"))\
            .text()
        future = await (await client.get(f"/audit?object_id={member.id}&date_from={tomorrow}"))\
            .text()
    assert created.url.path == page
    assert "王芳芳" in updates and logged_actions(updates) == {"staff.update"}
    assert logged_actions(everything) == {"staff.create", "staff.update", "staff.deactivate"}
    assert logged_actions(future) == set()
    assert not (await Staff.get(id=member.id)).active
    assert [r.role for r in await member.roles.all()] == [Role.FIELD_AGENT]


async def test_bind_code_is_shown_once_and_binds(database_url: str) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001")
        page = f"/staff/{agent.id}"
        issued = await submit(client, f"{page}/bind-code", {}, page=page)
        issued_page = await issued.text()
        code = re.search(r"<code>([A-Z2-9]{8})</code>", issued_page)
        assert code, issued_page
        later = await (await client.get(page)).text()
    assert issued.headers["Cache-Control"] == "no-store"
    assert f"https://t.me/fieldops_test_bot?start={code.group(1)}" in issued_page
    assert code.group(1) not in later
    bound = await binding.bind_chat("telegram", "5001", "5001", code.group(1))
    assert bound.id == agent.id


async def test_dead_outbox_message_is_retried_by_button(database_url: str) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001")
        await outbox.enqueue(agent.id, "Hello", intent=Intent.of("staff.roles_changed", agent.id),
                             idempotency_key="k1")
        message = await OutboxMessage.get(idempotency_key="k1")
        [claimed] = await outbox.claim_due()
        await outbox.mark_failed(claimed, "chat not found", backoff=timedelta(seconds=1),
                                 max_attempts=1)
        listing = await (await client.get("/outbox")).text()
        retried = await submit(client, f"/outbox/{message.id}/retry", {}, page="/outbox")
        after = await retried.text()
    assert "chat not found" in listing
    assert "chat not found" not in after
    assert (await OutboxMessage.get(id=message.id)).status == OutboxStatus.PENDING


async def test_language_switch_turns_headings_english(database_url: str) -> None:
    async with admin_site() as client:
        login_page = await (await client.get("/login")).text()
        await sysadmin_session(client)
        before = await (await client.get("/")).text()
        switched = await submit(client, "/language", {"locale": "en", "next": "/"})
        after = await switched.text()
        refused = await (await log_in(client, "nobody", "x")).text()
    assert 'value="en"' in login_page
    assert '<html lang="zh-CN">' in before and f"<h1>{zh('Dashboard')}</h1>" in before
    assert '<html lang="en">' in after and "<h1>Dashboard</h1>" in after
    assert "Wrong user name or password." in refused


async def test_healthz_reports_the_database(database_url: str, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    async def broken(*args: object) -> None:
        raise OperationalError("database is gone")

    async with admin_site() as client:
        healthy = await client.get("/healthz")
        assert (healthy.status, await healthy.json()) == (200, {"status": "ok"})
        monkeypatch.setattr(connections.get("default"), "execute_query", broken)
        sick = await client.get("/healthz")
        assert (sick.status, await sick.json()) == (503, {"status": "error"})


async def test_metrics_expose_gauges_and_request_counts(database_url: str) -> None:
    async with admin_site(replace(CONFIG, metrics_token="scrape-token")) as client:
        await sysadmin_session(client)
        await client.get("/staff")
        response = await client.get("/metrics", headers={"Authorization": "Bearer scrape-token"})
        text = await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'fieldops_outbox_messages{status="dead"} 0' in text
    assert "fieldops_staff_active 1" in text
    assert re.search(r"^fieldops_audit_log_rows [1-9]\d*$", text, re.M)
    assert 'fieldops_http_requests_total{method="GET",route="/staff",status="200"} 1' in text
    assert "# TYPE fieldops_http_requests_total counter" in text


async def test_every_page_opens_for_a_system_admin(database_url: str) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001")
        pages = ["/", "/orgs", f"/orgs/{ids['outlet_b']}", "/staff", "/staff?active=1&q=F0",
                 f"/staff?org_id={ids['branch_a']}", "/staff/new", f"/staff/{agent.id}",
                 "/audit", "/audit?date_from=2020-01-01&date_to=2030-12-31", "/outbox"]
        statuses = {page: (await client.get(page)).status for page in pages}
        missing = await client.get("/staff/99999")
        missing_text = await missing.text()
        unknown = await client.get("/no-such-page")
    assert statuses == dict.fromkeys(pages, 200)
    assert missing.status == 404 and zh("No such staff member.") in missing_text
    assert unknown.status == 404


async def test_org_is_added_and_renamed_with_rule_messages(database_url: str) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        duplicate = await submit(client, "/orgs", {"parent_id": str(ids["branch_a"]),
                                                   "code": "Ba", "name": "重复"}, page="/orgs")
        duplicate_text = await duplicate.text()
        added = await submit(client, "/orgs", {"parent_id": str(ids["branch_a"]),
                                               "code": "S9", "name": "新支行"}, page="/orgs")
        added_text = await added.text()
        renamed = await submit(client, f"/orgs/{ids['sub_a']}",
                               {"name": "城东支行", "name_en": "East"}, page="/orgs")
        renamed_text = await renamed.text()
    assert sent_back(duplicate, "/orgs")
    assert zh("Organisation code %(code)s is already used.", code="Ba") in duplicate_text
    assert added.url.path == "/orgs" and "新支行" in added_text
    assert "城东支行" in renamed_text and "支行a" not in renamed_text


async def test_web_log_in_is_granted_with_a_password_shown_once(database_url: str) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        agent, _ = await person(ids["outlet_a"], Role.SUPERVISOR, no="V001")
        page = f"/staff/{agent.id}"
        granted = await submit(client, f"{page}/web-login", {"username": "v001"}, page=page)
        granted_text = await granted.text()
        later = await (await client.get(page)).text()
    password = re.search(r"<code>([^<]+)</code>", granted_text)
    assert password and granted.headers["Cache-Control"] == "no-store"
    assert password.group(1) not in later and "v001" in later
    async with admin_site() as client:
        assert (await log_in(client, "v001", password.group(1))).url.path == "/password"


async def test_staff_list_filters_by_org_name_and_state(database_url: str) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001", name="李娜")
        gone, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F002", name="李强")
        await staff.set_active(ROOT, gone.id, False)
        by_name = await (await client.get("/staff?q=李")).text()
        by_org = await (await client.get(f"/staff?org_id={ids['branch_a']}")).text()
        inactive = await (await client.get("/staff?active=0")).text()
    assert "李娜" in by_name and "李强" in by_name and ">S001</a>" not in by_name
    assert "李娜" in by_org and "李强" not in by_org
    assert "李强" in inactive and "李娜" not in inactive


async def test_field_agent_has_no_admin_pages(database_url: str) -> None:
    ids = await org_tree()
    _, username = await web_user(ids["outlet_a"], Role.FIELD_AGENT, no="F001")
    async with admin_site() as client:
        response = await log_in(client, username)
        text = await response.text()
    assert response.status == 403
    assert zh("You do not have permission for this action.") in text
