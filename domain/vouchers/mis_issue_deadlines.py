"""Recovery deadlines of mis-issued vouchers: reminders before, escalation after (V6, S1).

Every mis-issue still being recovered — a card handed by mistake, or the card of a rejected
or cancelled case — has its `recover_by`. The holder is reminded at the calendar's hours
before it (48 h and 24 h by default), each once, named "r48", "r24" in `reminders_sent`;
as for inspections, a reminder already due when the mis-issue was recorded is skipped and a
sweep that finds several due sends the latest only. Once the deadline has passed, the
supervisors and operations management of the org chain are told, then again every day while
it stays unrecovered (`escalations` counts them). Each reminder and escalation is audited;
the row is locked and re-checked first, so reruns and a second process send nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.models import MisIssue, MisIssueKind, MisIssueStatus, Org, Role, Staff
from domain.platform import audit, chains, outbox
from domain.platform.actors import person_label, system_actor
from domain.platform.calendar import Calendar
from domain.platform.clock import business_time
from domain.platform.deadlines import due_reminders, reminder_key
from domain.platform.errors import N_
from domain.platform.intents import Action, Intent

ESCALATION_REPEAT = timedelta(days=1)

REMINDER = N_("Reminder: serial %(serial)s is still with a customer; recover it by "
              "%(recover_by)s.")
ESCALATED = N_("Escalation: serial %(serial)s of %(org)s (holder %(holder)s) was to be "
               "recovered from the customer by %(recover_by)s and is not; mis-issue "
               "#%(mis_issue)s, escalation %(count)s.")


async def sweep_mis_issue_deadlines(now: datetime, calendar: Calendar) -> int:
    """Remind holders before the recovery deadline and escalate past it, daily (V6, S1);
    returns how many mis-issues were reminded or escalated."""
    hours = tuple(calendar.mis_issue_reminder_hours)
    horizon = now + timedelta(hours=max(hours, default=0))
    done = 0
    for row in await MisIssue.filter(status=MisIssueStatus.RECOVERING, recover_by__gt=now,
                                     recover_by__lte=horizon):
        if due_reminders(row.reminders_sent, row.reported_at, row.recover_by, hours, now):
            done += await _remind(row.id, hours, now, calendar.zone)
    for row_id in await MisIssue.filter(_escalation_due(now), status=MisIssueStatus.RECOVERING,
                                        recover_by__lte=now).values_list("id", flat=True):
        done += await _escalate(row_id, now, calendar.zone)
    return done


def _escalation_due(now: datetime) -> Q:
    """Never escalated, or last escalated a day ago or more (S1)."""
    return Q(escalated_at__isnull=True) | Q(escalated_at__lte=now - ESCALATION_REPEAT)


async def _remind(row_id: int, hours: tuple[int, ...], now: datetime, zone: ZoneInfo) -> bool:
    """Send the latest due reminder to the holder, once (S1)."""
    async with in_transaction():
        row = await MisIssue.filter(id=row_id, status=MisIssueStatus.RECOVERING
                                    ).select_for_update().first()
        due = (due_reminders(row.reminders_sent, row.reported_at, row.recover_by, hours, now)
               if row is not None else [])
        if row is None or not due:
            return False
        await MisIssue.filter(id=row.id).update(
            reminders_sent=[*row.reminders_sent, *(reminder_key(h) for h in due)])
        await row.fetch_related("voucher")
        await audit.record(system_actor("vouchers"), "mis_issue.reminded", "mis_issue", row.id,
                           org_id=row.org_id,  # type: ignore[attr-defined]
                           detail={"hours": due[0], "skipped": due[1:],
                                   "to": row.holder_id})  # type: ignore[attr-defined]
        if row.holder_id is not None:  # type: ignore[attr-defined]
            actions = (Action.TAKE_BACK,) if row.kind == MisIssueKind.CASE_CLOSED else ()
            await outbox.enqueue(row.holder_id, REMINDER, {  # type: ignore[attr-defined]
                "serial": row.voucher.serial,
                "recover_by": business_time(row.recover_by, zone)},
                intent=Intent.of("mis_issue.reminder", row.id, *actions),
                idempotency_key=f"mis_issue:{row.id}:{reminder_key(due[0])}")
    return True


async def _escalate(row_id: int, now: datetime, zone: ZoneInfo) -> bool:
    """Tell the supervisors and operations management of the org chain that the recovery
    is overdue, at most once a day (S1)."""
    async with in_transaction():
        row = await MisIssue.filter(_escalation_due(now), id=row_id,
                                    status=MisIssueStatus.RECOVERING).select_for_update().first()
        if row is None:
            return False
        count = row.escalations + 1
        await MisIssue.filter(id=row.id).update(escalated_at=now, escalations=count)
        await row.fetch_related("voucher")
        org = await Org.get(id=row.org_id)  # type: ignore[attr-defined]
        holder = await Staff.get_or_none(id=row.holder_id)  # type: ignore[attr-defined]
        people = [person for person in await chains.staff_in_chain(
            org, Role.SUPERVISOR, Role.OPS_ADMIN) if holder is None or person.id != holder.id]
        await audit.record(system_actor("vouchers"), "mis_issue.escalated", "mis_issue", row.id,
                           org_id=org.id, detail={"escalation": count,
                                                  "to": [person.id for person in people]})
        params = {"serial": row.voucher.serial, "org": org.name, "mis_issue": row.id,
                  "holder": person_label(holder, "-"),
                  "recover_by": business_time(row.recover_by, zone),
                  "count": count}
        for person in people:
            await outbox.enqueue(person.id, ESCALATED, params,
                                 intent=Intent.of("mis_issue.escalated", row.id),
                                 idempotency_key=f"mis_issue:{row.id}:escalated:{count}:"
                                                 f"{person.id}")
    return True
