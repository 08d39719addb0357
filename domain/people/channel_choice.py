"""The chat channel a staff member chose for his notifications, among those he is bound on
(issue 15); `outbox.preferred_channel` follows it and falls back in the documented order."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from domain.models import ChatBinding, Staff
from domain.people.staff import NO_SUCH_STAFF, get_staff
from domain.platform import audit
from domain.platform.access import Permission, require
from domain.platform.actors import Actor, actor_for
from domain.platform.errors import N_, DomainError, NotFound
from domain.platform.outbox import CHANNEL_PREFERENCE, preferred_channel

NOT_BOUND = N_("You can only choose a channel the person is bound on.")
# How each channel is named to users, in chat and in the admin alike.
CHANNEL_LABELS = {"telegram": N_("Telegram"), "wecom": N_("WeCom"), "web": N_("Browser chat")}


@dataclass(frozen=True)
class ChannelChoice:
    """The channels a staff member is bound on (in the fallback order), the one he chose
    (None: the fallback order), and the one his notifications go to now."""

    bound: tuple[str, ...]
    chosen: str | None
    effective: str


async def channel_choice(staff_id: int) -> ChannelChoice:
    """What a staff member chose and where his notifications go now (issue 15)."""
    member = await Staff.get_or_none(id=staff_id).only("id", "notify_channel")
    if member is None:
        raise NotFound(NO_SUCH_STAFF)
    bound = set(await ChatBinding.filter(staff_id=staff_id).values_list("channel", flat=True))
    ordered = tuple(c for c in CHANNEL_PREFERENCE if c in bound) + tuple(
        sorted(bound.difference(CHANNEL_PREFERENCE)))
    return ChannelChoice(ordered, member.notify_channel, await preferred_channel(staff_id))


async def choose_channel(actor: Actor, staff_id: int, channel: str | None) -> ChannelChoice:
    """Set the channel a staff member's notifications go to, by himself or a system
    administrator of his org subtree; only a channel he is bound on, None for the fallback
    order; audited (issue 15)."""
    async with in_transaction():
        member = await _chooser_may(actor, staff_id)
        choice = await channel_choice(member.id)
        if channel is not None and channel not in choice.bound:
            raise DomainError(NOT_BOUND)
        if channel != choice.chosen:
            await Staff.filter(id=member.id).update(notify_channel=channel)
            await audit.record(actor, "staff.notify_channel", "staff", member.id,
                               org_id=member.org.id,
                               detail={"from": choice.chosen, "to": channel})
        return await channel_choice(member.id)


async def choose_own_channel(staff_id: int, channel: str) -> ChannelChoice:
    """A staff member's own choice, made in chat with a channel button (issue 15)."""
    member = await Staff.get(id=staff_id)
    return await choose_channel(await actor_for(member), staff_id, channel)


async def _chooser_may(actor: Actor, staff_id: int) -> Staff:
    """The staff member whose choice it is: the actor himself, or one a system administrator
    manages in his subtree."""
    if actor.staff_id is not None and actor.staff_id == staff_id:
        member = await Staff.get_or_none(id=staff_id).prefetch_related("org")
        if member is None:
            raise NotFound(NO_SUCH_STAFF)
        return member
    member = await get_staff(actor, staff_id)  # out of his subtree: as missing (S3)
    require(actor, Permission.STAFF_MANAGE)
    return member
