"""Web notifications (issue 16): the alerts that go to chat also wait in the admin site, behind
a bell with the unread count, so that someone who works only in the browser misses nothing.

A notice is written by `outbox.enqueue` in the transaction of the change it reports, beside
its outbox message and with the same idempotency key, so the two cannot drift: every alert
that goes to chat is in the admin, none more. An edit of a notice (`outbox.enqueue_edit`, a
claim turning "new case" into "being reviewed by …") rewrites it here as in chat. The admin
renders a notice from its intent: the kind in words (`KIND_LABELS`), the msgid translated
with its parameters in the reader's language, a link to its subject.

Not shown in the admin: notices that are not urgent and wait for the daily digest (nobody has
to act on them now), the digest itself, and the one-time password sent to a chat (a secret is
never copied to a second table). Marking one's own notices read changes no business record
and is not audited (like the language switch); a notice is only ever read by its recipient.
Read notices are pruned with the other bookkeeping (`housekeeping`, by `read_at`).
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q

from domain.models import WebNotice
from domain.platform.actors import Actor
from domain.platform.clock import utcnow
from domain.platform.errors import N_, NotFound
from domain.platform.intents import KINDS, Intent, Subject, SubjectType
from domain.platform.paging import Page, PageRequest, keyset_page

# Kinds never shown in the admin, and why (see the module docstring).
SECRET_KINDS = frozenset({"staff.password_issued"})
DIGEST = "digest.daily"
NO_SUCH_NOTICE = N_("No such notification.")


def shown_on_web(intent: Intent) -> bool:
    """Whether a notification of this intent also waits in the admin: every alert to a staff
    member, not a notice held for the digest, the digest itself or a secret."""
    return not (intent.for_digest or intent.kind == DIGEST or intent.kind in SECRET_KINDS)


async def record(recipient_id: int, template: str, params: dict[str, Any], *, intent: Intent,
                 idempotency_key: str) -> None:
    """Write the web notice of an outbox notification, in its transaction (the outbox's
    enqueue calls this); a second call with the same idempotency key adds nothing."""
    if not shown_on_web(intent):
        return
    subject = intent.subject
    await WebNotice.bulk_create([WebNotice(
        recipient_id=recipient_id, kind=intent.kind, subject_type=subject.type.value,
        subject_id=subject.id, subject_revision=subject.revision, template=template,
        params=params, idempotency_key=idempotency_key, created_at=utcnow())],
        ignore_conflicts=True)


async def rewrite(original_idempotency_key: str, template: str, params: dict[str, Any], *,
                  intent: Intent) -> int:
    """Rewrite the web notice of an edited outbox notification as the chat shows it now
    (issue 14's edits); its read mark stays. Returns how many notices changed (0 or 1)."""
    subject = intent.subject
    return await WebNotice.filter(idempotency_key=original_idempotency_key).update(
        kind=intent.kind, subject_type=subject.type.value, subject_id=subject.id,
        subject_revision=subject.revision, template=template, params=params)


def intent_of(notice: WebNotice) -> Intent:
    """The intent a notice reports (no actions: the admin offers its own pages)."""
    return Intent(notice.kind, Subject(SubjectType(notice.subject_type), notice.subject_id,
                                       notice.subject_revision))


def _own(actor: Actor) -> Q:
    """The actor's own notices; a system actor has none."""
    return Q(recipient_id=actor.staff_id) if actor.staff_id is not None else Q(id__lt=0)


async def unread_count(actor: Actor) -> int:
    """How many of the actor's notices are unread (the bell's figure)."""
    return await WebNotice.filter(_own(actor), read_at=None).count()


async def notices(actor: Actor, request: PageRequest, *, unread_only: bool = False
                  ) -> Page[WebNotice]:
    """A page of the actor's own notices, newest first (keyset paging)."""
    query = WebNotice.filter(_own(actor))
    if unread_only:
        query = query.filter(read_at=None)
    return await keyset_page(query, ("-id",), request)


async def newest_id(actor: Actor) -> int:
    """The id of the actor's newest notice (0 without any), up to which "mark all read"
    marks, so a notice that comes meanwhile stays unread."""
    newest = await WebNotice.filter(_own(actor)).order_by("-id").first().values_list(
        "id", flat=True)
    return int(newest or 0)


async def mark_read(actor: Actor, notice_id: int) -> WebNotice:
    """Mark one of the actor's notices read and return it; another person's notice is not
    found (a notice is only for its recipient)."""
    notice = await WebNotice.get_or_none(_own(actor), id=notice_id)
    if notice is None:
        raise NotFound(NO_SUCH_NOTICE)
    if notice.read_at is None:
        notice.read_at = utcnow()
        await WebNotice.filter(id=notice.id, read_at=None).update(read_at=notice.read_at)
    return notice


async def mark_all_read(actor: Actor, up_to: int | None = None) -> int:
    """Mark the actor's unread notices read, those up to the id `up_to` when given (the
    newest the reader saw, so one that came meanwhile stays unread); returns how many."""
    unread = WebNotice.filter(_own(actor), read_at=None)
    if up_to is not None:
        unread = unread.filter(id__lte=up_to)
    return await unread.update(read_at=utcnow())


# Every kind of notification in words, for the bell's list and the outbox page.
KIND_LABELS: dict[str, str] = {
    "case.submitted": N_("New case to review"),
    "case.second_approval": N_("Case waiting for a second approval"),
    "case.sla_reminder": N_("Review reminder"),
    "case.sla_escalation": N_("Review escalation"),
    "case.held_alert": N_("Case put on hold: alert"),
    "case.first_approved": N_("Case passed the first approval"),
    "case.approved": N_("Case approved"),
    "case.returned": N_("Case returned for correction"),
    "case.rejected": N_("Case rejected"),
    "case.held": N_("Case put on hold"),
    "case.claimed": N_("Case being reviewed by another reviewer"),
    "special.requested": N_("Special approval requested"),
    "special.approved": N_("Special approval granted"),
    "special.refused": N_("Special approval refused"),
    "device.issued": N_("Tablet issued"),
    "device.unconfirmed": N_("Tablet receipt not confirmed"),
    "incident.reported": N_("Incident reported"),
    "incident.closed": N_("Incident closed"),
    "qualification.changed": N_("Qualification changed"),
    "staff.roles_changed": N_("Roles changed"),
    "staff.activation_changed": N_("Account activated or deactivated"),
    "staff.retraining_flagged": N_("Staff member flagged for retraining"),
    "staff.retraining_proposed": N_("Retraining proposed"),
    "staff.idle_flagged": N_("Idle account flagged"),
    "staff.idle_disabled": N_("Idle account disabled"),
    "staff.idle_kept": N_("Idle account kept"),
    "staff.grant_asked": N_("Role grant waiting for a second administrator"),
    "staff.grant_decided": N_("Role grant decided"),
    "staff.grant_expired": N_("Role grant expired"),
    "staff.password_issued": N_("One-time password issued"),
    "staff.reveals_alert": N_("Many customer data look-ups"),
    "void.asked": N_("Void waiting for a signature"),
    "void.voided": N_("Vouchers voided"),
    "void.refused": N_("Void refused"),
    "tail_box.unfrozen": N_("Tail box unfrozen"),
    "mis_issue.to_holder": N_("Mis-issued voucher"),
    "mis_issue.to_recover": N_("Mis-issued voucher to recover"),
    "mis_issue.to_chain": N_("Mis-issue reported"),
    "mis_issue.reminder": N_("Mis-issue recovery reminder"),
    "mis_issue.escalated": N_("Mis-issue recovery escalated"),
    "box_count.requested": N_("Day-end count requested"),
    "box_count.reminded": N_("Day-end count reminder"),
    "box_count.escalated": N_("Day-end count escalated"),
    "box_count.discrepancy": N_("Count discrepancy"),
    "box_count.handover": N_("Tail box hand-over to confirm"),
    "box_count.handed_over": N_("Tail box handed over"),
    "inspection.surprise": N_("Surprise inspection"),
    "inspection.count_requested": N_("Vault inspection count requested"),
    "inspection.reminder": N_("Vault inspection reminder"),
    "inspection.escalated": N_("Vault inspection escalated"),
    "inspection.completed": N_("Vault inspection completed"),
    "inspection.discrepancy": N_("Vault inspection discrepancy"),
    "callback.denied": N_("Customer denied the business at callback"),
    "callback.complaint": N_("Customer complaint at callback"),
    "callback.due": N_("Callback due"),
    "callback.overdue": N_("Callback overdue"),
    "digest.daily": N_("Daily digest"),
    "reply": N_("Reply in chat"),  # the outbox's replies to a user's own action
}

if _unnamed := sorted(set(KINDS) - set(KIND_LABELS)):
    raise RuntimeError(f"notification kinds without words: {_unnamed}")
