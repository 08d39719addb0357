"""Device ledger: tablets, their issue and return register, and incidents (D1 to D3, Q4)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.models.orgs import Org, Staff


class DeviceState(StrEnum):
    """States of a device (DESIGN.md section 4, D1, D3)."""

    IN_STOCK = "in_stock"
    ISSUED = "issued"
    LOST = "lost"
    IN_REPAIR = "in_repair"
    RETIRED = "retired"


class DeviceEventKind(StrEnum):
    """Entries of the append-only device register (D1)."""

    REGISTERED = "registered"
    ISSUED = "issued"
    RECEIPT_CONFIRMED = "receipt_confirmed"
    HANDED_OVER = "handed_over"
    RETURNED = "returned"
    LOST = "lost"
    FOUND = "found"
    SENT_TO_REPAIR = "sent_to_repair"
    REPAIRED = "repaired"
    RETIRED = "retired"
    AUDITED = "audited"


class Device(Model):
    """A tablet registered by IT, with its current state and holder kept in step (D1)."""

    id = fields.IntField(primary_key=True)
    asset_tag = fields.CharField(max_length=32, unique=True)
    serial = fields.CharField(max_length=64, unique=True)
    imei = fields.CharField(max_length=15, null=True, unique=True)
    model = fields.CharField(max_length=100)
    purchase_date = fields.DateField(null=True)
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="devices", on_delete=fields.RESTRICT
    )
    state = fields.CharEnumField(DeviceState, max_length=16, default=DeviceState.IN_STOCK,
                                 db_index=True)
    holder: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="devices", null=True, on_delete=fields.RESTRICT
    )
    issued_at = fields.DatetimeField(null=True)
    receipt_confirmed_at = fields.DatetimeField(null=True)
    receipt_flagged_at = fields.DatetimeField(null=True)
    last_audited_on = fields.DateField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "device"
        ordering = ["asset_tag"]


class DeviceEvent(Model):
    """One append-only entry of the issue and return register of a device (D1)."""

    id = fields.IntField(primary_key=True)
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name="events", on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(DeviceEventKind, max_length=24)
    from_state = fields.CharEnumField(DeviceState, max_length=16, null=True)
    to_state = fields.CharEnumField(DeviceState, max_length=16)
    holder_id = fields.IntField(null=True)
    holder_label = fields.CharField(max_length=200, default="")
    actor_id = fields.IntField(null=True)
    actor_label = fields.CharField(max_length=200)
    note = fields.TextField(default="")
    at = fields.DatetimeField()

    class Meta:
        table = "device_event"
        ordering = ["id"]


class IncidentKind(StrEnum):
    """Kinds of incident (DESIGN.md section 4, D3, Q4)."""

    DEVICE_LOSS = "device_loss"
    VOUCHER_LOSS = "voucher_loss"
    PAPERS_LOSS = "papers_loss"
    DISCREPANCY = "discrepancy"
    MIS_ISSUE = "mis_issue"
    MAJOR_ERROR = "major_error"
    COMPLAINT = "complaint"


class IncidentStatus(StrEnum):
    """An incident is open until an administrator closes it with a resolution."""

    OPEN = "open"
    CLOSED = "closed"


class Incident(Model):
    """Something that went wrong, with its owner, figures and resolution (D3, Q4)."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(IncidentKind, max_length=24)
    status = fields.CharEnumField(IncidentStatus, max_length=16, default=IncidentStatus.OPEN,
                                  db_index=True)
    major = fields.BooleanField(default=False)
    staff: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="incidents", null=True, on_delete=fields.RESTRICT
    )
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="incidents", on_delete=fields.RESTRICT
    )
    device: fields.ForeignKeyNullableRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name="incidents", null=True, on_delete=fields.RESTRICT
    )
    item = fields.CharField(max_length=200, default="")
    occurred_at = fields.DatetimeField(null=True)
    place = fields.CharField(max_length=200, default="")
    description = fields.TextField(default="")
    detail: dict = fields.JSONField(default=dict)
    reported_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="reported_incidents", null=True, on_delete=fields.RESTRICT
    )
    reported_at = fields.DatetimeField()
    closed_by: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="closed_incidents", null=True, on_delete=fields.RESTRICT
    )
    closed_at = fields.DatetimeField(null=True)
    resolution = fields.TextField(default="")

    class Meta:
        table = "incident"
        ordering = ["-id"]
