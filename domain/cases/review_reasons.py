"""The managed list of return and reject reasons reviewers pick from (C6, C7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from domain.cases._managed_lists import both_names, create_entry, set_entry_active, update_entry
from domain.cases.business_types import PHOTO_KIND_LABELS
from domain.models import PhotoKind, ReasonKind, ReviewReason
from domain.models.cases import RETAKE_CUSTOMER
from domain.platform.access import Permission, can, require
from domain.platform.actors import Actor
from domain.platform.codes import clean_code
from domain.platform.errors import N_, DomainError, NotFound

RETAKE_ITEM_LABELS: dict[str, str] = {kind.value: label for kind, label in
                                      PHOTO_KIND_LABELS.items()} | {
    RETAKE_CUSTOMER: N_("Customer data (name, ID number, mobile)")}
KIND = "review_reason"
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
    name_zh, name_en = both_names(form.name_zh, form.name_en)
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
    return await create_entry(actor, KIND, ReviewReason, code,
                              N_("Review reason code %(code)s is already used."), _snapshot,
                              kind=kind, **values)


async def update_reason(actor: Actor, reason_id: int, form: ReasonForm) -> ReviewReason:
    """Change the names, items to retake and list position of a reason, audited (C7)."""
    require(actor, Permission.REVIEW_REASON_MANAGE)
    async with in_transaction():
        row = await get_reason(actor, reason_id)
        await update_entry(actor, KIND, row, _clean(row.kind, form), _snapshot)
    return row


async def set_active(actor: Actor, reason_id: int, active: bool) -> ReviewReason:
    """Offer a reason to reviewers again, or withdraw it; past decisions keep it (C7)."""
    require(actor, Permission.REVIEW_REASON_MANAGE)
    async with in_transaction():
        row = await get_reason(actor, reason_id)
        await set_entry_active(actor, KIND, row, active, _snapshot)
    return row


async def reason_names(locale: str) -> dict[str, str]:
    """Display names of every reason by code, for the decisions on a case page (C7)."""
    return {row.code: row.name_in(locale) for row in await ReviewReason.all()}


DEFAULT_REASONS: tuple[tuple[str, ReasonKind, str, str, tuple[str, ...]], ...] = (
    ("unclear_image", ReasonKind.RETURN, "影像不清晰", "Unclear image",
     (PhotoKind.ID_FRONT.value, PhotoKind.ID_BACK.value, PhotoKind.ONSITE_WITH_AGENT.value)),
    ("incomplete_papers", ReasonKind.RETURN, "资料不完整", "Incomplete papers",
     (PhotoKind.SIGNED_FORM.value,)),
    ("portrait_mismatch", ReasonKind.RETURN, "现场照人像不一致", "Portrait does not match",
     (PhotoKind.ONSITE_WITH_AGENT.value,)),
    ("id_expired_or_invalid", ReasonKind.RETURN, "身份证件过期或无效",
     "ID card expired or invalid", (PhotoKind.ID_FRONT.value, PhotoKind.ID_BACK.value)),
    ("customer_data_wrong", ReasonKind.RETURN, "客户信息有误", "Customer data wrong",
     (RETAKE_CUSTOMER,)),
    ("other_return", ReasonKind.RETURN, "其他（见备注）", "Other (see note)", ()),
    ("networked_check_failed", ReasonKind.REJECT, "联网核查未通过",
     "Networked identity check failed", ()),
    ("customer_not_present", ReasonKind.REJECT, "客户本人未到场", "Customer not present in person",
     ()),
    ("identity_doubt", ReasonKind.REJECT, "身份存疑", "Identity in doubt", ()),
    ("other_reject", ReasonKind.REJECT, "其他（见备注）", "Other (see note)", ()),
)


async def active_reasons(kind: ReasonKind) -> list[ReviewReason]:
    """The managed reasons reviewers may pick for a return or a rejection (C7)."""
    return await ReviewReason.filter(kind=kind, active=True).order_by("sort_order", "code")


async def seed_default_reasons() -> int:
    """Create the standard reason list where missing; returns how many were added."""
    added = 0
    for position, (code, kind, name_zh, name_en, items) in enumerate(DEFAULT_REASONS):
        _, created = await ReviewReason.get_or_create(code=code, defaults={
            "kind": kind, "name_zh": name_zh, "name_en": name_en, "retake_items": list(items),
            "sort_order": (position + 1) * 10})
        added += created
    return added
