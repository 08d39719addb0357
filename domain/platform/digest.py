"""The daily digest (issue 14, "Fewer, better messages"): what is not urgent waits for one
message per person per business day instead of being sent on its own.

A kind of notice marked `digest` in `intents.KINDS` is queued held for the digest (outbox
status `digest`): a notice for information that nobody has to act on now (an incident
closed, a void done, an idle account kept, a retraining proposal to operations
management). Every notice that asks someone to act or answers what he is doing right now
(the result of the inspection or the hand-over he takes part in), every reminder on a
deadline shorter than the digest's day, every escalation and alert is sent at once, as
before.

On each working day of the calendar, once the digest hour has passed in the business time
zone, the scheduler's job gathers each person's held notices into one message, in his
language, oldest first: the notices are marked sent with it. The digest's idempotency key
names the person and the business day, so a rerun (or a second process) sends nothing
twice, and what is held after the day's digest went out waits for the next one.
"""

from __future__ import annotations

from datetime import datetime, time

from tortoise.transactions import in_transaction

from domain.models import OutboxMessage, OutboxStatus, Staff
from domain.platform import outbox
from domain.platform.calendar import Calendar
from domain.platform.chat import locale_of
from domain.platform.clock import utcnow
from domain.platform.errors import N_
from domain.platform.intents import Intent
from locales import translate

DIGEST_AT = time(8, 30)  # business time: the start of the working day
DIGEST = N_("Daily digest of %(day)s: %(count)s notices that did not need you at once.\n"
            "%(items)s")
BULLET = "• "


def digest_key(staff_id: int, day: str) -> str:
    """The idempotency key of one person's digest of one business day."""
    return f"digest:{staff_id}:{day}"


async def send_due_digests(calendar: Calendar, now: datetime | None = None) -> int:
    """Send each person with held notices his digest, once per working day after the digest
    hour (issue 14); returns how many digests were queued."""
    moment = now or utcnow()
    local = moment.astimezone(calendar.zone)
    if local.weekday() not in calendar.working_weekdays or local.time() < DIGEST_AT:
        return 0
    recipients = await OutboxMessage.filter(
        status=OutboxStatus.DIGEST, created_at__lte=moment,
    ).order_by("recipient_id").distinct().values_list("recipient_id", flat=True)
    sent = 0
    for staff_id in recipients:
        sent += await _send_digest(staff_id, local.date().isoformat(), moment)
    return sent


async def _send_digest(staff_id: int, day: str, moment: datetime) -> int:
    """One person's digest of the day, unless it went out already (issue 14)."""
    key = digest_key(staff_id, day)
    async with in_transaction():
        if await OutboxMessage.exists(idempotency_key=key):
            return 0
        held = await OutboxMessage.filter(
            recipient_id=staff_id, status=OutboxStatus.DIGEST, created_at__lte=moment,
        ).select_for_update().order_by("id")
        if not held:
            return 0
        await OutboxMessage.filter(id__in=[row.id for row in held],
                                   status=OutboxStatus.DIGEST).update(
            status=OutboxStatus.SENT, sent_at=moment)
        locale = locale_of(await Staff.get(id=staff_id))
        items = "\n".join(BULLET + translate(locale, row.template, **row.params)
                          for row in held)
        await outbox.enqueue(staff_id, DIGEST, {"day": day, "count": len(held), "items": items},
                             intent=Intent.of("digest.daily", staff_id), idempotency_key=key)
    return 1
