"""Central review: queue, claim, decisions (four eyes), results to the agent, SLA (C6–C8, S1, S2).

CONTRACT FILE: signatures and docstrings are fixed; bodies are being implemented.

State machine (DESIGN.md §4):
    submitted --claim--> in_review --release--> submitted
    submitted | in_review | on_hold --approve--> approved
        (four-eyes types: the first approval only records `first_approved_by` and keeps
        the case in_review; a *different* reviewer's approval makes it approved)
    submitted | in_review | on_hold --return_case--> returned
    submitted | in_review | on_hold --reject--> rejected
    submitted | in_review --hold--> on_hold
A decision on an unclaimed (submitted) case claims it implicitly for the decider. A case
claimed by another reviewer is refused with that reviewer's name. Every decision is one
transaction: conditional update of the case row (exactly one of two concurrent deciders
wins; the other gets DomainError "already decided"), a `CaseDecision` row, a `CaseEvent`,
an audit row and the outbox notifications (agent result; for hold also operations
management and IT of the org chain; four-eyes first approval notifies the other reviewers
that a second approval is needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.models import Case, CaseEvent, CasePhoto, CaseStatus, ReasonKind, ReviewReason
from domain.services.actors import Actor
from domain.services.cases import CaptureContext, CaseSummary

OPEN_STATUSES = (CaseStatus.SUBMITTED, CaseStatus.IN_REVIEW, CaseStatus.ON_HOLD)


@dataclass(frozen=True)
class QueueFilters:
    """Filters of the review queue; None means any."""

    status: CaseStatus | None = None
    business_type_id: int | None = None
    org_id: int | None = None
    agent_id: int | None = None
    overdue_only: bool = False


@dataclass(frozen=True)
class QueueItem:
    """One row of the review queue, oldest submission first; ID data never appears here."""

    case_id: int
    case_no: str
    status: CaseStatus
    revision: int
    business_type_zh: str
    business_type_en: str
    agent_name: str
    org_name: str
    submitted_at: datetime
    review_due_at: datetime
    claimed_by_id: int | None
    claimed_by_name: str
    awaiting_second_approval: bool
    seconds_left: int  # negative when overdue

    @property
    def overdue(self) -> bool:
        """True when the review deadline has passed."""
        return self.seconds_left < 0


@dataclass(frozen=True)
class PhotoView:
    """One stored photo of a case as the case page lists it."""

    photo_id: int
    kind: str
    revision: int
    sha256: str
    width: int
    height: int
    uploaded_at: datetime


@dataclass(frozen=True)
class DecisionView:
    """One decision on the case page."""

    kind: str
    revision: int
    reviewer_name: str
    reason_codes: tuple[str, ...]
    retake_items: tuple[str, ...]
    note: str
    decided_at: datetime


@dataclass(frozen=True)
class CaseDetail:
    """Everything the case page shows: masked summary, photos of every revision, timeline."""

    summary: CaseSummary
    agent_name: str
    org_name: str
    claimed_by_id: int | None
    claimed_by_name: str
    first_approved_by_id: int | None
    first_approved_by_name: str
    four_eyes: bool
    retake_items: tuple[str, ...]
    photos: tuple[PhotoView, ...]
    events: tuple[CaseEvent, ...]
    decisions: tuple[DecisionView, ...]


@dataclass(frozen=True)
class SlaStats:
    """Dashboard figures for the actor's scope: open and overdue now, SLA kept (%) today."""

    open_cases: int
    overdue_cases: int
    decided_today: int
    kept_percent: int | None  # None when nothing was decided today


@dataclass(frozen=True)
class SweepResult:
    """What one SLA sweep did."""

    reminded: int
    escalated: int


async def review_queue(actor: Actor, filters: QueueFilters, now: datetime | None = None
                       ) -> list[QueueItem]:
    """Open cases of the actor's org subtree, oldest first, with SLA time left (C8, S1)."""
    raise NotImplementedError


async def claim(actor: Actor, case_id: int, now: datetime | None = None) -> Case:
    """Take a submitted case for review; refused when another reviewer holds it (C8)."""
    raise NotImplementedError


async def release(actor: Actor, case_id: int) -> Case:
    """Give a claimed case back to the queue; only its claimer may (C8)."""
    raise NotImplementedError


async def approve(actor: Actor, case_id: int, ctx: CaptureContext,
                  now: datetime | None = None) -> Case:
    """Approve; four-eyes types need a second, different reviewer (C6, S2)."""
    raise NotImplementedError


async def return_case(actor: Actor, case_id: int, reason_codes: list[str], note: str,
                      ctx: CaptureContext, retake_items: list[str] | None = None,
                      now: datetime | None = None) -> Case:
    """Return for correction with one or more managed reasons and the items to retake (C7).

    The items to retake are `retake_items` when given, else the union of the reasons'
    items; at least one item is required. The agent is told every reason and gets a
    button that starts the retake.
    """
    raise NotImplementedError


async def reject(actor: Actor, case_id: int, reason_code: str, note: str, ctx: CaptureContext,
                 now: datetime | None = None) -> Case:
    """Reject (for example a failed networked identity check) with a managed reason (C6)."""
    raise NotImplementedError


async def hold(actor: Actor, case_id: int, note: str, ctx: CaptureContext,
               now: datetime | None = None) -> Case:
    """Put on hold while the check system is down; alerts operations and IT (C6, C8)."""
    raise NotImplementedError


async def active_reasons(kind: ReasonKind) -> list[ReviewReason]:
    """The managed reasons reviewers may pick for a return or a rejection (C7)."""
    raise NotImplementedError


async def seed_default_reasons() -> int:
    """Create the standard reason list where missing; returns how many were added."""
    raise NotImplementedError


async def case_detail(actor: Actor, case_id: int, ctx: CaptureContext) -> CaseDetail:
    """The case page for a case viewer of its org subtree or its own agent (C6, C10)."""
    raise NotImplementedError


async def photo_for(actor: Actor, case_id: int, sha256: str) -> CasePhoto:
    """A photo of a case the actor may see; NotFound for anything else (C9, C10)."""
    raise NotImplementedError


async def sweep_sla(now: datetime, repeat: timedelta, ctx: CaptureContext) -> SweepResult:
    """Remind the claimer at half time; escalate to supervisors at breach, every `repeat` (S1)."""
    raise NotImplementedError


async def sla_stats(actor: Actor, ctx: CaptureContext, now: datetime | None = None) -> SlaStats:
    """Open, overdue and SLA-kept figures of the actor's scope for the dashboard (C8, S1)."""
    raise NotImplementedError
