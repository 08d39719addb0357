"""Voucher ledger: types, one row per serial, tail boxes, movements, caps, voids, counts."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.models.cases import Case
from domain.models.devices import Device, Incident
from domain.models.orgs import Org, Staff


class SerialCheck(StrEnum):
    """The check digit rule of a voucher serial on top of its pattern."""

    NONE = "none"
    LUHN = "luhn"


class VoucherState(StrEnum):
    """Where a serial is (DESIGN.md section 4, V1, V6)."""

    IN_VAULT = "in_vault"
    IN_BOX = "in_box"
    RESERVED = "reserved"
    ISSUED = "issued"
    MIS_ISSUED = "mis_issued"
    LOST = "lost"
    VOID_PENDING = "void_pending"
    VOIDED = "voided"


class MovementKind(StrEnum):
    """Kinds of the append-only voucher movement journal."""

    RECEIVED = "received"
    ALLOCATED = "allocated"
    RETURNED_TO_VAULT = "returned_to_vault"
    RESERVED = "reserved"
    ISSUED = "issued"
    RELEASED = "released"
    REPORTED_LOST = "reported_lost"
    VOID_REQUESTED = "void_requested"
    VOID_REFUSED = "void_refused"
    VOIDED = "voided"
    HANDED_OVER = "handed_over"
    MIS_ISSUED = "mis_issued"
    COUNT_ADJUSTMENT = "count_adjustment"
    TO_RECOVER = "to_recover"
    TAKEN_BACK = "taken_back"


class VoidKind(StrEnum):
    """Why serials are to be voided (V6)."""

    LOST = "lost"
    MIS_ISSUED = "mis_issued"
    EXPIRED = "expired"


class VoidStatus(StrEnum):
    """A void request is pending until both signatures, or refused (V6)."""

    PENDING = "pending"
    VOIDED = "voided"
    REFUSED = "refused"


class MisIssueStatus(StrEnum):
    """A mis-issued serial is being recovered until recovered (voided), taken back into the
    box (the card of a closed case), or unrecoverable (V6, Q4)."""

    RECOVERING = "recovering"
    RECOVERED = "recovered"
    TAKEN_BACK = "taken_back"
    UNRECOVERABLE = "unrecoverable"


class MisIssueKind(StrEnum):
    """Why a serial is with a customer it should not be with: handed by mistake, or handed
    for a case that was then rejected or cancelled (V6)."""

    MIS_ISSUE = "mis_issue"
    CASE_CLOSED = "case_closed"


class CountKind(StrEnum):
    """Why a box was counted (V3, V4, V5)."""

    DAY_END = "day_end"
    HANDOVER = "handover"
    INSPECTION = "inspection"
    ALLOCATION_CHECK = "allocation_check"


class CountStatus(StrEnum):
    """A count is requested, then matched, retried once, or a discrepancy (V3)."""

    REQUESTED = "requested"
    RETRY = "retry"
    MATCHED = "matched"
    DISCREPANCY = "discrepancy"
    UNANSWERED = "unanswered"


class VoucherType(Model):
    """A kind of important blank voucher with its serial pattern and check rule (V1)."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name_zh = fields.CharField(max_length=100)
    name_en = fields.CharField(max_length=100)
    serial_pattern = fields.CharField(max_length=200)
    serial_check = fields.CharEnumField(SerialCheck, max_length=16, default=SerialCheck.NONE)
    active = fields.BooleanField(default=True)

    class Meta:
        table = "voucher_type"
        ordering = ["code"]

    def name_in(self, locale: str) -> str:
        """The display name for a locale: Chinese for zh locales, English otherwise."""
        return self.name_zh if locale.startswith("zh") else self.name_en


class TailBox(Model):
    """The voucher tail box of one device, with its holder and frozen flag (V1, V3, D3)."""

    id = fields.IntField(primary_key=True)
    device: fields.OneToOneRelation[Device] = fields.OneToOneField(
        "models.Device", related_name="tail_box", on_delete=fields.RESTRICT
    )
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="tail_boxes", on_delete=fields.RESTRICT
    )
    holder: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="tail_boxes", null=True, on_delete=fields.RESTRICT
    )
    frozen = fields.BooleanField(default=False)
    frozen_reason = fields.TextField(default="")
    last_count_at = fields.DatetimeField(null=True)
    last_count_matched = fields.BooleanField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "tail_box"
        ordering = ["id"]


