"""A page per person (issue 16): his roles, qualifications, tablet and box, cases with
outcomes, incidents, audit findings, callbacks and the audit lines about him."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from admin_web.i18n import current_locale, status_text
from admin_web.i18n import gettext as _
from admin_web.pages import actor_of, render
from admin_web.params import path_id
from admin_web.views.callbacks import OUTCOME_LABELS
from admin_web.views.incidents import KIND_LABELS
from domain.models import (
    AuditErrorCode,
    CallbackStatus,
    CaseStatus,
    IncidentKind,
    IncidentStatus,
    QualificationStatus,
)
from domain.oversight.case_audits import ERROR_LABELS
from domain.oversight.person_history import person_history
from domain.vouchers.voucher_names import type_names


def labels() -> dict[str, object]:
    """The state and kind names the person page shows."""
    return {
        "case_state": partial(status_text, CaseStatus),
        "qualification_state": partial(status_text, QualificationStatus),
        "incident_state": partial(status_text, IncidentStatus),
        "callback_state": partial(status_text, CallbackStatus),
        "incident_kind": lambda value: _(KIND_LABELS[IncidentKind(value)]),
        "outcome": lambda value: _(OUTCOME_LABELS[value]) if value in OUTCOME_LABELS else "—",
        "finding": lambda value: _(ERROR_LABELS[AuditErrorCode(value)]) if value else "—",
    }


async def person_page(request: web.Request) -> web.Response:
    """One person's history, for his supervisors, operations management, auditors and
    himself; the service checks who may read it."""
    history = await person_history(actor_of(request), path_id(request, "staff_id"))
    context = {"person": history, "type_names": await type_names(current_locale())}
    return await render(request, "people/person.html", context | labels())
