"""Separation-of-duties test helpers: a scenario queuing every notice of role grants and of
the reveal alert (S2)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from domain.cases import case_summaries
from domain.models import Role, RoleGrant
from domain.people import role_grants, staff
from domain.platform.privacy import RevealLimits
from tests.factories import person
from tests.review_support import build_desk, submitted_case


async def grants_and_reveals(tmp_path: Path) -> None:
    """A privileged role asked by one sysadmin and approved by another; a reviewer reaching
    the reveal alert mark."""
    desk = await build_desk(tmp_path)
    _, maker = await person(desk.ids["province"], Role.SYSADMIN, no="Y001")
    _, checker = await person(desk.ids["province"], Role.SYSADMIN, no="Y002")
    member, _ = await person(desk.ids["branch_a"], Role.SUPERVISOR, no="M001")
    await staff.update_staff(maker, member.id, staff.StaffForm(
        "M001", member.name, desk.ids["branch_a"], frozenset({Role.SUPERVISOR, Role.REVIEWER})))
    grant = await RoleGrant.get(staff=member)
    await role_grants.approve(checker, member.id, grant.id)
    ctx = replace(desk.ctx, reveal_limits=RevealLimits(per_hour=5, alert_from=1))
    case = await submitted_case(desk)
    await case_summaries.reveal_customer(desk.reviewer, case.id, ctx)