class Voucher(Model):
    """One voucher serial, in exactly one place at every moment (V1, V6)."""

    id = fields.BigIntField(primary_key=True)
    voucher_type: fields.ForeignKeyRelation[VoucherType] = fields.ForeignKeyField(
        "models.VoucherType", related_name="vouchers", on_delete=fields.RESTRICT
    )
    serial = fields.CharField(max_length=64)
    state = fields.CharEnumField(VoucherState, max_length=16, db_index=True)
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="vouchers", on_delete=fields.RESTRICT
    )
    box: fields.ForeignKeyNullableRelation[TailBox] = fields.ForeignKeyField(
        "models.TailBox", related_name="vouchers", null=True, on_delete=fields.RESTRICT
    )
    case: fields.ForeignKeyNullableRelation[Case] = fields.ForeignKeyField(
        "models.Case", related_name="vouchers", null=True, on_delete=fields.RESTRICT
    )
    state_before_void: str = fields.CharField(max_length=16, null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "voucher"
        unique_together = (("voucher_type", "serial"),)
        ordering = ["voucher_type_id", "serial"]


class VoucherMovement(Model):
    """One append-only movement of one serial, with actor and both places (V1 to V6)."""

    id = fields.BigIntField(primary_key=True)
    voucher: fields.ForeignKeyRelation[Voucher] = fields.ForeignKeyField(
        "models.Voucher", related_name="movements", on_delete=fields.RESTRICT
    )
    voucher_type_id = fields.IntField(db_index=True)
    kind = fields.CharEnumField(MovementKind, max_length=24)
    from_state = fields.CharEnumField(VoucherState, max_length=16, null=True)
    to_state = fields.CharEnumField(VoucherState, max_length=16)
    org_id = fields.IntField(db_index=True)
    from_box_id = fields.IntField(null=True, db_index=True)
    to_box_id = fields.IntField(null=True, db_index=True)
    case_id = fields.IntField(null=True)
    actor_id = fields.IntField(null=True)
    actor_label = fields.CharField(max_length=200)
    note = fields.TextField(default="")
    at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "voucher_movement"
        ordering = ["-id"]


class VoucherCap(Model):
    """The most vouchers of one type the boxes of one org may hold together (V2)."""

    id = fields.IntField(primary_key=True)
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="voucher_caps", on_delete=fields.RESTRICT
    )
    voucher_type: fields.ForeignKeyRelation[VoucherType] = fields.ForeignKeyField(
        "models.VoucherType", related_name="caps", on_delete=fields.RESTRICT
    )
    max_in_boxes = fields.IntField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "voucher_cap"
        unique_together = (("org", "voucher_type"),)


class VoidRequest(Model):
    """A request to void serials, needing the business head and the operations head (V6)."""

    id = fields.IntField(primary_key=True)
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="void_requests", on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(VoidKind, max_length=16)
    status = fields.CharEnumField(VoidStatus, max_length=16, default=VoidStatus.PENDING,
                                  db_index=True)
    reason = fields.TextField()
    incident: fields.ForeignKeyNullableRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="void_requests", null=True, on_delete=fields.RESTRICT
    )
    requested_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="requested_voids", null=True, on_delete=fields.RESTRICT
    )
    requested_at = fields.DatetimeField()
    business_head_signed_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="business_head_void_signatures", null=True,
        on_delete=fields.RESTRICT,
    )
    business_head_signed_at = fields.DatetimeField(null=True)
    ops_head_signed_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="ops_head_void_signatures", null=True,
        on_delete=fields.RESTRICT,
    )
    ops_head_signed_at = fields.DatetimeField(null=True)
    refused_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="refused_voids", null=True, on_delete=fields.RESTRICT
    )
    refused_at = fields.DatetimeField(null=True)
    refusal_note = fields.TextField(default="")

    class Meta:
        table = "void_request"
        ordering = ["-id"]


