"""What each role works with in the admin: its menu and its dashboard areas (DESIGN.md §1).

A permission (domain/platform/access.py) says what a role may open; this table says what
it uses, so the menu and the dashboard show each role its own work and not every page it
could read (every web role may read the org tree, yet only those who keep orgs, caps or
audits need it in the menu). A person with several roles sees the union; an entry shows
only when the permission allows it as well.

Per role (the menu also has Dashboard for every web role; areas are dashboard sections):

reviewer        menu: Chat, Review queue
                areas: Cases today
supervisor      menu: Chat, Staff, Review queue, Special approvals, Qualifications, Devices,
                      Vouchers, Incidents, Inspections, Callbacks
                areas: Cases today, Vouchers, Inspections and callbacks, Ledgers
business_head   menu: Vouchers (void signatures)
                areas: Vouchers
ops_admin       menu: Organisations (caps), Staff, Review queue, Special approvals,
                      Qualifications, Devices, Vouchers, Incidents, Inspections, Callbacks,
                      Off-site audit, Business types, Review reasons
                areas: Cases today, Vouchers, Inspections and callbacks, Ledgers
it_admin        menu: Staff (whom to issue tablets), Devices, Incidents
                areas: Ledgers
callback_agent  menu: Callbacks
                areas: Inspections and callbacks (only its callbacks show)
auditor         menu: Organisations, Staff, Review queue, Special approvals, Qualifications,
                      Devices, Vouchers, Incidents, Inspections, Callbacks, Off-site audit,
                      Audit log
                areas: Cases today, Vouchers, Inspections and callbacks, Ledgers
sysadmin        menu: Organisations, Staff, Audit log, Outbox
                areas: Administration
field_agent     menu: Chat (no dashboard: the admin sends him to the chat)
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.models import Role
from domain.platform.access import Permission, can
from domain.platform.actors import Actor
from domain.platform.errors import N_

R = Role
OVERSIGHT = frozenset({R.SUPERVISOR, R.OPS_ADMIN, R.AUDITOR})
CASES = N_("Cases today")
VOUCHERS = N_("Vouchers")
CALENDAR = N_("Inspections and callbacks")
LEDGERS = N_("Ledgers")
ADMINISTRATION = N_("Administration")
AREA_ROLES: dict[str, frozenset[Role]] = {
    CASES: OVERSIGHT | {R.REVIEWER},
    VOUCHERS: OVERSIGHT | {R.BUSINESS_HEAD},
    CALENDAR: OVERSIGHT | {R.CALLBACK_AGENT},
    LEDGERS: OVERSIGHT | {R.IT_ADMIN},
    ADMINISTRATION: frozenset({R.SYSADMIN}),
}


@dataclass(frozen=True)
class MenuItem:
    """One menu entry: where it goes, its label msgid, what opens it (None: any log-in) and
    who uses it."""

    href: str
    label: str
    permission: Permission | None
    roles: frozenset[Role]


def _item(href: str, label: str, permission: Permission | None, *roles: Role) -> MenuItem:
    return MenuItem(href, label, permission, frozenset(roles))


P = Permission
MENU: tuple[MenuItem, ...] = (
    _item("/", N_("Dashboard"), P.DASHBOARD_VIEW, *Role),
    _item("/chat", N_("Chat"), None, R.FIELD_AGENT, R.REVIEWER, R.SUPERVISOR),
    _item("/orgs", N_("Organisations"), P.ORG_VIEW, R.SYSADMIN, R.OPS_ADMIN, R.AUDITOR),
    _item("/staff", N_("Staff"), P.STAFF_VIEW, R.SYSADMIN, R.IT_ADMIN, *OVERSIGHT),
    _item("/cases", N_("Review queue"), P.CASE_VIEW, R.REVIEWER, *OVERSIGHT),
    _item("/special-approvals", N_("Special approvals"), P.SPECIAL_APPROVAL_VIEW, *OVERSIGHT),
    _item("/qualifications", N_("Qualifications"), P.QUALIFICATION_VIEW, *OVERSIGHT),
    _item("/devices", N_("Devices"), P.DEVICE_VIEW, R.IT_ADMIN, *OVERSIGHT),
    _item("/vouchers", N_("Vouchers"), P.VOUCHER_VIEW, R.BUSINESS_HEAD, *OVERSIGHT),
    _item("/incidents", N_("Incidents"), P.INCIDENT_VIEW, R.IT_ADMIN, *OVERSIGHT),
    _item("/inspections", N_("Inspections"), P.INSPECTION_VIEW, *OVERSIGHT),
    _item("/callbacks", N_("Callbacks"), P.CALLBACK_VIEW, R.CALLBACK_AGENT, *OVERSIGHT),
    _item("/case-audits", N_("Off-site audit"), P.CASE_AUDIT_VIEW, R.AUDITOR, R.OPS_ADMIN),
    _item("/business-types", N_("Business types"), P.BUSINESS_TYPE_VIEW, R.OPS_ADMIN),
    _item("/review-reasons", N_("Review reasons"), P.CASE_VIEW, R.OPS_ADMIN),
    _item("/audit", N_("Audit log"), P.AUDIT_VIEW, R.AUDITOR, R.SYSADMIN),
    _item("/outbox", N_("Outbox"), P.OUTBOX_VIEW, R.SYSADMIN),
)


def menu_for(actor: Actor | None) -> list[MenuItem]:
    """The menu entries the actor uses and may open, in menu order."""
    if actor is None:
        return []
    return [item for item in MENU if actor.has(*item.roles)
            and (item.permission is None or can(actor, item.permission))]


def areas_for(actor: Actor) -> frozenset[str]:
    """The dashboard areas (their caption msgids) the actor's roles work with."""
    return frozenset(area for area, roles in AREA_ROLES.items() if actor.has(*roles))
