"""Reviewers on duty, and which reviewers a case's notices go to (issue 14, "Fewer, better
messages"; C8).

A reviewer says in chat whether he is on duty (`/duty on`, `/duty off`). His duty lapses by
itself at the end of the business day he went on duty (24:00 in the business time zone):
nobody stays "on duty" by oversight after his shift, and each working day starts with
whoever says so again. Every change is dated on his `ReviewerDuty` row and audited.

The notices that ask a reviewer to act on a case (a new or corrected case, the call for a
second approval, the half-time reminder of an unclaimed case) go to the on-duty reviewers
of the case's org chain: the case's org and every org above it, the reviewers whose scope
covers the case. When none of them is on duty, every reviewer of the chain is told, as
before. The case's own agent and whoever is left out by the rule at hand (the first
approver) are never told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.models import Case, Org, Role, Staff
from domain.models.review_duty import ReviewerDuty
from domain.platform import audit
from domain.platform.access import Permission, require, sees_everything
from domain.platform.actors import Actor
from domain.platform.chains import chain_paths, staff_in_chain
from domain.platform.clock import business_date, day_bounds, utcnow
from domain.platform.errors import N_, PermissionDenied

NOT_A_REVIEWER = N_("Only reviewers can go on or off duty.")


@dataclass(frozen=True)
class DutyState:
    """Whether a reviewer is on duty now, since when and until when (None when off duty)."""

    on_duty: bool
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class OnDuty:
    """One reviewer on duty, for the review desk: who, his org, since and until when."""

    staff: Staff
    org_name: str
    since: datetime | None
    until: datetime


def duty_ends(moment: datetime, zone: ZoneInfo) -> datetime:
    """The end of the business day of a moment: when a duty begun then lapses (issue 14)."""
    return day_bounds(business_date(moment, zone), zone)[1]


def _state(row: ReviewerDuty | None, now: datetime) -> DutyState:
    if row is None or row.on_duty_until is None or row.on_duty_until <= now:
        return DutyState(False)
    return DutyState(True, row.on_duty_since, row.on_duty_until)


def _require_reviewer(actor: Actor) -> int:
    """The reviewer's staff id; anyone else is refused (issue 14)."""
    if actor.staff_id is None or not actor.has(Role.REVIEWER):
        raise PermissionDenied(NOT_A_REVIEWER)
    return actor.staff_id


async def duty_state(actor: Actor, now: datetime | None = None) -> DutyState:
    """Whether the acting reviewer is on duty now (issue 14)."""
    staff_id = _require_reviewer(actor)
    return _state(await ReviewerDuty.get_or_none(staff_id=staff_id), now or utcnow())


async def set_on_duty(actor: Actor, on: bool, zone: ZoneInfo, *, channel: str = "chat",
                      now: datetime | None = None) -> DutyState:
    """Put the acting reviewer on duty until the end of the business day, or off duty at
    once; a change is dated and audited, saying it again changes nothing (issue 14)."""
    staff_id = _require_reviewer(actor)
    moment = now or utcnow()
    async with in_transaction():
        row = await ReviewerDuty.filter(staff_id=staff_id).select_for_update().first()
        before = _state(row, moment)
        if before.on_duty == on:
            return before
        since, until = (moment, duty_ends(moment, zone)) if on else (None, None)
        if row is None:
            row = await ReviewerDuty.create(staff_id=staff_id, on_duty_since=since,
                                            on_duty_until=until, changed_at=moment,
                                            channel=channel)
        else:
            row.on_duty_since, row.on_duty_until = since, until
            row.changed_at, row.channel = moment, channel
            await row.save()
        await audit.record(actor, "review.duty_on" if on else "review.duty_off", "staff",
                           staff_id, org_id=actor.org_id,
                           detail={"until": until.isoformat() if until else None,
                                   "channel": channel})
    return _state(row, moment)


async def reviewers_to_tell(case: Case, *leave_out: int, now: datetime | None = None
                            ) -> list[Staff]:
    """The reviewers a notice asking to act on the case goes to: the on-duty reviewers of
    its org chain, every reviewer of the chain when none is on duty; never its agent nor
    `leave_out` (issue 14, C8, S2)."""
    org = await Org.get(id=case.org_id)  # type: ignore[attr-defined]
    skip = {case.agent_id, *leave_out}  # type: ignore[attr-defined]
    chain = [r for r in await staff_in_chain(org, Role.REVIEWER) if r.id not in skip]
    on_duty = set(await ReviewerDuty.filter(
        staff_id__in=[r.id for r in chain], on_duty_until__gt=now or utcnow(),
    ).values_list("staff_id", flat=True))
    return [r for r in chain if r.id in on_duty] or chain


async def on_duty_roster(actor: Actor, now: datetime | None = None) -> list[OnDuty]:
    """The reviewers on duty now who review cases of the actor's scope (those of his org
    subtree and of the orgs above it), longest on duty first, for the review desk (issue
    14)."""
    require(actor, Permission.CASE_VIEW)
    rows = ReviewerDuty.filter(on_duty_until__gt=now or utcnow(), staff__active=True,
                               staff__roles__role=Role.REVIEWER)
    if not sees_everything(actor):
        above = chain_paths(await Org.get(id=actor.org_id))
        rows = rows.filter(Q(staff__org__path__startswith=actor.org_path)
                           | Q(staff__org__path__in=above))
    found = await rows.distinct().prefetch_related("staff__org").order_by("on_duty_since", "id")
    return [OnDuty(row.staff, row.staff.org.name, row.on_duty_since, row.on_duty_until)
            for row in found if row.on_duty_until is not None]