class VoidRequestItem(Model):
    """One serial of a void request, with the state it returns to on refusal (V6)."""

    id = fields.IntField(primary_key=True)
    void_request: fields.ForeignKeyRelation[VoidRequest] = fields.ForeignKeyField(
        "models.VoidRequest", related_name="items", on_delete=fields.RESTRICT
    )
    voucher: fields.ForeignKeyRelation[Voucher] = fields.ForeignKeyField(
        "models.Voucher", related_name="void_items", on_delete=fields.RESTRICT
    )
    previous_state = fields.CharEnumField(VoucherState, max_length=16)
    previous_box_id = fields.IntField(null=True)

    class Meta:
        table = "void_request_item"
        unique_together = (("void_request", "voucher"),)


class BoxCount(Model):
    """One count of a tail box per voucher type against the ledger (V3, V4, V5)."""

    id = fields.IntField(primary_key=True)
    box: fields.ForeignKeyRelation[TailBox] = fields.ForeignKeyField(
        "models.TailBox", related_name="counts", on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(CountKind, max_length=24)
    status = fields.CharEnumField(CountStatus, max_length=16, default=CountStatus.REQUESTED,
                                  db_index=True)
    business_day = fields.CharField(max_length=8, default="")
    holder_id = fields.IntField(null=True)
    expected: dict = fields.JSONField(default=dict)
    counted: dict = fields.JSONField(default=dict)
    attempts = fields.IntField(default=0)
    requested_at = fields.DatetimeField()
    answered_at = fields.DatetimeField(null=True)
    reminded_at = fields.DatetimeField(null=True)
    escalated_at = fields.DatetimeField(null=True)
    incident: fields.ForeignKeyNullableRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="box_counts", null=True, on_delete=fields.RESTRICT
    )

    class Meta:
        table = "box_count"
        ordering = ["-id"]
        unique_together = (("box", "kind", "business_day"),)


class VoucherBalance(Model):
    """How many serials of one type are in one state at one place, box_id 0 being the org
    vault, kept in step with every movement so balance pages stay cheap (V1, V2)."""

    id = fields.BigIntField(primary_key=True)
    org_id = fields.IntField()
    box_id = fields.IntField(default=0)
    voucher_type_id = fields.IntField()
    state = fields.CharEnumField(VoucherState, max_length=16)
    count = fields.IntField(default=0)

    class Meta:
        table = "voucher_balance"
        unique_together = (("org_id", "box_id", "voucher_type_id", "state"),)


class MisIssue(Model):
    """A serial handed to a customer by mistake, tracked from the report until it is
    recovered and voided or written off as lost (V6, Q4); `kind` case_closed is the card of
    a rejected or cancelled case, taken back into the box or written off (S1 chases both)."""

    id = fields.IntField(primary_key=True)
    voucher: fields.ForeignKeyRelation[Voucher] = fields.ForeignKeyField(
        "models.Voucher", related_name="mis_issues", on_delete=fields.RESTRICT
    )
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="mis_issues", on_delete=fields.RESTRICT
    )
    case: fields.ForeignKeyNullableRelation[Case] = fields.ForeignKeyField(
        "models.Case", related_name="mis_issues", null=True, on_delete=fields.RESTRICT
    )
    box_id = fields.IntField(null=True)
    holder: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="mis_issues", null=True, on_delete=fields.RESTRICT
    )
    customer_note = fields.TextField(default="")
    kind = fields.CharEnumField(MisIssueKind, max_length=16, default=MisIssueKind.MIS_ISSUE)
    status = fields.CharEnumField(MisIssueStatus, max_length=16,
                                  default=MisIssueStatus.RECOVERING, db_index=True)
    incident: fields.ForeignKeyNullableRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="mis_issues", null=True, on_delete=fields.RESTRICT
    )
    reported_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="reported_mis_issues", null=True, on_delete=fields.RESTRICT
    )
    reported_at = fields.DatetimeField()
    recover_by = fields.DatetimeField()
    reminders_sent: list[str] = fields.JSONField(default=list)
    escalated_at = fields.DatetimeField(null=True)
    escalations = fields.IntField(default=0)
    resolved_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="resolved_mis_issues", null=True, on_delete=fields.RESTRICT
    )
    resolved_at = fields.DatetimeField(null=True)
    resolution = fields.TextField(default="")
    void_request: fields.ForeignKeyNullableRelation[VoidRequest] = fields.ForeignKeyField(
        "models.VoidRequest", related_name="mis_issues", null=True, on_delete=fields.RESTRICT
    )

    class Meta:
        table = "mis_issue"
        ordering = ["-id"]
