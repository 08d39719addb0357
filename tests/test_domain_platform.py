"""Domain services of the platform: orgs, staff, bind codes, log-in, audit chain, outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.models import AuditLog, BindCode, OrgLevel, OutboxMessage, Role
from domain.people import auth, binding, orgs, staff
from domain.platform import audit, leases, outbox
from domain.platform.clock import utcnow
from domain.platform.errors import DomainError, NotFound
from domain.platform.intents import Intent
from tests.audit_support import owner_rights
from tests.clock_support import SteadyClock
from tests.factories import ROOT, org_tree, person, web_user


async def test_org_tree_levels_follow_the_parent(database_url: str) -> None:
    ids = await org_tree()
    outlet = await orgs.get_org(ROOT, ids["outlet_a"])
    assert outlet.level == OrgLevel.OUTLET
    assert outlet.path.startswith((await orgs.get_org(ROOT, ids["branch_a"])).path)
    with pytest.raises(DomainError) as refused:
        await orgs.create_org(ROOT, code="X", name="x", parent_id=ids["outlet_a"])
    assert refused.value.key == "An outlet cannot have child organisations."


async def test_auditor_sees_only_own_subtree(database_url: str) -> None:
    ids = await org_tree()
    _, auditor = await person(ids["branch_a"], Role.AUDITOR, no="A1")
    await person(ids["outlet_b"], Role.FIELD_AGENT, no="F2")
    visible = {o.code for o in await orgs.list_orgs(auditor)}
    assert visible == {"Ba", "Sa", "Oa"}
    with pytest.raises(NotFound):
        await orgs.get_org(auditor, ids["outlet_b"])
    assert [s.employee_no for s in await staff.list_staff(auditor)] == ["A1"]


async def test_bind_code_is_single_use_and_expires(database_url: str) -> None:
    ids = await org_tree()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    code, _ = await binding.issue_bind_code(ROOT, agent.id)
    bound = await binding.bind_chat("telegram", "1001", "1001", code.lower())
    assert bound.id == agent.id
    with pytest.raises(DomainError) as reused:
        await binding.bind_chat("telegram", "1002", "1002", code)
    assert "already been used" in reused.value.key

    expired, row = await binding.issue_bind_code(ROOT, agent.id)
    await BindCode.filter(id=row.id).update(expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(DomainError) as late:
        await binding.bind_chat("telegram", "1002", "1002", expired)
    assert "expired" in late.value.key


async def test_one_chat_account_per_staff_and_channel(database_url: str) -> None:
    ids = await org_tree()
    first, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    second, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F2")
    await binding.bind_chat("telegram", "1001", "1001", (await binding.issue_bind_code(
        ROOT, first.id))[0])
    other_code, _ = await binding.issue_bind_code(ROOT, second.id)
    with pytest.raises(DomainError) as taken:
        await binding.bind_chat("telegram", "1001", "1001", other_code)
    assert "another staff member" in taken.value.key
    with pytest.raises(DomainError) as second_account:
        await binding.bind_chat("telegram", "2002", "2002", (await binding.issue_bind_code(
            ROOT, first.id))[0])
    assert second_account.value.key == binding.SECOND_ACCOUNT
    await binding.unbind_chat(ROOT, first.id, "telegram")
    await binding.bind_chat("telegram", "2002", "2002", (await binding.issue_bind_code(
        ROOT, first.id))[0])
    assert await binding.bound_staff("telegram", "1001") is None
    assert (await binding.bound_staff("telegram", "2002")).id == first.id


async def test_deactivated_staff_cannot_bind(database_url: str) -> None:
    ids = await org_tree()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    code, _ = await binding.issue_bind_code(ROOT, agent.id)
    await staff.set_active(ROOT, agent.id, False)
    with pytest.raises(DomainError) as refused:
        await binding.bind_chat("telegram", "1001", "1001", code)
    assert "replaced" in refused.value.key or "deactivated" in refused.value.key


async def test_five_failed_logins_lock_the_account(database_url: str,
                                                   test_clock: SteadyClock) -> None:
    ids = await org_tree()
    _, username = await web_user(ids["province"], Role.SYSADMIN, no="S1")
    for _ in range(5):
        with pytest.raises(auth.LoginRefused):
            await auth.authenticate(username, "wrong-password-1")
    with pytest.raises(auth.LoginRefused) as locked:
        await auth.authenticate(username, "Secret-pass-123")
    assert "Too many failed log-ins" in locked.value.key
    assert locked.value.params["minutes"] == 15
    test_clock.move_to(utcnow() + timedelta(minutes=15))
    actor, must_change = await auth.authenticate(username, "Secret-pass-123")
    assert actor.has(Role.SYSADMIN) and not must_change
    actions = await AuditLog.all().values_list("action", flat=True)
    assert actions.count("auth.login_failed") == 5
    assert "auth.login_locked" in actions


async def test_audit_verify_finds_the_edited_row(database_url: str) -> None:
    await org_tree()
    intact = await audit.verify_chain()
    assert intact.checked == 7 and intact.broken is None
    row = await AuditLog.filter(action="org.create").order_by("id").offset(3).first()
    async with owner_rights():
        await AuditLog.filter(id=row.id).update(detail={"code": "forged"})
    broken = (await audit.verify_chain()).broken
    assert broken is not None and broken.row_id == row.id


async def test_audit_verify_finds_a_removed_row(database_url: str) -> None:
    await org_tree()
    row = await AuditLog.all().order_by("id").offset(2).first()
    async with owner_rights():
        await AuditLog.filter(id=row.id).delete()
    broken = (await audit.verify_chain()).broken
    assert broken is not None and broken.row_id == row.id + 1


async def test_outbox_key_is_enqueued_once(database_url: str) -> None:
    ids = await org_tree()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    for _ in range(3):
        await outbox.enqueue(agent.id, "Hello %(name)s", {"name": "x"},
                             intent=Intent.of("staff.roles_changed", agent.id),
                             idempotency_key="k1")
    assert await OutboxMessage.filter(idempotency_key="k1").count() == 1
    claimed = await outbox.claim_due()
    assert [d.message_id for d in claimed] and claimed[0].chat_id is None
    assert await outbox.claim_due() == []


async def test_lease_keeps_a_job_single(database_url: str) -> None:
    ttl = timedelta(minutes=1)
    assert await leases.acquire("sweep", "p1", ttl)
    assert not await leases.acquire("sweep", "p2", ttl)
    assert await leases.acquire("sweep", "p1", ttl)
    await leases.release("sweep", "p1")
    assert await leases.acquire("sweep", "p2", ttl)
