"""A page per person (issue 16): the history a supervisor looks for first — roles and org,
qualifications, tablet and tail box, cases with outcomes, incidents, off-site audit findings,
callbacks of his cases and the audit-log lines about him. Read only; each part within the
reader's org scope, and the audit lines only for whom may read the audit log (S3)."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q
from tortoise.functions import Count

from domain.models import (
    Callback,
    Case,
    CaseAudit,
    Device,
    DeviceState,
    Incident,
    Qualification,
    Role,
    Staff,
    TailBox,
)
from domain.oversight.audit_words import AuditLine, audit_lines
from domain.people.staff import NO_SUCH_STAFF
from domain.platform import audit
from domain.platform.access import Permission, can, require_scope
from domain.platform.actors import Actor
from domain.platform.errors import N_, NotFound, PermissionDenied
from domain.vouchers.tail_boxes import expected_in_box

# Who reads another person's page; anyone reads his own.
READERS = frozenset({Role.SUPERVISOR, Role.OPS_ADMIN, Role.AUDITOR})
LATEST = 10
NOT_YOURS = N_("You may open only your own person page.")


@dataclass(frozen=True)
class BoxView:
    """The tail box a person holds: its id, tablet, frozen flag and balance by voucher type."""

    box_id: int
    asset_tag: str
    frozen: bool
    balance: dict[str, int]


@dataclass(frozen=True)
class PersonHistory:
    """Everything the person page shows about one staff member."""

    staff: Staff
    roles: tuple[str, ...]
    qualifications: list[Qualification]
    devices: list[Device]
    boxes: list[BoxView]
    case_counts: dict[str, int]
    latest_cases: list[Case]
    incidents: list[Incident]
    findings: list[CaseAudit]
    callbacks: list[Callback]
    audit_lines: list[AuditLine] | None


def reads_people(actor: Actor) -> bool:
    """True when the actor may open the pages of the people in his org subtree."""
    return actor.has(*READERS)


async def readable_person(actor: Actor, staff_id: int) -> Staff:
    """The staff member whose page the actor may open: himself, or anyone of his org subtree
    for a supervisor, operations management or an auditor; refused otherwise, and NotFound
    outside the subtree."""
    staff = await Staff.get_or_none(id=staff_id).prefetch_related("org", "roles")
    if staff is None:
        raise NotFound(NO_SUCH_STAFF)
    if actor.staff_id == staff.id:
        return staff
    if not reads_people(actor):
        raise PermissionDenied(NOT_YOURS)
    require_scope(actor, staff.org, NO_SUCH_STAFF)
    return staff


async def _boxes(staff_id: int) -> list[BoxView]:
    boxes = await TailBox.filter(holder_id=staff_id).prefetch_related("device")
    return [BoxView(box.id, box.device.asset_tag, box.frozen, await expected_in_box(box.id))
            for box in boxes]


async def _about(actor: Actor, staff_id: int) -> list[AuditLine] | None:
    """The newest audit rows by or about the person, for whom may read the audit log."""
    if not can(actor, Permission.AUDIT_VIEW):
        return None
    rows = await audit.search(actor, audit.AuditFilter(person_id=staff_id), limit=LATEST * 2)
    return await audit_lines(rows)


async def person_history(actor: Actor, staff_id: int) -> PersonHistory:
    """One person's history as his page shows it (issue 16)."""
    staff = await readable_person(actor, staff_id)
    counts = await Case.filter(agent_id=staff.id).annotate(n=Count("id")).group_by(
        "status").values("status", "n")
    return PersonHistory(
        staff=staff, roles=tuple(sorted(r.role.value for r in staff.roles)),
        qualifications=await Qualification.filter(staff_id=staff.id).prefetch_related(
            "business_type").order_by("business_type__code"),
        devices=await Device.filter(holder_id=staff.id, state=DeviceState.ISSUED),
        boxes=await _boxes(staff.id),
        case_counts={str(row["status"]): row["n"] for row in counts},
        latest_cases=await Case.filter(agent_id=staff.id).exclude(case_no=None).prefetch_related(
            "business_type").order_by("-id").limit(LATEST),
        incidents=await Incident.filter(staff_id=staff.id).order_by("-id").limit(LATEST),
        findings=await CaseAudit.filter(
            Q(field_agent_id=staff.id) | Q(reviewer_id=staff.id), audited_at__isnull=False,
        ).prefetch_related("case").order_by("-id").limit(LATEST),
        callbacks=await Callback.filter(field_agent_id=staff.id).prefetch_related(
            "case").order_by("-id").limit(LATEST),
        audit_lines=await _about(actor, staff.id),
    )
