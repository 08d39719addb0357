"""The case file: the masked summary, the photos of every revision, the decisions and the
timeline a case viewer or the case's own agent opens, every look audited (C6, C9, C10)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from domain.cases import review_photos
from domain.cases.capture_gate import CaptureContext
from domain.cases.case_summaries import CaseSummary, case_summary, visible_case
from domain.cases.review import awaiting_second_approval
from domain.models import Case, CaseDecision, CaseEvent, CasePhoto
from domain.platform import audit
from domain.platform.actors import Actor
from domain.platform.errors import N_, NotFound, PermissionDenied

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
NO_PHOTO = N_("No such photo.")


@dataclass(frozen=True)
class PhotoView:
    """One stored photo of a case as the case page lists it."""

    photo_id: int
    kind: str
    revision: int
    sha256: str
    width: int
    height: int
    uploaded_at: datetime


@dataclass(frozen=True)
class DecisionView:
    """One decision on the case page."""

    kind: str
    revision: int
    reviewer_name: str
    reason_codes: tuple[str, ...]
    retake_items: tuple[str, ...]
    note: str
    decided_at: datetime


@dataclass(frozen=True)
class CaseDetail:
    """Everything the case page shows: masked summary, photos of every revision, timeline."""

    summary: CaseSummary
    agent_name: str
    org_name: str
    claimed_by_id: int | None
    claimed_by_name: str
    first_approved_by_id: int | None
    first_approved_by_name: str
    awaiting_second_approval: bool
    four_eyes: bool
    retake_items: tuple[str, ...]
    photos: tuple[PhotoView, ...]
    events: tuple[CaseEvent, ...]
    decisions: tuple[DecisionView, ...]


async def case_detail(actor: Actor, case_id: int, ctx: CaptureContext) -> CaseDetail:
    """The case page for a case viewer of its org subtree or its own agent (C6, C10)."""
    summary = await case_summary(actor, case_id, ctx)
    case = await Case.get(id=case_id).prefetch_related(
        "agent", "org", "claimed_by", "first_approved_by", "business_type")
    photos = await CasePhoto.filter(case_id=case.id).order_by("revision", "id")
    events = await CaseEvent.filter(case_id=case.id).order_by("id")
    decisions = await CaseDecision.filter(case_id=case.id).prefetch_related("reviewer").order_by(
        "id")
    async with in_transaction():
        await audit.record(actor, "case.view", "case", case.id,
                           org_id=case.org_id,  # type: ignore[attr-defined]
                           detail={"case_no": case.case_no})
        await review_photos.note_photos_viewed(actor, case)  # the page shows them (C6)
    return CaseDetail(
        summary=summary, agent_name=case.agent.name, org_name=case.org.name,
        claimed_by_id=case.claimed_by_id,  # type: ignore[attr-defined]
        claimed_by_name=case.claimed_by.name if case.claimed_by else "",
        first_approved_by_id=case.first_approved_by_id,  # type: ignore[attr-defined]
        first_approved_by_name=case.first_approved_by.name if case.first_approved_by else "",
        awaiting_second_approval=awaiting_second_approval(case),
        four_eyes=case.business_type.four_eyes, retake_items=tuple(case.retake_items),
        photos=tuple(PhotoView(p.id, p.kind.value, p.revision, p.sha256, p.width, p.height,
                               p.uploaded_at) for p in photos),
        events=tuple(events),
        decisions=tuple(DecisionView(d.kind.value, d.revision, d.reviewer.name,
                                     tuple(d.reason_codes), tuple(d.retake_items), d.note,
                                     d.decided_at) for d in decisions),
    )


async def photo_for(actor: Actor, case_id: int, sha256: str) -> CasePhoto:
    """A photo of a case the actor may see; NotFound for anything else (C9, C10)."""
    if not SHA256_HEX.fullmatch(sha256):
        raise NotFound(NO_PHOTO)
    try:
        case = await visible_case(actor, case_id)
    except (NotFound, PermissionDenied):
        raise NotFound(NO_PHOTO) from None
    photo = await CasePhoto.filter(case_id=case.id, sha256=sha256).first()
    if photo is None:
        raise NotFound(NO_PHOTO)
    return photo
