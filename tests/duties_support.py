"""Separation-of-duties test helpers: a scenario queuing every notice of role grants and of
the reveal alert (S2)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from domain.cases import case_summaries
from domain.models import ChatBinding, Role, RoleGrant, Staff
from domain.people import role_grants, staff
from domain.platform.clock import utcnow
from domain.platform.privacy import RevealLimits
from tests.factories import person
from tests.review_support import build_desk, submitted_case


async def grants_and_reveals(tmp_path: Path) -> None:
    """A privileged role asked by one sysadmin and approved by another, another one left to
    lapse; a one-time password sent to a person's chat; a reviewer reaching the reveal alert
    mark."""
    desk = await build_desk(tmp_path)
    _, maker = await person(desk.ids["province"], Role.SYSADMIN, no="Y001")
    _, checker = await person(desk.ids["province"], Role.SYSADMIN, no="Y002")
    member, _ = await person(desk.ids["branch_a"], Role.SUPERVISOR, no="M001")
    await staff.update_staff(maker, member.id, staff.StaffForm(
        "M001", member.name, desk.ids["branch_a"], frozenset({Role.SUPERVISOR, Role.REVIEWER})))
    grant = await RoleGrant.get(staff=member)
    await role_grants.approve(checker, member.id, grant.id)
    await staff.update_staff(maker, member.id, staff.StaffForm(
        "M001", member.name, desk.ids["branch_a"],
        frozenset({Role.SUPERVISOR, Role.REVIEWER, Role.OPS_ADMIN})))
    await role_grants.sweep_lapsed_grants(utcnow() + role_grants.GRANT_LIFETIME
                                          + timedelta(minutes=1))
    await bound_to_telegram(member)
    await staff.issue_web_login(maker, member.id, "m001")
    ctx = replace(desk.ctx, reveal_limits=RevealLimits(per_hour=5, alert_from=1))
    case = await submitted_case(desk)
    await case_summaries.reveal_customer(desk.reviewer, case.id, ctx)


async def bound_to_telegram(member: Staff) -> ChatBinding:
    """A Telegram chat binding of a staff member, as the bind code would leave it (Q6)."""
    return await ChatBinding.create(staff=member, channel="telegram",
                                    external_user_id=f"70{member.id:04d}",
                                    chat_id=f"70{member.id:04d}", bound_at=utcnow())
