"""Separation of duties: the roles one person may not hold together and why, and the roles
whose grant takes a second system administrator (DESIGN §3 Access and duties, S2)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from domain.models import Role
from domain.platform.errors import N_, DomainError
from locales import translate

ROLE_LABELS: dict[Role, str] = {
    Role.FIELD_AGENT: N_("Field agent"),
    Role.REVIEWER: N_("Central reviewer"),
    Role.SUPERVISOR: N_("Branch operations supervisor"),
    Role.BUSINESS_HEAD: N_("Business department head"),
    Role.OPS_ADMIN: N_("Operations management"),
    Role.IT_ADMIN: N_("IT department"),
    Role.CALLBACK_AGENT: N_("Callback agent"),
    Role.AUDITOR: N_("Auditor"),
    Role.SYSADMIN: N_("System administrator"),
}


def role_name(role: Role | str, locale: str) -> str:
    """A role as people read it, in their language, never its key (S2)."""
    return translate(locale, ROLE_LABELS[Role(role)])


@dataclass(frozen=True)
class Incompatibility:
    """Two roles one person may not hold together; `reason` is also the refusal message."""

    first: Role
    second: Role
    reason: str

    def within(self, roles: Iterable[Role]) -> bool:
        """True when `roles` hold both roles of the pair."""
        held = set(roles)
        return self.first in held and self.second in held


# Roles whose holder can approve, decide, read customer data or hand out power: granting
# one takes a second system administrator (maker-checker, like the void's two signatures).
PRIVILEGED: frozenset[Role] = frozenset(
    {Role.SYSADMIN, Role.OPS_ADMIN, Role.AUDITOR, Role.REVIEWER}
)
# Roles that do or run the business the auditor checks.
OPERATING: tuple[Role, ...] = (
    Role.SUPERVISOR, Role.BUSINESS_HEAD, Role.OPS_ADMIN, Role.IT_ADMIN, Role.CALLBACK_AGENT,
)

SYSADMIN_NO_BUSINESS = N_("A system administrator holds no business role: whoever creates "
                          "accounts and grants roles must not use them.")
AUDIT_INDEPENDENT = N_("An auditor holds no operating role: audit is independent of the work "
                       "it checks (K3).")

INCOMPATIBLE: tuple[Incompatibility, ...] = (
    *(Incompatibility(Role.SYSADMIN, role, SYSADMIN_NO_BUSINESS)
      for role in Role if role != Role.SYSADMIN),
    Incompatibility(Role.FIELD_AGENT, Role.REVIEWER, N_(
        "A field agent cannot be a central reviewer: he would decide the cases he captured "
        "(C3, C6).")),
    Incompatibility(Role.FIELD_AGENT, Role.CALLBACK_AGENT, N_(
        "A field agent cannot be a callback agent: he would confirm his own business with his "
        "own customers (K1).")),
    Incompatibility(Role.FIELD_AGENT, Role.AUDITOR, N_(
        "A field agent cannot be an auditor: he would audit the cases he captured (K3).")),
    Incompatibility(Role.REVIEWER, Role.AUDITOR, N_(
        "A central reviewer cannot be an auditor: he would audit his own decisions (K3).")),
    Incompatibility(Role.REVIEWER, Role.CALLBACK_AGENT, N_(
        "A central reviewer cannot be a callback agent: the callback confirms the business "
        "the reviewer approved was real (K1).")),
    Incompatibility(Role.BUSINESS_HEAD, Role.OPS_ADMIN, N_(
        "A business department head cannot be in operations management: a void takes one "
        "signature from each of them (V6).")),
    Incompatibility(Role.IT_ADMIN, Role.OPS_ADMIN, N_(
        "The IT department cannot be operations management: one person could register a "
        "device and fill its tail box with vouchers (D1, V1).")),
    *(Incompatibility(Role.AUDITOR, role, AUDIT_INDEPENDENT) for role in OPERATING),
)


def conflicts(roles: Iterable[Role]) -> list[Incompatibility]:
    """The pairs of the table that `roles` hold together."""
    held = frozenset(roles)
    return [pair for pair in INCOMPATIBLE if pair.within(held)]


def require_compatible(roles: Iterable[Role]) -> None:
    """Refuse a set of roles one person may not hold together (S2)."""
    if found := conflicts(roles):
        raise DomainError(found[0].reason)


def privileged(roles: Iterable[Role]) -> frozenset[Role]:
    """The roles among `roles` whose grant takes a second system administrator (S2)."""
    return frozenset(roles) & PRIVILEGED
