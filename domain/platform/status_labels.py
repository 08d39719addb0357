"""The label of every state of every record, each enum with a gettext context of its own.

The same English word means different things on different records: a scheduled callback
is 待回访, a scheduled vault inspection 待查库; a completed callback is not a completed
inspection. One msgid shared by two records gets one translation, so each enum's labels
carry their own context (msgctxt) and every edge translates them with `pgettext`.
`NC_` marks them for extraction (`pybabel extract -k NC_:1c,2`).
"""

from __future__ import annotations

from enum import StrEnum

from domain.models import (
    CallbackStatus,
    CaseAuditStatus,
    CaseStatus,
    CountStatus,
    DeviceState,
    InboxStatus,
    IncidentStatus,
    InspectionResult,
    InspectionStatus,
    MisIssueStatus,
    OutboxStatus,
    QualificationStatus,
    RoleGrantState,
    SpecialApprovalStatus,
    VoidStatus,
    VoucherState,
)

Label = tuple[str, str]  # (gettext context, msgid)


def NC_(context: str, message: str) -> Label:
    """Mark a msgid with its context for extraction without translating it here."""
    return context, message


STATUS_LABELS: dict[type[StrEnum], dict[StrEnum, Label]] = {
    CaseStatus: {
        CaseStatus.DRAFT: NC_("case status", "Draft"),
        CaseStatus.SUBMITTED: NC_("case status", "Waiting for review"),
        CaseStatus.IN_REVIEW: NC_("case status", "In review"),
        CaseStatus.APPROVED: NC_("case status", "Approved"),
        CaseStatus.RETURNED: NC_("case status", "Returned for correction"),
        CaseStatus.REJECTED: NC_("case status", "Rejected"),
        CaseStatus.ON_HOLD: NC_("case status", "On hold"),
        CaseStatus.CANCELLED: NC_("case status", "Cancelled"),
    },
    SpecialApprovalStatus: {
        SpecialApprovalStatus.REQUESTED: NC_("special approval status", "Waiting for a decision"),
        SpecialApprovalStatus.APPROVED: NC_("special approval status", "Approved"),
        SpecialApprovalStatus.REFUSED: NC_("special approval status", "Refused"),
    },
    CallbackStatus: {
        CallbackStatus.SCHEDULED: NC_("callback status", "Scheduled"),
        CallbackStatus.ATTEMPTED: NC_("callback status", "Not reached yet"),
        CallbackStatus.COMPLETED: NC_("callback status", "Completed"),
        CallbackStatus.UNREACHABLE: NC_("callback status", "Unreachable"),
        CallbackStatus.CANCELLED: NC_("callback status", "Cancelled"),
    },
    InspectionStatus: {
        InspectionStatus.SCHEDULED: NC_("inspection status", "Scheduled"),
        InspectionStatus.IN_PROGRESS: NC_("inspection status", "In progress"),
        InspectionStatus.COMPLETED: NC_("inspection status", "Completed"),
        InspectionStatus.OVERDUE: NC_("inspection status", "Overdue"),
    },
    InspectionResult: {
        InspectionResult.OK: NC_("inspection result", "Matches the ledger"),
        InspectionResult.DISCREPANCY: NC_("inspection result", "Discrepancy"),
    },
    DeviceState: {
        DeviceState.IN_STOCK: NC_("device state", "In stock"),
        DeviceState.ISSUED: NC_("device state", "Issued"),
        DeviceState.LOST: NC_("device state", "Lost"),
        DeviceState.IN_REPAIR: NC_("device state", "In repair"),
        DeviceState.RETIRED: NC_("device state", "Retired"),
    },
    QualificationStatus: {
        QualificationStatus.ACTIVE: NC_("qualification status", "Valid"),
        QualificationStatus.SUSPENDED: NC_("qualification status", "Suspended"),
        QualificationStatus.REVOKED: NC_("qualification status", "Withdrawn (may qualify again)"),
        QualificationStatus.REVOKED_PERMANENTLY: NC_("qualification status",
                                                     "Withdrawn for good"),
        QualificationStatus.EXPIRED: NC_("qualification status", "Expired"),
    },
    VoucherState: {
        VoucherState.IN_VAULT: NC_("voucher state", "In the vault"),
        VoucherState.IN_BOX: NC_("voucher state", "In the tail box"),
        VoucherState.RESERVED: NC_("voucher state", "Reserved by a case"),
        VoucherState.ISSUED: NC_("voucher state", "Issued to the customer"),
        VoucherState.MIS_ISSUED: NC_("voucher state", "Mis-issued, being recovered"),
        VoucherState.LOST: NC_("voucher state", "Lost"),
        VoucherState.VOID_PENDING: NC_("voucher state", "Void pending"),
        VoucherState.VOIDED: NC_("voucher state", "Voided"),
    },
    VoidStatus: {
        VoidStatus.PENDING: NC_("void request status", "Waiting for signatures"),
        VoidStatus.VOIDED: NC_("void request status", "Voided"),
        VoidStatus.REFUSED: NC_("void request status", "Refused"),
    },
    MisIssueStatus: {
        MisIssueStatus.RECOVERING: NC_("mis-issue status", "Being recovered"),
        MisIssueStatus.RECOVERED: NC_("mis-issue status", "Recovered, void requested"),
        MisIssueStatus.TAKEN_BACK: NC_("mis-issue status",
                                       "Taken back into the box (case closed)"),
        MisIssueStatus.UNRECOVERABLE: NC_("mis-issue status", "Unrecoverable, counted as lost"),
    },
    CountStatus: {
        CountStatus.REQUESTED: NC_("count status", "Not answered yet"),
        CountStatus.RETRY: NC_("count status", "First count did not match, counting again"),
        CountStatus.MATCHED: NC_("count status", "Matches the ledger"),
        CountStatus.DISCREPANCY: NC_("count status", "Discrepancy"),
        CountStatus.UNANSWERED: NC_("count status", "Not answered, escalated"),
    },
    CaseAuditStatus: {
        CaseAuditStatus.PENDING: NC_("off-site audit status", "Waiting for audit"),
        CaseAuditStatus.OK: NC_("off-site audit status", "No error found"),
        CaseAuditStatus.ERROR: NC_("off-site audit status", "Error found"),
    },
    IncidentStatus: {
        IncidentStatus.OPEN: NC_("incident status", "Open"),
        IncidentStatus.CLOSED: NC_("incident status", "Closed"),
    },
    OutboxStatus: {
        OutboxStatus.PENDING: NC_("outbox status", "Waiting to be sent"),
        OutboxStatus.SENDING: NC_("outbox status", "Being sent"),
        OutboxStatus.SENT: NC_("outbox status", "Sent"),
        OutboxStatus.DEAD: NC_("outbox status", "Failed"),
        OutboxStatus.WAITING: NC_("outbox status", "Recipient has no chat"),
        OutboxStatus.EXPIRED: NC_("outbox status", "Expired unsent"),
        OutboxStatus.DIGEST: NC_("outbox status", "Held for the daily digest"),
    },
    RoleGrantState: {
        RoleGrantState.PENDING: NC_("role grant state", "Waiting for a second administrator"),
        RoleGrantState.APPROVED: NC_("role grant state", "Granted"),
        RoleGrantState.REFUSED: NC_("role grant state", "Refused"),
        RoleGrantState.EXPIRED: NC_("role grant state", "Lapsed unanswered"),
    },
    InboxStatus: {
        InboxStatus.PENDING: NC_("chat inbox status", "Waiting to be handled"),
        InboxStatus.HANDLED: NC_("chat inbox status", "Handled"),
        InboxStatus.DEAD: NC_("chat inbox status", "Failed"),
    },
}


def status_label(enum: type[StrEnum], value: str) -> Label:
    """The (context, msgid) naming one state of a record; ValueError for a foreign value."""
    return STATUS_LABELS[enum][enum(value)]
