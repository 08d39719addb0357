"""Callback deadlines: the agent reminded when a call falls due, the chain told when a
callback misses its deadline (K1, S1)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from domain.cases.cases import locale_of
from domain.models import Callback, Role, Staff
from domain.oversight.callbacks import OPEN
from domain.platform import audit, outbox
from domain.platform.actors import person_label, system_actor
from domain.platform.calendar import Calendar
from domain.platform.chains import staff_in_chain
from domain.platform.clock import business_time
from domain.platform.errors import N_
from domain.platform.intents import Action, Intent
from domain.platform.sweeps import SweepResult

DUE_TO_AGENT = N_("The callback of case %(case_no)s (%(business_type)s) is due now; call the "
                  "customer by %(due)s.")
OVERDUE_ASSIGNED = N_("The callback of case %(case_no)s (%(business_type)s), assigned to "
                      "%(assignee)s, was not done by its deadline %(due)s.")
OVERDUE_UNASSIGNED = N_("The callback of case %(case_no)s (%(business_type)s) was not done by "
                        "its deadline %(due)s: no callback agent is assigned to it.")


async def sweep_callback_deadlines(now: datetime, calendar: Calendar) -> SweepResult:
    """Remind the callback agent once when a call falls due, and escalate a callback past its
    deadline once to the supervisors and operations management of its org chain (S1)."""
    due = await Callback.filter(status__in=OPEN, reminded_at=None, scheduled_at__lte=now
                                ).order_by("id").values_list("id", flat=True)
    late = await Callback.filter(status__in=OPEN, escalated_at=None, due_at__lte=now
                                 ).order_by("id").values_list("id", flat=True)
    reminded = sum([await _remind(callback_id, now, calendar) for callback_id in due])
    escalated = sum([await _escalate(callback_id, now, calendar) for callback_id in late])
    return SweepResult(reminded=reminded, escalated=escalated)


async def _remind(callback_id: int, now: datetime, calendar: Calendar) -> int:
    """Tell the assigned agent (all callback agents of the chain while unassigned) that the
    call is due, once per slot (S1)."""

    async def tell(callback: Callback) -> list[Staff]:
        recipients = ([callback.assigned_to] if callback.assigned_to
                      else await staff_in_chain(callback.org, Role.CALLBACK_AGENT))
        for person in recipients:
            await outbox.enqueue(
                person.id, DUE_TO_AGENT, _notice(callback, person, calendar),
                intent=Intent.of("callback.due", callback.id, Action.OPEN),
                idempotency_key=f"callback:{callback.id}:a{callback.attempts}:due:{person.id}")
        return recipients

    return await _once(callback_id, "reminded", tell, reminded_at=None, scheduled_at__lte=now,
                       stamp={"reminded_at": now})


async def _escalate(callback_id: int, now: datetime, calendar: Calendar) -> int:
    """Tell the supervisors and operations management of the org chain, once, that the
    callback missed its deadline (S1)."""

    async def tell(callback: Callback) -> list[Staff]:
        assignee = callback.assigned_to
        template = OVERDUE_ASSIGNED if assignee else OVERDUE_UNASSIGNED
        recipients = await staff_in_chain(callback.org, Role.SUPERVISOR, Role.OPS_ADMIN)
        for person in recipients:
            params = _notice(callback, person, calendar) | (
                {"assignee": person_label(assignee)} if assignee else {})
            await outbox.enqueue(person.id, template, params,
                                 intent=Intent.of("callback.overdue", callback.id, Action.OPEN),
                                 idempotency_key=f"callback:{callback.id}:overdue:{person.id}")
        return recipients

    return await _once(callback_id, "escalated", tell, escalated_at=None, due_at__lte=now,
                       stamp={"escalated_at": now})


async def _once(callback_id: int, action: str, tell: Callable[[Callback], Awaitable[list[Staff]]],
                *, stamp: dict[str, datetime], **still_due: Any) -> int:
    """Stamp an open callback that is `still_due` (the update decides who does it), tell its
    people and audit whom; 1 when this call did it, 0 when it was done before (S1)."""
    async with in_transaction():
        if not await Callback.filter(id=callback_id, status__in=OPEN, **still_due
                                     ).update(**stamp):
            return 0
        callback = await Callback.get(id=callback_id).prefetch_related(
            "case", "business_type", "org", "assigned_to")
        recipients = await tell(callback)
        await audit.record(system_actor("callbacks"), f"callback.{action}", "callback",
                           callback.id, org_id=callback.org.id,
                           detail={"recipients": [p.id for p in recipients]})
    return 1


def _notice(callback: Callback, person: Staff, calendar: Calendar) -> dict[str, Any]:
    """The parameters every callback notice shows, in the recipient's language."""
    return {"case_no": callback.case.case_no,
            "business_type": callback.business_type.name_in(locale_of(person)),
            "due": business_time(callback.due_at, calendar.zone, locale_of(person))}
