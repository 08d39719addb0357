"""Case configuration: the business types a field agent may capture."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class PhotoKind(StrEnum):
    """Kinds of photo a case may require (C1, C5)."""

    ID_FRONT = "id_front"
    ID_BACK = "id_back"
    ONSITE_WITH_AGENT = "onsite_with_agent"
    SIGNED_FORM = "signed_form"
    OTHER = "other"


class BusinessType(Model):
    """A kind of business captured on site, with its photos, review SLA and checks."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name_zh = fields.CharField(max_length=100)
    name_en = fields.CharField(max_length=100)
    required_photo_kinds: list[str] = fields.JSONField(default=list)
    voucher_type_code = fields.CharField(max_length=32, null=True)
    review_sla_minutes = fields.IntField(default=15)
    four_eyes = fields.BooleanField(default=False)
    callback_rate = fields.IntField(default=0)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "business_type"
        ordering = ["code"]

    def name_in(self, locale: str) -> str:
        """The display name for a locale: Chinese for zh locales, English otherwise."""
        return self.name_zh if locale.startswith("zh") else self.name_en
