"""Notification intents: what happened, about which record, and what the recipient may do.

The domain names actions, never callback data or URLs; each edge renders an intent in its
medium (DESIGN §3). `KINDS` lists every kind of notification the domain sends, with its
subject, the actions its notices may offer, how long it stays worth sending, and whether it
is dropped once its subject no longer waits for the action.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Action(StrEnum):
    """What the recipient of a notification may do about its subject."""

    OPEN = "open"
    CLAIM = "claim"
    APPROVE = "approve"
    RETURN = "return"
    REFUSE = "refuse"
    RETAKE = "retake"
    CONFIRM_RECEIPT = "confirm_receipt"
    TAKE_BACK = "take_back"
    COUNT = "count"
    TAKE_OVER = "take_over"
    START = "start"


class SubjectType(StrEnum):
    """The kind of record a notification is about."""

    CASE = "case"
    SPECIAL_APPROVAL = "special_approval"
    DEVICE = "device"
    INCIDENT = "incident"
    QUALIFICATION = "qualification"
    STAFF = "staff"
    VOID_REQUEST = "void_request"
    TAIL_BOX = "tail_box"
    MIS_ISSUE = "mis_issue"
    BOX_COUNT = "box_count"
    INSPECTION = "inspection"
    CALLBACK = "callback"


@dataclass(frozen=True)
class Subject:
    """One record: its type, its id and, for a record with revisions (a case), the one meant."""

    type: SubjectType
    id: int
    revision: int | None = None


DEFAULT_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class Kind:
    """A kind of notification: its subject type, the actions it may offer, its lifetime,
    whether it is dropped as soon as its subject no longer waits (`until_settled`), and
    whether it is not urgent and waits for its recipient's daily digest (`digest`, issue 14:
    information nobody has to act on now; see `domain.platform.digest`)."""

    name: str
    subject: SubjectType
    actions: tuple[Action, ...] = ()
    lifetime: timedelta = DEFAULT_LIFETIME
    until_settled: bool = False
    digest: bool = False


_A, _S = Action, SubjectType
_DECIDE = (_A.CLAIM, _A.APPROVE, _A.RETURN, _A.OPEN)
_DAY, _HOUR = timedelta(days=1), timedelta(hours=1)

KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("case.submitted", _S.CASE, _DECIDE, _DAY, until_settled=True),
    Kind("case.second_approval", _S.CASE, _DECIDE, _DAY, until_settled=True),
    Kind("case.sla_reminder", _S.CASE, _DECIDE, 4 * _HOUR, until_settled=True),
    Kind("case.sla_escalation", _S.CASE, (_A.OPEN,), 8 * _HOUR, until_settled=True),
    Kind("case.held_alert", _S.CASE, (_A.OPEN,), 2 * _DAY, until_settled=True),
    Kind("case.first_approved", _S.CASE, lifetime=3 * _DAY),
    Kind("case.approved", _S.CASE, lifetime=3 * _DAY),
    Kind("case.returned", _S.CASE, (_A.RETAKE,), 3 * _DAY),
    Kind("case.rejected", _S.CASE, lifetime=3 * _DAY),
    Kind("case.held", _S.CASE, lifetime=3 * _DAY),
    Kind("case.claimed", _S.CASE, lifetime=_DAY),
    Kind("special.requested", _S.SPECIAL_APPROVAL, (_A.APPROVE, _A.REFUSE, _A.OPEN), _DAY),
    Kind("special.approved", _S.SPECIAL_APPROVAL, lifetime=3 * _DAY),
    Kind("special.refused", _S.SPECIAL_APPROVAL, lifetime=3 * _DAY),
    Kind("device.issued", _S.DEVICE, (_A.CONFIRM_RECEIPT,), 3 * _DAY),
    Kind("device.unconfirmed", _S.DEVICE),
    Kind("incident.reported", _S.INCIDENT),
    Kind("incident.closed", _S.INCIDENT, digest=True),
    Kind("qualification.changed", _S.QUALIFICATION),
    Kind("staff.roles_changed", _S.STAFF),
    Kind("staff.activation_changed", _S.STAFF),
    Kind("staff.retraining_flagged", _S.STAFF),
    Kind("staff.retraining_proposed", _S.STAFF, digest=True),
    Kind("staff.idle_flagged", _S.STAFF),
    Kind("staff.idle_disabled", _S.STAFF),
    Kind("staff.idle_kept", _S.STAFF, digest=True),
    Kind("staff.grant_asked", _S.STAFF, (_A.OPEN,), 3 * _DAY),
    Kind("staff.grant_decided", _S.STAFF, lifetime=3 * _DAY),
    Kind("staff.grant_expired", _S.STAFF, lifetime=3 * _DAY),
    Kind("staff.password_issued", _S.STAFF, lifetime=3 * _DAY),
    Kind("staff.reveals_alert", _S.STAFF, (_A.OPEN,), _DAY),
    Kind("void.asked", _S.VOID_REQUEST),
    Kind("void.voided", _S.VOID_REQUEST, digest=True),
    Kind("void.refused", _S.VOID_REQUEST),
    Kind("tail_box.unfrozen", _S.TAIL_BOX),
    Kind("mis_issue.to_holder", _S.MIS_ISSUE),
    Kind("mis_issue.to_recover", _S.MIS_ISSUE, (_A.TAKE_BACK,)),
    Kind("mis_issue.to_chain", _S.MIS_ISSUE),
    Kind("mis_issue.reminder", _S.MIS_ISSUE, (_A.TAKE_BACK,)),
    Kind("mis_issue.escalated", _S.MIS_ISSUE),
    Kind("box_count.requested", _S.BOX_COUNT, (_A.COUNT,), 12 * _HOUR, until_settled=True),
    Kind("box_count.reminded", _S.BOX_COUNT, (_A.COUNT,), 12 * _HOUR, until_settled=True),
    Kind("box_count.escalated", _S.BOX_COUNT, lifetime=_DAY, until_settled=True),
    Kind("box_count.discrepancy", _S.BOX_COUNT, lifetime=3 * _DAY),
    Kind("box_count.handover", _S.BOX_COUNT, (_A.TAKE_OVER,), 3 * _DAY),
    Kind("box_count.handed_over", _S.BOX_COUNT, lifetime=3 * _DAY),
    Kind("inspection.surprise", _S.INSPECTION, (_A.START,), 3 * _DAY, until_settled=True),
    Kind("inspection.count_requested", _S.INSPECTION, (_A.COUNT,), 3 * _DAY,
         until_settled=True),
    Kind("inspection.reminder", _S.INSPECTION, (_A.START,), 3 * _DAY, until_settled=True),
    Kind("inspection.escalated", _S.INSPECTION, lifetime=3 * _DAY, until_settled=True),
    Kind("inspection.completed", _S.INSPECTION, lifetime=3 * _DAY),
    Kind("inspection.discrepancy", _S.INSPECTION, lifetime=3 * _DAY),
    Kind("callback.denied", _S.CALLBACK, lifetime=3 * _DAY),
    Kind("callback.complaint", _S.CALLBACK, lifetime=3 * _DAY),
    Kind("callback.due", _S.CALLBACK, (_A.OPEN,), 3 * _DAY),
    Kind("callback.overdue", _S.CALLBACK, (_A.OPEN,), 3 * _DAY),
    Kind("digest.daily", _S.STAFF, lifetime=_DAY),
)}


@dataclass(frozen=True)
class Intent:
    """What a notification says happened (`kind`), about which record, and the actions its
    recipient may take, in the order they are offered."""

    kind: str
    subject: Subject
    actions: tuple[Action, ...] = ()

    def __post_init__(self) -> None:
        kind = KINDS.get(self.kind)
        if kind is None:
            raise ValueError(f"unknown notification kind {self.kind!r}")
        if self.subject.type != kind.subject:
            raise ValueError(f"a {self.kind} notification is about a {kind.subject}, "
                             f"not a {self.subject.type}")
        if extra := set(self.actions) - set(kind.actions):
            raise ValueError(f"a {self.kind} notification offers no {sorted(extra)}")

    @classmethod
    def of(cls, kind: str, subject_id: int, *actions: Action, revision: int | None = None
           ) -> Intent:
        """An intent about the record `subject_id` of the type its kind is about."""
        if kind not in KINDS:
            raise ValueError(f"unknown notification kind {kind!r}")
        return cls(kind, Subject(KINDS[kind].subject, subject_id, revision), actions)

    @property
    def lifetime(self) -> timedelta:
        """How long a notification of this kind stays worth sending."""
        return KINDS[self.kind].lifetime

    @property
    def for_digest(self) -> bool:
        """Whether a notification of this kind waits for its recipient's daily digest
        (issue 14)."""
        return KINDS[self.kind].digest

