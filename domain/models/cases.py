"""Case configuration: the business types a field agent may capture."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.models.devices import Device
from domain.models.orgs import Org, Staff


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


class CaseStatus(StrEnum):
    """Case states from DESIGN.md section 4 (C3, C7, C8)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    RETURNED = "returned"
    REJECTED = "rejected"
    ON_HOLD = "on_hold"
    CANCELLED = "cancelled"


class CaseEventKind(StrEnum):
    """Kinds of entry on the case timeline (C9)."""

    CREATED = "created"
    CUSTOMER_SET = "customer_set"
    LOCATION_SET = "location_set"
    PHOTO_ADDED = "photo_added"
    RISK_HINT_CONFIRMED = "risk_hint_confirmed"
    SUBMITTED = "submitted"
    CANCELLED = "cancelled"
    CLAIMED = "claimed"
    RELEASED = "released"
    FIRST_APPROVED = "first_approved"
    APPROVED = "approved"
    RETURNED = "returned"
    REJECTED = "rejected"
    HELD = "held"
    SLA_REMINDED = "sla_reminded"
    SLA_ESCALATED = "sla_escalated"
    VOUCHER_RESERVED = "voucher_reserved"
    VOUCHER_ISSUED = "voucher_issued"
    VOUCHER_RELEASED = "voucher_released"
    VOUCHER_TO_RECOVER = "voucher_to_recover"
    VOUCHER_TAKEN_BACK = "voucher_taken_back"


class DecisionKind(StrEnum):
    """What a reviewer decided on one revision of a case (C6, C7, S2)."""

    FIRST_APPROVAL = "first_approval"
    APPROVE = "approve"
    RETURN = "return"
    REJECT = "reject"
    HOLD = "hold"


class ReasonKind(StrEnum):
    """Which decision a managed reason belongs to (C6, C7)."""

    RETURN = "return"
    REJECT = "reject"


RETAKE_CUSTOMER = "customer"


class SpecialApprovalStatus(StrEnum):
    """States of an out-of-hours special approval (C2)."""

    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"


class Case(Model):
    """A customer case captured on site by a field agent (C1, C3, C4, C10, C11)."""

    id = fields.IntField(primary_key=True)
    case_no = fields.CharField(max_length=32, unique=True, null=True)
    business_type: fields.ForeignKeyRelation[BusinessType] = fields.ForeignKeyField(
        "models.BusinessType", related_name="cases", on_delete=fields.RESTRICT
    )
    agent: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="cases", on_delete=fields.RESTRICT
    )
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="cases", on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(CaseStatus, max_length=16, default=CaseStatus.DRAFT,
                                  db_index=True)
    revision = fields.IntField(default=1)
    customer_name = fields.CharField(max_length=50, default="")
    id_number_enc = fields.TextField(null=True)
    id_number_hash = fields.CharField(max_length=64, null=True, db_index=True)
    mobile_enc = fields.TextField(null=True)
    mobile_hash = fields.CharField(max_length=64, null=True, db_index=True)
    latitude = fields.FloatField(null=True)
    longitude = fields.FloatField(null=True)
    risk_hint_confirmed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    submitted_at = fields.DatetimeField(null=True)
    review_due_at = fields.DatetimeField(null=True, db_index=True)
    claimed_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="claimed_cases", null=True, on_delete=fields.RESTRICT
    )
    claimed_at = fields.DatetimeField(null=True)
    first_approved_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="first_approved_cases", null=True,
        on_delete=fields.RESTRICT,
    )
    retake_items: list[str] = fields.JSONField(default=list)
    decided_at = fields.DatetimeField(null=True)
    sla_reminded_at = fields.DatetimeField(null=True)
    escalated_at = fields.DatetimeField(null=True)
    escalation_count = fields.IntField(default=0)
    callback_drawn_at = fields.DatetimeField(null=True, db_index=True)
    device: fields.ForeignKeyNullableRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name="cases", null=True, on_delete=fields.RESTRICT
    )  # the tablet the case was captured with (D2)
    location_skipped = fields.BooleanField(default=False)
    customer_answers: dict[str, str] = fields.JSONField(default=dict)  # name, sealed ID (C10)
    updated_at = fields.DatetimeField(auto_now=True)

    photos: fields.ReverseRelation[CasePhoto]
    events: fields.ReverseRelation[CaseEvent]
    decisions: fields.ReverseRelation[CaseDecision]

    class Meta:
        table = "case_record"
        ordering = ["id"]
        indexes = (("status", "callback_drawn_at"),)  # the callback draw's lookup (K1)


