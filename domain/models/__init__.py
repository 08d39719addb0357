"""Tortoise models, one module per area; MODEL_MODULES lists them for Tortoise."""

from domain.models.audit import AuditLog
from domain.models.cases import (
    BusinessType,
    Case,
    CaseCounter,
    CaseDecision,
    CaseEvent,
    CaseEventKind,
    CasePhoto,
    CaseStatus,
    DecisionKind,
    PhotoKind,
    ReasonKind,
    ReviewReason,
    SpecialApproval,
    SpecialApprovalStatus,
)
from domain.models.chat import (
    BindCode,
    ChatBinding,
    ChatSession,
    ProcessedUpdate,
    WebChatMessage,
)
from domain.models.orgs import Org, OrgLevel, Role, Staff, StaffRole, WebCredential
from domain.models.outbox import OutboxMessage, OutboxStatus
from domain.models.system import JobLease, Setting

MODEL_MODULES = [
    "domain.models.orgs",
    "domain.models.chat",
    "domain.models.audit",
    "domain.models.outbox",
    "domain.models.system",
    "domain.models.cases",
]

__all__ = [
    "MODEL_MODULES",
    "AuditLog",
    "BindCode",
    "BusinessType",
    "Case",
    "CaseCounter",
    "CaseDecision",
    "CaseEvent",
    "CaseEventKind",
    "CasePhoto",
    "CaseStatus",
    "ChatBinding",
    "ChatSession",
    "DecisionKind",
    "JobLease",
    "Org",
    "OrgLevel",
    "OutboxMessage",
    "OutboxStatus",
    "PhotoKind",
    "ProcessedUpdate",
    "ReasonKind",
    "ReviewReason",
    "Role",
    "Setting",
    "SpecialApproval",
    "SpecialApprovalStatus",
    "Staff",
    "StaffRole",
    "WebChatMessage",
    "WebCredential",
]
