"""The password policy (issue 13, S3, seed 密码定期更改): each weakness, tried and refused."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest

from domain.models import Role
from domain.people import auth, staff
from domain.people.passwords import DEFAULT_POLICY, PasswordPolicy
from domain.platform.actors import Actor, actor_for
from domain.platform.clock import utcnow
from domain.platform.errors import DomainError
from fieldops.bootstrap import bootstrap
from fieldops.settings import SettingsError, load_settings
from tests.admin_support import PASSWORD, admin_site, log_in, submit, zh
from tests.clock_support import SteadyClock
from tests.factories import ROOT, org_tree, person, web_user


async def refused(actor: Actor, current: str, new: str,
                  policy: PasswordPolicy = DEFAULT_POLICY) -> str:
    """The message a password change is refused with."""
    with pytest.raises(DomainError) as refusal:
        await auth.change_password(actor, current, new, new, policy)
    return refusal.value.key


async def sysadmin() -> tuple[Actor, str]:
    """A system admin whose first password change is done; his actor and user name."""
    ids = await org_tree()
    row, username = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    return await actor_for(row), username


@pytest.mark.parametrize(("weak", "rule"), [
    ("aaaaaaaaa1", "mix at least"),
    ("Sh0rt-pw", "at least %(n)d characters"),
    ("Password2026!", "too common"),
    ("Qwerty-123456", "too common"),
    ("My-uS001-Pass-77", "user name"),
])
async def test_weak_passwords_are_refused(database_url: str, weak: str, rule: str) -> None:
    actor, _ = await sysadmin()
    assert rule in await refused(actor, PASSWORD, weak)


async def test_policy_settings_reach_the_check(database_url: str) -> None:
    actor, _ = await sysadmin()
    rules = bootstrap(load_settings(password_min_length=16, password_min_classes=4)).admin.login
    with pytest.raises(DomainError) as short:
        await auth.change_password(actor, PASSWORD, "Longer-pass-123", "Longer-pass-123",
                                   rules.passwords)
    assert short.value.params == {"n": 16}
    assert "mix at least" in await refused(actor, PASSWORD, "longer-pass-12345", rules.passwords)


def test_trusted_proxies_must_be_addresses() -> None:
    with pytest.raises(SettingsError) as bad:
        load_settings(trusted_proxies="10.0.0.1,proxy.example")
    assert str(bad.value).startswith("FIELDOPS_TRUSTED_PROXIES:")
    proxies = load_settings(trusted_proxies="10.0.0.1, 10.1.0.0/16").proxy_networks
    assert [str(network) for network in proxies] == ["10.0.0.1/32", "10.1.0.0/16"]


async def test_none_of_the_last_five_passwords_may_return(database_url: str) -> None:
    actor, _ = await sysadmin()
    used = [PASSWORD] + [f"Rotated-pass-{n}x" for n in range(1, 6)]
    for current, new in pairwise(used):
        await auth.change_password(actor, current, new, new)
    assert "last %(n)d passwords" in await refused(actor, used[-1], used[2])
    await auth.change_password(actor, used[-1], PASSWORD, PASSWORD)


async def test_the_one_time_password_can_never_be_kept(database_url: str) -> None:
    ids = await org_tree()
    row, actor = await person(ids["province"], Role.SYSADMIN, no="S1")
    initial = await staff.grant_web_login(ROOT, row.id, "newadmin")
    assert "differ from the current" in await refused(actor, initial, initial)
    await auth.change_password(actor, initial, PASSWORD, PASSWORD)
    assert "last %(n)d passwords" in await refused(actor, PASSWORD, initial)


async def test_the_one_time_password_expires_after_72_hours(
        database_url: str, test_clock: SteadyClock) -> None:
    ids = await org_tree()
    row, _ = await person(ids["province"], Role.SYSADMIN, no="S1")
    initial = await staff.grant_web_login(ROOT, row.id, "newadmin")
    start = utcnow()
    test_clock.move_to(start + timedelta(hours=71))
    _, must_change = await auth.authenticate("newadmin", initial, "192.0.2.1")
    test_clock.move_to(start + timedelta(hours=72))
    with pytest.raises(auth.LoginRefused) as expired:
        await auth.authenticate("newadmin", initial, "192.0.2.1")
    assert must_change and "one-time password has expired" in expired.value.key


async def test_a_password_older_than_90_days_must_be_changed_at_log_in(
        database_url: str, test_clock: SteadyClock) -> None:
    ids = await org_tree()
    _, username = await web_user(ids["province"], Role.SYSADMIN, no="S1")
    start = utcnow()
    test_clock.move_to(start + timedelta(days=89))
    async with admin_site() as client:
        assert (await log_in(client, username)).url.path == "/"
    test_clock.move_to(start + timedelta(days=90))
    async with admin_site() as client:
        forced = await log_in(client, username)
        page = await forced.text()
        elsewhere = await client.get("/staff")
        new = "Fresh-pass-2027"
        changed = await submit(client, "/password", {"current": PASSWORD, "new": new,
                                                     "repeat": new}, page="/password")
        after = await client.get("/staff")
    assert forced.url.path == "/password" and elsewhere.url.path == "/password"
    assert zh(auth.AGED_CHANGE, days=90) in page
    assert changed.url.path == "/" and after.url.path == "/staff"