class CaseCounter(Model):
    """The last case number handed out on one business day, day is YYYYMMDD."""

    day = fields.CharField(max_length=8, primary_key=True)
    last_no = fields.IntField(default=0)

    class Meta:
        table = "case_counter"


class CasePhoto(Model):
    """One uploaded photo of a case revision, append-only and never replaced (C9)."""

    id = fields.IntField(primary_key=True)
    case: fields.ForeignKeyRelation[Case] = fields.ForeignKeyField(
        "models.Case", related_name="photos", on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(PhotoKind, max_length=32)
    revision = fields.IntField()
    sha256 = fields.CharField(max_length=64)
    width = fields.IntField()
    height = fields.IntField()
    original_name = fields.CharField(max_length=255, default="")
    content_type = fields.CharField(max_length=100, default="")
    uploaded_at = fields.DatetimeField()

    class Meta:
        table = "case_photo"
        ordering = ["id"]


class CaseEvent(Model):
    """One entry of the append-only case timeline (C9)."""

    id = fields.IntField(primary_key=True)
    case: fields.ForeignKeyRelation[Case] = fields.ForeignKeyField(
        "models.Case", related_name="events", on_delete=fields.RESTRICT
    )
    at = fields.DatetimeField()
    actor_id = fields.IntField(null=True)
    actor_label = fields.CharField(max_length=200)
    kind = fields.CharEnumField(CaseEventKind, max_length=32)
    detail: dict = fields.JSONField(default=dict)

    class Meta:
        table = "case_event"
        ordering = ["id"]


class CasePhotoView(Model):
    """A reviewer opened the photos of one revision of a case (its case page shows the ID
    portrait beside the on-site photo); he may approve that revision only then (C6)."""

    id = fields.IntField(primary_key=True)
    case: fields.ForeignKeyRelation[Case] = fields.ForeignKeyField(
        "models.Case", related_name="photo_views", on_delete=fields.CASCADE
    )
    revision = fields.IntField()
    reviewer: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="photo_views", on_delete=fields.CASCADE
    )
    viewed_at = fields.DatetimeField()

    class Meta:
        table = "case_photo_view"
        unique_together = (("case", "revision", "reviewer"),)


class ReviewReason(Model):
    """A managed reason code a reviewer picks when returning or rejecting (C6, C7).

    retake_items lists the photo kinds (or customer) the agent must redo after a return.
    """

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    kind = fields.CharEnumField(ReasonKind, max_length=16)
    name_zh = fields.CharField(max_length=100)
    name_en = fields.CharField(max_length=100)
    retake_items: list[str] = fields.JSONField(default=list)
    active = fields.BooleanField(default=True)
    sort_order = fields.IntField(default=0)

    class Meta:
        table = "review_reason"
        ordering = ["sort_order", "code"]

    def name_in(self, locale: str) -> str:
        """The display name for a locale: Chinese for zh locales, English otherwise."""
        return self.name_zh if locale.startswith("zh") else self.name_en


class CaseDecision(Model):
    """One reviewer decision on one revision of a case, append-only (C6, C7, S2)."""

    id = fields.IntField(primary_key=True)
    case: fields.ForeignKeyRelation[Case] = fields.ForeignKeyField(
        "models.Case", related_name="decisions", on_delete=fields.RESTRICT
    )
    revision = fields.IntField()
    kind = fields.CharEnumField(DecisionKind, max_length=16)
    reviewer: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="case_decisions", on_delete=fields.RESTRICT
    )
    reason_codes: list[str] = fields.JSONField(default=list)
    retake_items: list[str] = fields.JSONField(default=list)
    note = fields.TextField(default="")
    decided_at = fields.DatetimeField()

    class Meta:
        table = "case_decision"
        ordering = ["id"]
        unique_together = (("case", "revision", "kind"),)


class SpecialApproval(Model):
    """An out-of-hours window in which one staff member may capture cases (C2)."""

    id = fields.IntField(primary_key=True)
    staff: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="special_approvals", on_delete=fields.RESTRICT
    )
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="special_approvals", on_delete=fields.RESTRICT
    )
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    reason = fields.TextField()
    status = fields.CharEnumField(SpecialApprovalStatus, max_length=16,
                                  default=SpecialApprovalStatus.REQUESTED)
    decided_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="decided_special_approvals", null=True,
        on_delete=fields.SET_NULL,
    )
    decided_at = fields.DatetimeField(null=True)
    decision_note = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "special_approval"
        ordering = ["id"]
