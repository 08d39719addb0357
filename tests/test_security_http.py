"""The admin site's HTTP hardening (issue 13, Medium and Low points): no open redirect, no
caching of what a logged-in user sees, small bodies before log-in, /metrics behind a token,
no software name, HSTS with secure cookies, a stricter CSP, and 404 alike for another
org's record and a missing one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from admin_web.middlewares import ANONYMOUS_BODY_BYTES
from domain.models import AuditLog, Role, WebChatMessage
from domain.models.orgs import LoginThrottle
from tests.admin_support import CONFIG, admin_site, csrf_token, log_in, submit, zh
from tests.chat_support import chat_config, upload
from tests.factories import org_tree, person, web_user
from tests.review_support import photo

# What browsers turn into //evil.example (they drop tabs and line breaks and read a
# backslash as a slash), and plain external addresses.
EVIL_TARGETS = ("/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "//evil.example",
                "/\\evil.example", "\\/evil.example", "https://evil.example/",
                "http:evil.example", " //evil.example", "/\u3000/evil.example")


@pytest.mark.parametrize("target", EVIL_TARGETS)
async def test_log_in_never_sends_the_user_to_another_site(database_url: str, target: str
                                                         ) -> None:
    ids = await org_tree()
    _, admin = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    async with admin_site() as client:
        form_page = await (await client.get("/login", params={"next": target})).text()
        token = await csrf_token(client)
        answer = await client.post("/login", data={
            "username": admin, "password": "Secret-pass-123", "next": target,
            "csrf_token": token}, allow_redirects=False)
    assert 'name="next" value="/"' in form_page
    assert answer.status == 303 and answer.headers["Location"] == "/"


async def test_the_issue_s_log_in_link_lands_on_the_dashboard(database_url: str) -> None:
    ids = await org_tree()
    _, admin = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    async with admin_site() as client:
        page = await (await client.get("/login?next=%2F%09%2Fevil.example")).text()
        token = await csrf_token(client)
        answer = await client.post("/login", data={
            "username": admin, "password": "Secret-pass-123", "next": "/\t/evil.example",
            "csrf_token": token}, allow_redirects=False)
    assert 'name="next" value="/"' in page
    assert answer.headers["Location"] == "/"


@pytest.mark.parametrize("target", EVIL_TARGETS)
async def test_the_language_switch_stays_on_the_site(database_url: str, target: str) -> None:
    async with admin_site() as client:
        answer = await client.post("/language", data={
            "locale": "en", "next": target, "csrf_token": await csrf_token(client)},
            allow_redirects=False)
    assert answer.status == 303 and answer.headers["Location"] == "/"


async def test_same_site_paths_are_still_followed(database_url: str) -> None:
    ids = await org_tree()
    _, admin = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    async with admin_site() as client:
        switched = await client.post("/language", data={
            "locale": "en", "next": "/login?next=%2Fstaff", "csrf_token": await csrf_token(client)},
            allow_redirects=False)
        landed = await client.post("/login", data={
            "username": admin, "password": "Secret-pass-123", "next": "/staff?q=F0",
            "csrf_token": await csrf_token(client)}, allow_redirects=False)
    assert switched.headers["Location"] == "/login?next=/staff"
    assert landed.headers["Location"] == "/staff?q=F0"


async def test_pages_and_chat_photos_of_a_logged_in_user_are_not_cached(
        database_url: str, tmp_path: Path) -> None:
    ids = await org_tree()
    _, agent = await web_user(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    async with admin_site(chat_config(tmp_path)) as client:
        await log_in(client, agent)
        await upload(client, photo(1))
        line = await WebChatMessage.get(from_bot=False)
        shown = await client.get(f"/chat/photos/{line.photo_sha256}")
        page = await client.get("/chat")
        style = await client.get("/static/app.css")
    assert shown.status == 200 and "no-store" in shown.headers["Cache-Control"]
    assert "max-age" not in shown.headers["Cache-Control"]
    assert page.headers["Cache-Control"] == "no-store"
    assert "no-store" not in style.headers.get("Cache-Control", "")


async def test_a_large_anonymous_post_is_refused_unread(database_url: str, tmp_path: Path
                                                       ) -> None:
    ids = await org_tree()
    _, admin = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    body = b"username=" + admin.encode() + b"&password=" + b"a" * (40 * 1024 * 1024)
    throttled = await LoginThrottle.all().values_list("key", "failures", "blocked_until")
    async with admin_site(chat_config(tmp_path)) as client:
        token = await csrf_token(client)
        refused = await client.post("/login", data=body + b"&csrf_token=" + token.encode(),
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        text = await refused.text()
    assert refused.status == 413
    assert zh("Request refused") in text
    assert await LoginThrottle.all().values_list(
        "key", "failures", "blocked_until") == throttled  # nothing charged
    assert not await AuditLog.filter(action__startswith="auth.login").exists()


async def test_a_logged_in_user_may_post_more_than_the_anonymous_limit(database_url: str
                                                                      ) -> None:
    ids = await org_tree()
    _, admin = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    async with admin_site() as client:
        await log_in(client, admin)
        answer = await submit(client, "/orgs", {
            "code": "X1", "name": "网点", "parent_id": str(ids["province"]),
            "padding": "x" * (2 * ANONYMOUS_BODY_BYTES)}, page="/orgs")
    assert answer.status != 413


async def test_metrics_need_their_bearer_token(database_url: str) -> None:
    async with admin_site() as client:
        unset = await client.get("/metrics")
    async with admin_site(replace(CONFIG, metrics_token="scrape-token")) as client:
        anonymous = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer guess"})
        wrong_text = await wrong.text()
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-token"})
        text = await right.text()
    assert unset.status == 404
    assert (anonymous.status, wrong.status) == (401, 401)
    assert "fieldops_staff_active" not in wrong_text
    assert right.status == 200 and "fieldops_staff_active" in text


async def test_headers_name_no_software_and_lock_forms_and_base(database_url: str) -> None:
    async with admin_site() as client:
        plain = await client.get("/login")
        missing = await client.get("/no-such-page")
    async with admin_site(replace(CONFIG, secure_cookies=True)) as client:
        secure = await client.get("/login")
    for response in (plain, missing, secure):
        assert "Server" not in response.headers
        policy = response.headers["Content-Security-Policy"]
        assert "form-action 'self'" in policy and "base-uri 'none'" in policy
    assert "Strict-Transport-Security" not in plain.headers
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


async def test_another_org_s_record_reads_like_a_missing_one(database_url: str) -> None:
    ids = await org_tree()
    theirs, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F002")
    _, auditor = await web_user(ids["branch_a"], Role.AUDITOR, no="A001")
    async with admin_site() as client:
        await log_in(client, auditor)
        other = await client.get(f"/staff/{theirs.id}")
        missing = await client.get("/staff/99999")
        other_text, missing_text = await other.text(), await missing.text()
        other_org = await client.get(f"/orgs/{ids['outlet_b']}")
        missing_org = await client.get("/orgs/99999")
        org_texts = [await other_org.text(), await missing_org.text()]
    assert (other.status, missing.status) == (404, 404)
    assert zh("No such staff member.") in other_text and zh("No such staff member.") in missing_text
    assert "F002" not in other_text
    assert (other_org.status, missing_org.status) == (404, 404)
    assert all(zh("No such organisation.") in text for text in org_texts)
