"""Business types: what a field agent may capture, its photos, review SLA and checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from domain.cases._managed_lists import both_names, create_entry, set_entry_active, update_entry
from domain.models import BusinessType, PhotoKind
from domain.platform.access import Permission, require
from domain.platform.actors import Actor
from domain.platform.codes import clean_code
from domain.platform.errors import N_, DomainError, NotFound

PHOTO_KIND_LABELS: dict[PhotoKind, str] = {
    PhotoKind.ID_FRONT: N_("ID card, portrait side"),
    PhotoKind.ID_BACK: N_("ID card, national emblem side"),
    PhotoKind.ONSITE_WITH_AGENT: N_("On-site photo of the agent with the customer"),
    PhotoKind.SIGNED_FORM: N_("Signed application form"),
    PhotoKind.OTHER: N_("Other photo"),
}
MANDATORY_PHOTO_KINDS = frozenset({PhotoKind.ID_FRONT, PhotoKind.ONSITE_WITH_AGENT})
KIND = "business_type"
SLA_MINUTES_RANGE = (1, 240)
CALLBACK_RATE_RANGE = (0, 100)


@dataclass(frozen=True)
class BusinessTypeForm:
    """Editable fields of a business type; None stands for a blank or malformed number."""

    name_zh: str
    name_en: str
    required_photo_kinds: frozenset[PhotoKind]
    review_sla_minutes: int | None = 15
    four_eyes: bool = False
    callback_rate: int | None = 0


def _check_photo_kinds(kinds: frozenset[PhotoKind]) -> None:
    """Every case needs the ID portrait side (C1) and the on-site photo (C5)."""
    if not kinds:
        raise DomainError(N_("Choose at least one required photo kind."))
    if not MANDATORY_PHOTO_KINDS <= kinds:
        raise DomainError(N_(
            "Required photos must include the ID card portrait side (C1) and the on-site "
            "photo of the agent with the customer (C5)."
        ))


def _sla_minutes(value: int | None) -> int:
    """Reviews run on a short SLA while the agent waits on site (C8)."""
    low, high = SLA_MINUTES_RANGE
    if value is None or not low <= value <= high:
        raise DomainError(
            N_("The review time limit must be a whole number of minutes from %(low)s to "
               "%(high)s."), low=low, high=high,
        )
    return value


def _callback_rate(value: int | None) -> int:
    """The share of cases sampled for a customer callback (K1), in percent."""
    low, high = CALLBACK_RATE_RANGE
    if value is None or not low <= value <= high:
        raise DomainError(N_("The callback sampling rate must be a whole percentage "
                             "from 0 to 100."))
    return value


def _clean(form: BusinessTypeForm) -> dict[str, Any]:
    """The field values of a valid form: names, photos (C1, C5), SLA (C8), callback rate (K1)."""
    name_zh, name_en = both_names(form.name_zh, form.name_en)
    _check_photo_kinds(form.required_photo_kinds)
    return {
        "name_zh": name_zh, "name_en": name_en,
        "required_photo_kinds": [k.value for k in PhotoKind if k in form.required_photo_kinds],
        "review_sla_minutes": _sla_minutes(form.review_sla_minutes),
        "four_eyes": form.four_eyes, "callback_rate": _callback_rate(form.callback_rate),
    }


def _snapshot(row: BusinessType) -> dict[str, Any]:
    return {
        "code": row.code, "name_zh": row.name_zh, "name_en": row.name_en,
        "required_photo_kinds": list(row.required_photo_kinds),
        "voucher_type_code": row.voucher_type_code,
        "review_sla_minutes": row.review_sla_minutes, "four_eyes": row.four_eyes,
        "callback_rate": row.callback_rate, "active": row.active,
    }


async def list_business_types(actor: Actor, *, active: bool | None = None) -> list[BusinessType]:
    """Business types by code, optionally only active or inactive ones."""
    require(actor, Permission.BUSINESS_TYPE_VIEW)
    rows = BusinessType.all()
    if active is not None:
        rows = rows.filter(active=active)
    return await rows.order_by("code")


async def get_business_type(actor: Actor, business_type_id: int) -> BusinessType:
    """One business type."""
    require(actor, Permission.BUSINESS_TYPE_VIEW)
    row = await BusinessType.get_or_none(id=business_type_id)
    if row is None:
        raise NotFound(N_("No such business type."))
    return row


async def create_business_type(
    actor: Actor, code: str, form: BusinessTypeForm, *, voucher_type_code: str | None = None
) -> BusinessType:
    """Add a business type with a unique code; photos must cover C1 and C5."""
    require(actor, Permission.BUSINESS_TYPE_MANAGE)
    code, values = clean_code(code), _clean(form)
    voucher = clean_code(voucher_type_code) if voucher_type_code else None
    return await create_entry(actor, KIND, BusinessType, code,
                              N_("Business type code %(code)s is already used."), _snapshot,
                              voucher_type_code=voucher, **values)


async def update_business_type(
    actor: Actor, business_type_id: int, form: BusinessTypeForm
) -> BusinessType:
    """Change names, photos (C1, C5), review SLA, four-eyes flag (S2) and callback rate."""
    require(actor, Permission.BUSINESS_TYPE_MANAGE)
    values = _clean(form)
    async with in_transaction():
        row = await get_business_type(actor, business_type_id)
        await update_entry(actor, KIND, row, values, _snapshot)
    return row


async def set_active(actor: Actor, business_type_id: int, active: bool) -> BusinessType:
    """Offer a business type for capture again, or withdraw it from new cases."""
    require(actor, Permission.BUSINESS_TYPE_MANAGE)
    async with in_transaction():
        row = await get_business_type(actor, business_type_id)
        await set_entry_active(actor, KIND, row, active, _snapshot, ("active", "updated_at"))
    return row
