"""Log-in abuse (issue 13, S3): each attack of the security review, performed and refused."""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import replace
from datetime import timedelta
from ipaddress import ip_network

import pytest
from argon2 import PasswordHasher

from domain.models import AuditLog, Role
from domain.models.orgs import LoginRefusalTally
from domain.people import auth, passwords
from domain.platform.clock import utcnow
from tests.admin_support import CONFIG, PASSWORD, admin_site, log_in, sent_back, submit, zh
from tests.clock_support import SteadyClock
from tests.factories import org_tree, web_user

ATTACKER = "203.0.113.66"
OFFICE = "198.51.100.7"


async def refusal(username: str, password: str, address: str) -> auth.LoginRefused:
    """The refusal of a log-in that must fail."""
    with pytest.raises(auth.LoginRefused) as refused:
        await auth.authenticate(username, password, address)
    return refused.value


async def admin_user() -> str:
    """A system admin with a web log-in; his user name."""
    ids = await org_tree()
    _, username = await web_user(ids["province"], Role.SYSADMIN, no="S1")
    return username


async def test_one_address_trying_many_names_is_slowed_then_refused(database_url: str) -> None:
    username = await admin_user()
    for n in range(10):
        await refusal(f"guess{n}", "Wrong-pass-999", ATTACKER)
    slowed = await refusal(username, PASSWORD, ATTACKER)
    actor, _ = await auth.authenticate(username, PASSWORD, OFFICE)
    assert slowed.key == auth.TOO_MANY_FAILURES and slowed.params["minutes"] >= 1
    assert actor.has(Role.SYSADMIN)


async def test_an_ipv6_client_cannot_escape_by_changing_address_within_its_64(
        database_url: str) -> None:
    username = await admin_user()
    for n in range(10):
        await refusal(f"guess{n}", "Wrong-pass-999", f"2001:db8:1:2::{n + 1:x}")
    slowed = await refusal(username, PASSWORD, "2001:db8:1:2:ffff::1")
    actor, _ = await auth.authenticate(username, PASSWORD, "2001:db8:1:3::1")
    assert slowed.key == auth.TOO_MANY_FAILURES and actor.has(Role.SYSADMIN)
    for n in range(6):
        await refusal(username, "Wrong-pass-999", f"192.0.2.{n}")
    await auth.authenticate(username, PASSWORD, "2001:db8:1:3::2")  # the known /64


async def test_waits_grow_with_each_failure(database_url: str, test_clock: SteadyClock) -> None:
    username = await admin_user()
    waits = []
    for _ in range(3):
        for _ in range(5 if not waits else 1):
            await refusal(username, "Wrong-pass-999", f"192.0.2.{len(waits) + 1}")
        waits.append((await refusal(username, PASSWORD, OFFICE)).params["minutes"])
        test_clock.move_to(utcnow() + timedelta(minutes=waits[-1]))
    assert waits == [15, 30, 60]


async def test_an_attacker_cannot_keep_the_owner_out_at_his_usual_address(
        database_url: str, test_clock: SteadyClock) -> None:
    username = await admin_user()
    await auth.authenticate(username, PASSWORD, OFFICE)
    for n in range(12):
        await refusal(username, "Wrong-pass-999", f"192.0.2.{n}")
        test_clock.move_to(utcnow() + timedelta(minutes=15))
    elsewhere = await refusal(username, PASSWORD, "192.0.2.200")
    actor, _ = await auth.authenticate(username, PASSWORD, OFFICE)
    assert elsewhere.key == auth.TOO_MANY_FAILURES
    assert actor.has(Role.SYSADMIN)


