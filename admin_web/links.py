"""Notification intents on the admin site: the link to each subject's page.

The one table of the admin: which page shows each kind of subject a notice is about, and who
may open it. The `open` action of a chat notice leads there; the admin's own notices (the
bell, issue 16) and the outbox page link their subjects there for those who may read them.
A kind of the domain offering `open` on a subject without a page stops the site at import,
so a gap shows at start-up and in the tests.
"""

from __future__ import annotations

from domain.platform.access import Permission, can
from domain.platform.actors import Actor
from domain.platform.intents import KINDS, Action, Intent, Kind, Subject, SubjectType

_T, _P = SubjectType, Permission
PAGES: dict[SubjectType, tuple[str, Permission]] = {
    _T.CASE: ("/cases/{id}", _P.CASE_VIEW),
    _T.CALLBACK: ("/callbacks/{id}", _P.CALLBACK_VIEW),
    _T.SPECIAL_APPROVAL: ("/special-approvals", _P.SPECIAL_APPROVAL_VIEW),
    _T.STAFF: ("/staff/{id}", _P.STAFF_VIEW),
    _T.DEVICE: ("/devices/{id}", _P.DEVICE_VIEW),
    _T.INCIDENT: ("/incidents", _P.INCIDENT_VIEW),
    _T.QUALIFICATION: ("/qualifications", _P.QUALIFICATION_VIEW),
    _T.VOID_REQUEST: ("/vouchers/voids", _P.VOUCHER_VIEW),
    _T.TAIL_BOX: ("/vouchers/boxes/{id}", _P.VOUCHER_VIEW),
    _T.MIS_ISSUE: ("/vouchers/mis-issues", _P.VOUCHER_VIEW),
    _T.BOX_COUNT: ("/vouchers/counts", _P.VOUCHER_VIEW),
    _T.INSPECTION: ("/inspections/{id}", _P.INSPECTION_VIEW),
}


def open_link(intent: Intent | None) -> str | None:
    """The page the intent's `open` action leads to; None when it offers none."""
    if intent is None or Action.OPEN not in intent.actions:
        return None
    return PAGES[intent.subject.type][0].format(id=intent.subject.id)


def subject_link(actor: Actor, subject: Subject) -> str | None:
    """The page of a notice's subject, None when there is none or the actor may not read it."""
    page = PAGES.get(subject.type)
    if page is None or not can(actor, page[1]):
        return None
    return page[0].format(id=subject.id)


def unlinked(kinds: dict[str, Kind]) -> list[str]:
    """Kinds of `kinds` offering `open` on a subject that has no page here."""
    return [kind.name for kind in kinds.values()
            if Action.OPEN in kind.actions and kind.subject not in PAGES]


if _gaps := unlinked(KINDS):
    raise RuntimeError(f"notifications offer to open a subject without a page: {_gaps}")
