"""Reviewers see before they approve (C6, issue 16): who opened the photos of a revision.

A reviewer approves a revision of a case only after he opened its photos, and opening the
case page is what counts: it shows the ID portrait beside the on-site photo
(`case_file.case_detail` calls `note_photos_viewed`, in the transaction of its audited look).
The chat offers Approve only then, and until then a link to that page: photos are not sent
into a chat, where customer data must not stay (C10), but shown through the authorised,
audited admin route (DESIGN §3, Storage). A new revision must be opened again.
"""

from __future__ import annotations

from datetime import datetime

from domain.models import Case
from domain.models.cases import CasePhotoView
from domain.platform.access import Permission, can
from domain.platform.actors import Actor
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError

PHOTOS_FIRST = N_("Open the photos of case %(case_no)s before you approve it: the ID portrait "
                  "and the on-site photo must show the same person. Its page in the web "
                  "admin shows them.")


async def note_photos_viewed(actor: Actor, case: Case, now: datetime | None = None) -> None:
    """Record that a reviewer opened the photos of the case's current revision (C6); the
    caller has checked that he may see the case."""
    if not can(actor, Permission.CASE_REVIEW):
        return
    await CasePhotoView.get_or_create(
        case_id=case.id, revision=case.revision, reviewer_id=actor.staff_id,
        defaults={"viewed_at": now or utcnow()})


async def photos_viewed(actor: Actor, case_id: int) -> bool:
    """Whether the reviewer opened the photos of the case's current revision (C6)."""
    case = await Case.get_or_none(id=case_id).only("id", "revision")
    return case is not None and await _viewed(actor, case)


async def refuse_unseen(actor: Actor, case: Case) -> None:
    """Refuse an approval by a reviewer who has not opened the revision's photos (C6)."""
    if not await _viewed(actor, case):
        raise DomainError(PHOTOS_FIRST, case_no=case.case_no)


async def _viewed(actor: Actor, case: Case) -> bool:
    return await CasePhotoView.exists(case_id=case.id, revision=case.revision,
                                      reviewer_id=actor.staff_id)