async def test_unknown_and_known_names_are_answered_alike(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    username = await admin_user()
    checked: list[str] = []
    verify = PasswordHasher.verify

    def recorded(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
        checked.append(re.sub(r"\$[^$]*\$[^$]*$", "", password_hash))  # the cost, not the salt
        return verify(hasher, password_hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", recorded)
    answers = {}
    for name in (username, "nobody-here"):
        wrong = [await refusal(name, "Wrong-pass-999", f"192.0.2.{n}") for n in range(5)]
        locked = await refusal(name, PASSWORD, "192.0.2.99")
        answers[name] = [(r.key, r.params) for r in [*wrong, locked]]
    assert answers[username] == answers["nobody-here"]
    assert answers[username][-1] == (auth.TOO_MANY_FAILURES, {"minutes": 15})
    assert len(checked) == 10 and len(set(checked)) == 1


async def test_a_burst_sent_at_once_is_charged_attempt_by_attempt(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    username = await admin_user()
    checks: list[str] = []
    verify = passwords._verify

    def counted(password_hash: str | None, password: str) -> bool:
        checks.append(password)
        return verify(password_hash, password)

    monkeypatch.setattr(passwords, "_verify", counted)
    burst = [auth.authenticate(username, f"Wrong-pass-{n}", f"192.0.2.{n}") for n in range(20)]
    answers = await asyncio.gather(*burst, return_exceptions=True)
    assert all(isinstance(answer, auth.LoginRefused) for answer in answers)
    assert len(checks) == 5


async def test_failed_log_ins_record_their_source_address(database_url: str) -> None:
    username = await admin_user()
    await refusal(username, "Wrong-pass-999", ATTACKER)
    row = await AuditLog.get(action="auth.login_failed")
    assert row.detail["address"] == ATTACKER and row.object_id != ""


async def test_anonymous_failures_are_tallied_not_written_one_by_one(database_url: str) -> None:
    await admin_user()
    before = await AuditLog.all().count()
    for n in range(30):
        await refusal(f"guess{n % 3}", "Wrong-pass-999", ATTACKER)
    rows = await AuditLog.filter(id__gt=before).values_list("action", "detail")
    tallies = await LoginRefusalTally.filter(address=ATTACKER)
    assert len(rows) == len(tallies) <= 6
    assert {action for action, _ in rows} == {"auth.login_failed", "auth.login_locked"}
    assert all(detail["address"] == ATTACKER for _, detail in rows)
    assert sum(t.refusals for t in tallies) == 30


async def test_a_slow_password_check_does_not_stall_the_site(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    username = await admin_user()
    entered, answered = threading.Event(), threading.Event()
    answered_while_hashing: list[bool] = []
    verify = passwords._verify

    def slow(password_hash: str | None, password: str) -> bool:
        entered.set()
        answered.wait(10)
        answered_while_hashing.append(answered.is_set())
        return verify(password_hash, password)

    monkeypatch.setattr(passwords, "_verify", slow)
    async with admin_site() as client:
        pending = asyncio.create_task(log_in(client, username))
        await asyncio.to_thread(entered.wait, 10)
        if (await client.get("/healthz")).status == 200:
            answered.set()
        landed = await pending
    assert answered_while_hashing == [True] and landed.url.path == "/"


async def test_forwarded_address_counts_only_from_a_trusted_proxy(database_url: str) -> None:
    username = await admin_user()
    proxied = replace(CONFIG, trusted_proxies=(ip_network("127.0.0.0/8"),))
    for config in (CONFIG, proxied):
        async with admin_site(config) as client:
            client.session.headers["X-Forwarded-For"] = f"{ATTACKER}, ::ffff:127.0.0.5"
            page = await (await log_in(client, username, "Wrong-pass-999")).text()
            assert zh(auth.WRONG_CREDENTIALS) in page
    addresses = await AuditLog.filter(action="auth.login_failed").order_by("id").values_list(
        "detail", flat=True)
    assert [d["address"] for d in addresses] == ["127.0.0.1", ATTACKER]


async def test_guessing_the_current_password_on_the_change_form_is_throttled(
        database_url: str, test_clock: SteadyClock) -> None:
    username = await admin_user()
    new = "Fresh-pass-4242"
    form = {"current": "Wrong-pass-999", "new": new, "repeat": new}
    async with admin_site() as client:
        await log_in(client, username)
        wrong = [await submit(client, "/password", form, page="/password") for _ in range(5)]
        locked = await submit(client, "/password", form | {"current": PASSWORD},
                              page="/password")
        locked_text = await locked.text()
        at_log_in = await refusal(username, PASSWORD, "127.0.0.1")
        test_clock.move_to(utcnow() + timedelta(minutes=16))
        changed = await submit(client, "/password", form | {"current": PASSWORD},
                               page="/password")
    assert [sent_back(answer, "/password") for answer in wrong] == [True] * 5
    assert sent_back(locked, "/password") and zh(auth.CHANGE_LOCKED, minutes=15) in locked_text
    assert at_log_in.key == auth.TOO_MANY_FAILURES
    assert changed.url.path == "/"
    failed = await AuditLog.filter(action="auth.password_change_failed").values_list(
        "detail", flat=True)
    assert failed == [{"address": "127.0.0.1"}] * 5
    assert await AuditLog.filter(action="auth.password_change_locked").count() == 1
