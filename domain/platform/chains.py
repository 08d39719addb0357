"""The org chain: an org and every org above it, and the staff of given roles along it, the
people a notice, a signature or an escalation goes to (D3, S1, V6)."""

from __future__ import annotations

from domain.models import Org, Role, Staff


def chain_paths(org: Org) -> list[str]:
    """The paths of an org and of every org above it, e.g. /1/, /1/4/, /1/4/9/."""
    ids = [part for part in org.path.split("/") if part]
    return ["/" + "/".join(ids[:n]) + "/" for n in range(1, len(ids) + 1)]


async def staff_in_chain(org: Org, *roles: Role) -> list[Staff]:
    """Active staff holding one of the roles whose org contains `org` (its org chain)."""
    rows = await Staff.filter(active=True, roles__role__in=list(roles),
                              org__path__in=chain_paths(org)).order_by("id")
    return list({row.id: row for row in rows}.values())
