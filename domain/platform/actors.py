"""Who acts: a staff member (with roles loaded) or the system itself."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from domain.models import Org, Role, Staff


class Person(Protocol):
    """Anything that names a person the way staff are named: employee number and name."""

    employee_no: str
    name: str


def person_label(person: Person | None, missing: str = "") -> str:
    """How a person is named to users: employee number, then name; `missing` for nobody."""
    return f"{person.employee_no} {person.name}" if person is not None else missing


@dataclass(frozen=True)
class Actor:
    """The acting person as the services see it: id, org scope and roles."""

    staff_id: int | None
    label: str
    org_id: int | None = None
    org_path: str = "/"
    roles: frozenset[Role] = field(default_factory=frozenset)

    @property
    def is_system(self) -> bool:
        return self.staff_id is None

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))


def system_actor(name: str) -> Actor:
    """An actor for the scheduler, the CLI or the dispatcher: all scope, no person."""
    return Actor(staff_id=None, label=f"system:{name}", roles=frozenset({Role.SYSADMIN}))


async def actor_for(staff: Staff) -> Actor:
    """Load the roles and org path of a staff member into an `Actor`."""
    org = await Org.get(id=staff.org_id)  # type: ignore[attr-defined]
    return actor_of(staff, org, await staff.roles.all().values_list("role", flat=True))


def actor_of(staff: Staff, org: Org, roles: Iterable[str]) -> Actor:
    """The `Actor` of a staff member whose org and roles are already loaded."""
    return Actor(
        staff_id=staff.id,
        label=person_label(staff),
        org_id=org.id,
        org_path=org.path,
        roles=frozenset(Role(r) for r in roles),
    )
