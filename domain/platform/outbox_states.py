"""The outbox as the admin reads it (issue 16): messages by state, and in plain words why each
one stands where it does — above all when it cannot be sent.

What stops a message, as far as the database knows it:
- its recipient has no chat account bound on any channel (it waits, then expires);
- no process sends on its channel: no sender holds the channel's lease (`send_budget`) — the
  channel is switched off in this installation, or its bot is stopped;
- the platform paused the whole bot (a 429) until a moment;
- the platform refused it for good: the recipient blocked the bot or left the chat, or its
  text could not be filled in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.functions import Count

from domain.models import ChatBinding, OutboxMessage, OutboxStatus, SendLease
from domain.platform.access import Permission, require
from domain.platform.actors import Actor, person_label
from domain.platform.clock import utcnow
from domain.platform.errors import N_
from domain.platform.outbox import (
    APPLIED_IN_PLACE,
    CLAIM_LOST,
    NOTHING_TO_EDIT,
    SETTLED_NOTE,
    WAITING_NOTE,
)
from domain.platform.paging import Page, PageRequest, keyset_page

S = OutboxStatus
# The states in the order of the page's tabs (named by `status_labels`).
STATES = (S.PENDING, S.SENDING, S.WAITING, S.DIGEST, S.DEAD, S.EXPIRED, S.SENT)
# A sender renews its lease every second; one this much older means nobody sends.
LEASE_GRACE = timedelta(minutes=1)
# What a platform answers when the recipient blocked the bot or the chat is gone.
REFUSED_FOR_GOOD = ("forbidden", "blocked", "deactivated", "chat not found", "kicked")

NOT_BOUND = N_("Cannot be sent: %(name)s has no chat account bound on any channel. It goes "
               "out once he binds one, unless it expires first.")
NOT_BOUND_HERE = N_("%(name)s is not bound on %(channel)s: the sender moves it to a channel "
                    "he is bound on.")
NEVER_BOUND = N_("Expired unsent: %(name)s never bound a chat account in time.")
CHANNEL_OFF = N_("Cannot be sent now: nothing sends on %(channel)s (the channel is switched "
                 "off in this installation, or its bot is stopped).")
PAUSED = N_("%(channel)s asked the bot to pause until %(until)s; it goes out after that.")
RETRYING = N_("Attempt %(attempts)s failed (%(error)s); next try at %(next)s.")
QUEUED = N_("Queued: it goes out in turn.")
SENDING_NOW = N_("Being sent now.")
HELD = N_("Held for %(name)s's daily digest: nothing here is urgent.")
SENT_AT = N_("Sent at %(at)s.")
APPLIED = N_("Applied to the original message before that one went out.")
BLOCKED = N_("Cannot be sent: %(name)s blocked the bot or left the chat. Retry only after he "
             "opens the chat again.")
BROKEN = N_("Cannot be sent: its text could not be filled in (a fault of this version). "
            "Retrying will not help.")
SENDER_STOPPED = N_("The sender stopped during each of its %(attempts)s attempts.")
FAILED = N_("Failed after %(attempts)s attempts.")
SETTLED = N_("Dropped unsent: its subject no longer waits for this (already handled).")
NO_ORIGINAL = N_("Dropped: the message it would correct was never sent.")
TOO_LATE = N_("Expired before it could be sent: its moment passed at %(at)s.")


@dataclass(frozen=True)
class Reason:
    """Why a message stands where it does: a msgid with its parameters (times as datetimes,
    formatted at the edge) and whether it says the message cannot be sent."""

    text: str
    params: dict[str, Any] = field(default_factory=dict)
    blocked: bool = False


@dataclass(frozen=True)
class Channels:
    """What the reasons need to know beyond the messages: each recipient's bound channels,
    the channels a sender holds, and until when a channel's bot is paused."""

    bound: dict[int, set[str]]
    live: set[str]
    paused: dict[str, datetime]


async def state_counts(actor: Actor) -> dict[OutboxStatus, int]:
    """How many messages each state holds, in one grouped query."""
    require(actor, Permission.OUTBOX_VIEW)
    rows = await OutboxMessage.annotate(rows=Count("id")).group_by("status").values_list(
        "status", "rows")
    return {state: 0 for state in STATES} | {OutboxStatus(s): n for s, n in rows}


