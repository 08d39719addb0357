"""Case rows as the capture and read modules load them: locked for a change, the agent's own,
changeable or not, and the photos and flagged items a revision has (C3, C7, C9)."""

from __future__ import annotations

from domain.models import Case, CaseEvent, CaseEventKind, CasePhoto, CaseStatus, PhotoKind
from domain.models.cases import RETAKE_CUSTOMER
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied


async def locked_case(case_id: int) -> Case:
    """Load a case, locking its row on PostgreSQL so concurrent changes queue up."""
    case = await Case.filter(id=case_id).select_for_update().first()
    if case is None:
        raise NotFound(N_("No such case."))
    return case


async def own_case(actor: Actor, case_id: int) -> Case:
    """The actor's own case, locked for the change (C3)."""
    case = await locked_case(case_id)
    if case.agent_id != actor.staff_id:  # type: ignore[attr-defined]
        raise PermissionDenied(N_("Only the field agent who captured this case may change it."))
    return case


def require_changeable(case: Case, item: str | None) -> None:
    """Refuse changes except to a draft, or to a flagged item of a returned case (C3, C7)."""
    if case.status == CaseStatus.DRAFT:
        return
    if case.status == CaseStatus.RETURNED:
        if item is not None and item in case.retake_items:
            return
        raise DomainError(N_("Case %(case_no)s was returned for correction: only the flagged "
                             "items can be redone."), case_no=case.case_no)
    if case.status == CaseStatus.CANCELLED:
        raise DomainError(N_("This draft was cancelled and can no longer be changed."))
    raise DomainError(N_("Case %(case_no)s has already been submitted and can no longer "
                         "be changed."), case_no=case.case_no)


async def case_for_change(actor: Actor, case_id: int, item: str | None = None) -> Case:
    """The actor's own draft, or his returned case when `item` was flagged; stale taps refused."""
    case = await own_case(actor, case_id)
    require_changeable(case, item)
    return case


async def photo_kinds(case: Case) -> set[PhotoKind]:
    """Photo kinds the current revision has, kept from earlier revisions or retaken (C9)."""
    kinds = await CasePhoto.filter(case_id=case.id, revision__lte=case.revision).values_list(
        "kind", flat=True)
    return {PhotoKind(k) for k in kinds}


async def retaken_items(case: Case) -> set[str]:
    """Flagged items of a returned case already redone: retaken photos, corrected data (C7)."""
    if case.status != CaseStatus.RETURNED:
        return set()
    done = {PhotoKind(k).value for k in await CasePhoto.filter(
        case_id=case.id, revision=case.revision + 1).values_list("kind", flat=True)}
    returned = await CaseEvent.filter(case_id=case.id, kind=CaseEventKind.RETURNED
                                      ).order_by("-id").first()
    if returned is not None and await CaseEvent.exists(
            case_id=case.id, kind=CaseEventKind.CUSTOMER_SET, id__gt=returned.id):
        done.add(RETAKE_CUSTOMER)
    return {item for item in case.retake_items if item in done}
