"""The managed list of return and reject reasons reviewers pick from (C6, C7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from domain.cases.business_types import PHOTO_KIND_LABELS
from domain.models import ReasonKind, ReviewReason
from domain.models.cases import RETAKE_CUSTOMER
from domain.platform import audit
from domain.platform.access import Permission, can, require
from domain.platform.actors import Actor
from domain.platform.codes import clean_code
from domain.platform.errors import N_, DomainError, NotFound

RETAKE_ITEM_LABELS: dict[str, str] = {kind.value: label for kind, label in
                                      PHOTO_KIND_LABELS.items()} | {
    RETAKE_CUSTOMER: N_("Customer data (name, ID number, mobile)")}
SORT_ORDER_RANGE = (0, 999)


@dataclass(frozen=True)
class ReasonForm:
    """Editable fields of a review reason; None stands for a blank or malformed number."""

    name_zh: str
    name_en: str
    retake_items: frozenset[str] = frozenset()
    sort_order: int | None = 0


def _require_read(actor: Actor) -> None:
    """Reviewers read the list; operations management keeps it (C7)."""
    if not can(actor, Permission.REVIEW_REASON_MANAGE):
        require(actor, Permission.CASE_VIEW)


def _clean(kind: ReasonKind, form: ReasonForm) -> dict[str, Any]:
    """Valid field values: both names; retake items only for returns, in a fixed order (C7)."""
    name_zh, name_en = form.name_zh.strip(), form.name_en.strip()
    if not name_zh or not name_en:
        raise DomainError(N_("Both the Chinese and the English name are required."))
    low, high = SORT_ORDER_RANGE
    if form.sort_order is None or not low <= form.sort_order <= high:
        raise DomainError(N_("The position in the list must be a whole number from "
                             "%(low)s to %(high)s."), low=low, high=high)
    unknown = form.retake_items - RETAKE_ITEM_LABELS.keys()
    if unknown:
        raise DomainError(N_("Unknown item to retake: %(item)s."), item=sorted(unknown)[0])
    items = [item for item in RETAKE_ITEM_LABELS if item in form.retake_items]
    return {"name_zh": name_zh, "name_en": name_en, "sort_order": form.sort_order,
            "retake_items": items if kind == ReasonKind.RETURN else []}


def _snapshot(row: ReviewReason) -> dict[str, Any]:
    return {"code": row.code, "kind": row.kind.value, "name_zh": row.name_zh,
            "name_en": row.name_en, "retake_items": list(row.retake_items),
            "sort_order": row.sort_order, "active": row.active}


async def _audit_change(actor: Actor, action: str, row: ReviewReason,
                        before: dict[str, Any] | None) -> None:
    await audit.record(actor, action, "review_reason", row.id, org_id=actor.org_id,
                       detail={"before": before, "after": _snapshot(row)})


async def list_reasons(actor: Actor, kind: ReasonKind | None = None) -> list[ReviewReason]:
    """Every return and reject reason, active or not, in list order (C7)."""
    _require_read(actor)
    rows = ReviewReason.all()
    if kind is not None:
        rows = rows.filter(kind=kind)
    return await rows.order_by("kind", "sort_order", "code")


async def get_reason(actor: Actor, reason_id: int) -> ReviewReason:
    """One review reason (C7)."""
    _require_read(actor)
    row = await ReviewReason.get_or_none(id=reason_id)
    if row is None:
        raise NotFound(N_("No such review reason."))
    return row


async def create_reason(actor: Actor, code: str, kind: ReasonKind, form: ReasonForm
                        ) -> ReviewReason:
    """Add a return or reject reason with a unique code, audited (C6, C7)."""
    require(actor, Permission.REVIEW_REASON_MANAGE)
    code, values = clean_code(code), _clean(kind, form)
    async with in_transaction():
        if await ReviewReason.exists(code=code):
            raise DomainError(N_("Review reason code %(code)s is already used."), code=code)
        row = await ReviewReason.create(code=code, kind=kind, **values)
        await _audit_change(actor, "review_reason.create", row, None)
    return row


async def update_reason(actor: Actor, reason_id: int, form: ReasonForm) -> ReviewReason:
    """Change the names, items to retake and list position of a reason, audited (C7)."""
    require(actor, Permission.REVIEW_REASON_MANAGE)
    async with in_transaction():
        row = await get_reason(actor, reason_id)
        values = _clean(row.kind, form)
        before = _snapshot(row)
        row.update_from_dict(values)
        if _snapshot(row) != before:
            await row.save()
            await _audit_change(actor, "review_reason.update", row, before)
    return row


async def set_active(actor: Actor, reason_id: int, active: bool) -> ReviewReason:
    """Offer a reason to reviewers again, or withdraw it; past decisions keep it (C7)."""
    require(actor, Permission.REVIEW_REASON_MANAGE)
    async with in_transaction():
        row = await get_reason(actor, reason_id)
        if row.active == active:
            return row
        before = _snapshot(row)
        row.active = active
        await row.save(update_fields=["active"])
        action = "review_reason.activate" if active else "review_reason.deactivate"
        await _audit_change(actor, action, row, before)
    return row


async def reason_names(locale: str) -> dict[str, str]:
    """Display names of every reason by code, for the decisions on a case page (C7)."""
    return {row.code: row.name_in(locale) for row in await ReviewReason.all()}
