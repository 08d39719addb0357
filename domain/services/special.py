"""Out-of-hours special approvals: an agent asks, a supervisor of his org chain decides (C2).

CONTRACT FILE: signatures and docstrings are fixed; bodies are being implemented.

requested --approve--> approved (the window opens the capture gate, see cases.capture_gate)
requested --refuse--> refused
Only supervisors whose org contains the agent's org may decide; the agent is told the
result through the outbox; supervisors are told of a new request (chat buttons
"sp:approve:<id>" / "sp:refuse:<id>" and the web page /special-approvals).
A window must end after it starts, must not end in the past, and may last at most
MAX_WINDOW; a decision on a request that was already decided is refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.models import SpecialApproval, SpecialApprovalStatus
from domain.services.actors import Actor

MAX_WINDOW = timedelta(hours=12)


async def request_special(actor: Actor, starts_at: datetime, ends_at: datetime, reason: str,
                          now: datetime | None = None) -> SpecialApproval:
    """A field agent asks for an out-of-hours window with a reason (C2)."""
    raise NotImplementedError


async def decide_special(actor: Actor, approval_id: int, approve: bool, note: str = "",
                         now: datetime | None = None) -> SpecialApproval:
    """A supervisor of the agent's org chain approves or refuses a request once (C2)."""
    raise NotImplementedError


async def list_special(actor: Actor, status: SpecialApprovalStatus | None = None
                       ) -> list[SpecialApproval]:
    """Requests of the actor's org subtree, newest first, with staff prefetched (C2)."""
    raise NotImplementedError


async def my_requests(actor: Actor) -> list[SpecialApproval]:
    """The acting agent's own requests, newest first (C2)."""
    raise NotImplementedError