async def messages_in(actor: Actor, state: OutboxStatus, request: PageRequest
                      ) -> Page[OutboxMessage]:
    """A page of the messages in one state, newest first, with their recipients."""
    require(actor, Permission.OUTBOX_VIEW)
    return await keyset_page(OutboxMessage.filter(status=state), ("-id",), request,
                             lambda rows: rows.prefetch_related("recipient"))


async def reasons(messages: list[OutboxMessage], now: datetime | None = None
                  ) -> dict[int, Reason]:
    """Why each message (recipient prefetched) stands where it does, by message id, in
    three queries for the whole page."""
    now = now or utcnow()
    channels = await _channels(messages, now)
    return {message.id: explain(message, channels, now) for message in messages}


async def _channels(messages: list[OutboxMessage], now: datetime) -> Channels:
    bound: dict[int, set[str]] = {}
    for staff_id, channel in await ChatBinding.filter(
            staff_id__in={m.recipient_id for m in messages},  # type: ignore[attr-defined]
    ).values_list("staff_id", "channel"):
        bound.setdefault(staff_id, set()).add(channel)
    leases = await SendLease.all()
    return Channels(bound, {lease.name for lease in leases
                            if lease.holder and lease.expires_at > now - LEASE_GRACE},
                    {lease.name: lease.paused_until for lease in leases
                     if lease.paused_until and lease.paused_until > now})


def explain(message: OutboxMessage, channels: Channels, now: datetime) -> Reason:
    """Why one message stands where it does."""
    name = person_label(message.recipient)
    if message.status in (S.PENDING, S.SENDING):
        return _unsent(message, channels, name, now)
    return {
        S.WAITING: lambda: _waiting(message, channels, name),
        S.DIGEST: lambda: Reason(HELD, {"name": name}),
        S.SENT: lambda: Reason(APPLIED) if message.last_error == APPLIED_IN_PLACE
        else Reason(SENT_AT, {"at": message.sent_at}),
        S.DEAD: lambda: _failed(message, name),
        S.EXPIRED: lambda: _expired(message, name),
    }[OutboxStatus(message.status)]()


def _unsent(message: OutboxMessage, channels: Channels, name: str, now: datetime) -> Reason:
    """A message still to be sent: what it waits for."""
    bound = channels.bound.get(message.recipient_id, set())  # type: ignore[attr-defined]
    if not bound:
        return Reason(NOT_BOUND, {"name": name}, blocked=True)
    if message.channel not in bound:
        return Reason(NOT_BOUND_HERE, {"name": name, "channel": message.channel})
    if message.channel not in channels.live:
        return Reason(CHANNEL_OFF, {"channel": message.channel}, blocked=True)
    if message.channel in channels.paused:
        return Reason(PAUSED, {"channel": message.channel,
                               "until": channels.paused[message.channel]})
    if message.status == S.SENDING:
        return Reason(SENDING_NOW)
    if message.attempts:
        return Reason(RETRYING, {"attempts": message.attempts, "error": message.last_error,
                                 "next": max(message.next_attempt_at, now)})
    return Reason(QUEUED)


def _waiting(message: OutboxMessage, channels: Channels, name: str) -> Reason:
    """A message put aside while its recipient has no chat."""
    if channels.bound.get(message.recipient_id):  # type: ignore[attr-defined]
        return Reason(NOT_BOUND_HERE, {"name": name, "channel": message.channel})
    return Reason(NOT_BOUND, {"name": name}, blocked=True)


def _failed(message: OutboxMessage, name: str) -> Reason:
    """A message that went dead: refused for good, or failed at every attempt."""
    error = message.last_error.lower()
    if any(word in error for word in REFUSED_FOR_GOOD):
        return Reason(BLOCKED, {"name": name}, blocked=True)
    if "cannot be filled" in error or "no intent" in error or "notification kind" in error:
        return Reason(BROKEN, blocked=True)
    if message.last_error == CLAIM_LOST:
        return Reason(SENDER_STOPPED, {"attempts": message.attempts})
    return Reason(FAILED, {"attempts": message.attempts})


def _expired(message: OutboxMessage, name: str) -> Reason:
    """A message dropped or expired unsent."""
    if message.last_error == SETTLED_NOTE:
        return Reason(SETTLED)
    if message.last_error == NOTHING_TO_EDIT:
        return Reason(NO_ORIGINAL)
    if message.last_error == WAITING_NOTE.format(channel=message.channel):
        return Reason(NEVER_BOUND, {"name": name}, blocked=True)
    return Reason(TOO_LATE, {"at": message.expires_at})
