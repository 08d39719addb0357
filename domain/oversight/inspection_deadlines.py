"""Deadlines of vault inspections: reminders before the due time, escalation after it (V5, S1).

Each reminder is named by its hours before the due time ("r72", "r24") in `reminders_sent`
and fires once, to the holder and to the second person (while nobody has started it, the
supervisors nearest to the box up its org chain). A reminder whose time had already passed
when the inspection was created is skipped, and a sweep that finds several due sends only the
latest and marks the earlier ones as passed, so nobody gets a burst of stale reminders. Once
the due time has passed an open inspection is escalated once to the next org level up: the
supervisors and operations management of the nearest org above the box's org that has any
besides the people already reminded (its id kept in `escalated_org_id`); a scheduled one
becomes overdue, one in progress stays in progress. Every reminder and escalation is
audited; the row is locked and re-checked before each, so a sweep run many times, or by two
processes, sends nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from domain.models import Inspection, InspectionStatus, Org, Role, Staff
from domain.oversight.inspections import nearest_in_chain, second_persons
from domain.platform import audit, outbox
from domain.platform.actors import person_label, system_actor
from domain.platform.calendar import Calendar
from domain.platform.clock import business_time
from domain.platform.deadlines import due_reminders, reminder_key
from domain.platform.errors import N_
from domain.platform.intents import Action, Intent

OPEN = (InspectionStatus.SCHEDULED, InspectionStatus.IN_PROGRESS)
ESCALATION_ROLES = (Role.SUPERVISOR, Role.OPS_ADMIN)

REMINDER = N_("Reminder: the vault inspection of tail box %(box)s (holder %(holder)s) is due "
              "by %(due)s and is not completed yet.")
ESCALATED = N_("Escalation: the vault inspection of tail box %(box)s of %(org)s (holder "
               "%(holder)s) was due by %(due)s and is not completed.")


def _due_reminders(row: Inspection, hours: tuple[int, ...], now: datetime) -> list[int]:
    """The due reminders of an inspection (V5, S1)."""
    return due_reminders(row.reminders_sent, row.created_at, row.due_at, hours, now)


async def sweep_inspection_deadlines(now: datetime, calendar: Calendar) -> int:
    """Send the due reminders and escalations of open inspections once each; returns how many
    inspections were reminded or escalated (V5, S1)."""
    hours = tuple(calendar.inspection_reminder_hours)
    horizon = now + timedelta(hours=max(hours, default=0))
    done = 0
    for row in await Inspection.filter(status__in=list(OPEN), due_at__gt=now,
                                       due_at__lte=horizon):
        if _due_reminders(row, hours, now):
            done += await _remind(row.id, hours, now, calendar.zone)
    for row_id in await Inspection.filter(
            status__in=list(OPEN), escalated_at=None, due_at__lte=now).values_list("id",
                                                                                 flat=True):
        done += await _escalate(row_id, now, calendar.zone)
    return done


async def _people(row: Inspection) -> tuple[Staff, Org, list[Staff]]:
    """The holder, the box org and the second person(s) to remind (V5)."""
    holder = await Staff.get(id=row.holder_id)  # type: ignore[attr-defined]
    org = await Org.get(id=row.org_id)  # type: ignore[attr-defined]
    if row.supervisor_id is not None:  # type: ignore[attr-defined]
        return holder, org, [await Staff.get(id=row.supervisor_id)]  # type: ignore[attr-defined]
    return holder, org, await second_persons(org, holder.id)


async def _remind(row_id: int, hours: tuple[int, ...], now: datetime, zone: ZoneInfo) -> bool:
    """Send the latest due reminder of one inspection to both people, once (S1)."""
    async with in_transaction():
        row = await Inspection.filter(id=row_id, status__in=list(OPEN)).select_for_update(
        ).first()
        due = _due_reminders(row, hours, now) if row is not None else []
        if row is None or not due:
            return False
        await Inspection.filter(id=row.id).update(
            reminders_sent=[*row.reminders_sent, *(reminder_key(h) for h in due)])
        await row.fetch_related("box__device")
        holder, org, seconds = await _people(row)
        await audit.record(system_actor("inspections"), "inspection.reminded", "inspection",
                           row.id, org_id=org.id, detail={"hours": due[0], "skipped": due[1:],
                                                          "to": [holder.id] + [
                                                              s.id for s in seconds]})
        params = {"box": row.box.device.asset_tag, "holder": person_label(holder),
                  "due": business_time(row.due_at, zone)}
        key = f"inspection:{row.id}:{reminder_key(due[0])}"
        await outbox.enqueue(holder.id, REMINDER, params,
                             intent=Intent.of("inspection.reminder", row.id),
                             idempotency_key=f"{key}:{holder.id}")
        actions = () if row.started_at else (Action.START,)
        for second in seconds:
            await outbox.enqueue(second.id, REMINDER, params,
                                 intent=Intent.of("inspection.reminder", row.id, *actions),
                                 idempotency_key=f"{key}:{second.id}")
    return True


async def escalation_level(org: Org, reminded: set[int]) -> tuple[Org, list[Staff]]:
    """The nearest org above `org` with supervisors or operations management other than the
    people already reminded, and them; the parent (or the org itself at the top) with nobody
    when there is none (S1)."""
    parent_id = org.parent_id  # type: ignore[attr-defined]
    parent = await Org.get(id=parent_id) if parent_id is not None else org
    level, people = await nearest_in_chain(parent, ESCALATION_ROLES, reminded)
    return level or parent, people


async def _escalate(row_id: int, now: datetime, zone: ZoneInfo) -> bool:
    """Escalate one overdue inspection to the next level up, once; a scheduled one becomes
    overdue (S1)."""
    async with in_transaction():
        row = await Inspection.filter(id=row_id, status__in=list(OPEN), escalated_at=None
                                      ).select_for_update().first()
        if row is None:
            return False
        await row.fetch_related("box__device")
        holder, org, seconds = await _people(row)
        level, people = await escalation_level(org, {holder.id, *(s.id for s in seconds)})
        status = (InspectionStatus.OVERDUE if row.status == InspectionStatus.SCHEDULED
                  else row.status)
        await Inspection.filter(id=row.id).update(escalated_at=now, escalated_org_id=level.id,
                                                  status=status)
        await audit.record(system_actor("inspections"), "inspection.escalated", "inspection",
                           row.id, org_id=org.id, detail={
                               "escalated_org_id": level.id, "to": [s.id for s in people],
                               "status": status.value})
        params = {"box": row.box.device.asset_tag, "org": org.name, "holder": person_label(holder),
                  "due": business_time(row.due_at, zone)}
        for person in people:
            await outbox.enqueue(person.id, ESCALATED, params,
                                 intent=Intent.of("inspection.escalated", row.id),
                                 idempotency_key=f"inspection:{row.id}:escalated:{person.id}")
    return True
