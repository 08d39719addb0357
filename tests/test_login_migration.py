"""Migration 0015: web log-ins from before password ageing get a start for their age, their
one-time state and the first row of their password history."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from tortoise import connections

from domain.migration_support import start_password_clocks
from domain.models import Role, WebCredential
from domain.models.orgs import PasswordHistory
from domain.people import auth, staff
from domain.platform.actors import actor_for
from domain.platform.clock import utcnow
from tests.admin_support import PASSWORD
from tests.clock_support import SteadyClock
from tests.factories import ROOT, org_tree, person


async def test_earlier_log_ins_start_their_password_age_at_the_upgrade(
        database_url: str, test_clock: SteadyClock) -> None:
    ids = await org_tree()
    waiting, _ = await person(ids["province"], Role.SYSADMIN, no="S001")
    changed, _ = await person(ids["province"], Role.OPS_ADMIN, no="S002")
    await staff.grant_web_login(ROOT, waiting.id, "waiting")
    initial = await staff.grant_web_login(ROOT, changed.id, "changed")
    await auth.change_password(await actor_for(changed), initial, PASSWORD, PASSWORD)
    await PasswordHistory.all().delete()  # as 0014 left them: no history, no dates
    await WebCredential.all().update(one_time_password=False, password_changed_at=None)
    test_clock.move_to(utcnow() + timedelta(days=30))
    upgrade = utcnow()
    await start_password_clocks(None, SimpleNamespace(client=connections.get("default")))
    rows = {c.username: c for c in await WebCredential.all()}
    assert (rows["waiting"].one_time_password, rows["changed"].one_time_password) == (
        True, False)
    assert all(upgrade <= c.password_changed_at <= utcnow() for c in rows.values())
    history = await PasswordHistory.all().values_list("credential_id", "password_hash")
    assert sorted(history) == sorted((c.id, c.password_hash) for c in rows.values())
