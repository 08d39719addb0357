"""Independence at work: nobody audits or calls back a case he captured, reviewed or holds
(DESIGN §3 Access and duties, S2)."""

from __future__ import annotations

from typing import Any

from domain.models import Case, CaseDecision
from domain.platform.actors import Actor
from domain.platform.errors import PermissionDenied


async def hands_on(case_id: int) -> set[int]:
    """The staff who captured the case, claimed it for review or decided any revision."""
    people: set[int | None] = set()
    for row in await Case.filter(id=case_id).values_list("agent_id", "claimed_by_id"):
        people.update(row)
    people.update(await CaseDecision.filter(case_id=case_id).values_list("reviewer_id",
                                                                         flat=True))
    return {staff_id for staff_id in people if staff_id is not None}


async def require_independent(actor: Actor, case_id: int, refusal: str, **params: Any) -> None:
    """Refuse the actor's check of a case he captured, reviewed or holds (S2)."""
    if actor.staff_id is not None and actor.staff_id in await hands_on(case_id):
        raise PermissionDenied(refusal, **params)
