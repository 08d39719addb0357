"""Privileged roles given by two system administrators: one asks, another approves or refuses
before the grant lapses (maker-checker, like the void's two signatures; S2)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from domain.models import Role, RoleGrant, RoleGrantState, Staff, StaffRole
from domain.people import auth, sessions
from domain.people.credentials import void_password
from domain.people.duties import require_compatible, role_name
from domain.platform import audit, outbox
from domain.platform.access import Permission, require
from domain.platform.actors import Actor, system_actor
from domain.platform.chat import locale_of
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.intents import Action, Intent

log = logging.getLogger(__name__)
GRANT_LIFETIME = timedelta(days=3)
SWEEP_ACTOR = system_actor("role_grants")
SWEEP_BATCH = 100
NO_SUCH_GRANT = N_("No such role grant.")
ASKED = N_("%(actor)s asks to give the role %(role)s to %(name)s. Another system "
           "administrator must approve or refuse it on the staff page.")
APPROVED = N_("%(actor)s approved the role %(role)s you asked for %(name)s.")
REFUSED = N_("%(actor)s refused the role %(role)s you asked for %(name)s.")
PASSWORD_VOIDED = N_("You are now a system administrator, so your web password no longer "
                     "works: ask whoever runs the FieldOps server for a new one (it is issued "
                     "there with fieldops reset-password).")
LAPSED = N_("Nobody approved the role %(role)s you asked for %(name)s within %(days)d days: "
            "the request lapsed and the role was not given. Ask again if it is still needed.")


async def ask(actor: Actor, member: Staff, roles: Iterable[Role]) -> list[RoleGrant]:
    """Ask for privileged roles for a staff member, each waiting for another system
    administrator; call inside the staff change's transaction (S2)."""
    wanted = sorted(roles)
    if wanted and actor.staff_id is None:
        raise PermissionDenied(N_("You do not have permission for this action."))
    now, asked = utcnow(), []
    for role in wanted:
        if await RoleGrant.exists(staff=member, role=role, state=RoleGrantState.PENDING,
                                  expires_at__gt=now):
            continue
        grant = await RoleGrant.create(staff=member, role=role, asked_by_id=actor.staff_id,
                                       asked_at=now, expires_at=now + GRANT_LIFETIME)
        await audit.record(actor, "staff.role_grant_asked", "staff", member.id,
                           org_id=member.org_id,  # type: ignore[attr-defined]
                           detail={"grant_id": grant.id, "role": role.value})
        await _tell_checkers(actor, member, grant)
        asked.append(grant)
    return asked


async def _tell_checkers(actor: Actor, member: Staff, grant: RoleGrant) -> None:
    """Every other active system administrator hears of the grant waiting for him."""
    checkers = {checker.id: checker for checker in await Staff.filter(
        active=True, roles__role=Role.SYSADMIN).exclude(id__in=[actor.staff_id, member.id])}
    for checker_id, checker in sorted(checkers.items()):
        await outbox.enqueue(
            checker_id, ASKED, {"actor": actor.label, "name": member.name,
                                "role": role_name(grant.role, locale_of(checker))},
            intent=Intent.of("staff.grant_asked", member.id, Action.OPEN),
            idempotency_key=f"role_grant:{grant.id}:asked:{checker_id}")


async def pending_for(actor: Actor, staff_id: int) -> list[RoleGrant]:
    """The grants of a staff member still waiting for a second system administrator; one
    past its time reads as lapsed before the sweep marks it (S2). Reading writes nothing."""
    require(actor, Permission.STAFF_VIEW)
    return await RoleGrant.filter(staff_id=staff_id, state=RoleGrantState.PENDING,
                                  expires_at__gt=utcnow()
                                  ).prefetch_related("asked_by").order_by("id")


async def sweep_lapsed_grants(now: datetime | None = None, batch: int = SWEEP_BATCH) -> int:
    """Mark grants nobody answered in time as lapsed, a batch per transaction, each with its
    audit row and a notice to the one who asked; the role stays ungiven (S2). Return how
    many lapsed."""
    now, lapsed = now or utcnow(), 0
    while True:
        async with in_transaction():
            grants = await RoleGrant.filter(
                state=RoleGrantState.PENDING, expires_at__lte=now).select_for_update(
                ).order_by("id").limit(batch).prefetch_related("staff", "asked_by")
            for grant in grants:
                await _lapse(grant)
        lapsed += len(grants)
        if len(grants) < batch:
            if lapsed:
                log.info("role grants: %d lapsed unanswered", lapsed)
            return lapsed


async def _lapse(grant: RoleGrant) -> None:
    """One grant lapses: stamped, audited as the system, its maker told."""
    grant.state = RoleGrantState.EXPIRED
    await grant.save(update_fields=["state"])
    await audit.record(SWEEP_ACTOR, "staff.role_grant_lapsed", "staff", grant.staff.id,
                       org_id=grant.staff.org_id,  # type: ignore[attr-defined]
                       detail={"grant_id": grant.id, "role": grant.role.value,
                               "asked_by": grant.asked_by.id})
    await outbox.enqueue(
        grant.asked_by.id, LAPSED, {"role": role_name(grant.role, locale_of(grant.asked_by)),
                                    "name": grant.staff.name, "days": GRANT_LIFETIME.days},
        intent=Intent.of("staff.grant_expired", grant.staff.id),
        idempotency_key=f"role_grant:{grant.id}:lapsed")


async def _decidable(actor: Actor, grant_id: int, staff_id: int) -> RoleGrant:
    """The pending grant, locked, when the actor is a second system administrator for it."""
    require(actor, Permission.STAFF_MANAGE)
    grant = await RoleGrant.filter(id=grant_id, staff_id=staff_id).select_for_update().first()
    if grant is None:
        raise NotFound(NO_SUCH_GRANT)
    if actor.staff_id is not None and await auth.must_change_password(actor.staff_id):
        raise PermissionDenied(N_("Replace your initial or expired password before you decide "
                                  "a role grant."))
    if actor.staff_id is None or actor.staff_id == grant.asked_by_id:  # type: ignore[attr-defined]
        raise PermissionDenied(N_("A second system administrator must decide a role grant, "
                                  "not the one who asked for it."))
    if actor.staff_id == grant.staff_id:  # type: ignore[attr-defined]
        raise PermissionDenied(N_("You cannot change your own roles."))
    if grant.state == RoleGrantState.PENDING and grant.expires_at <= utcnow():
        raise DomainError(N_("This role grant lapsed unanswered; ask for it again."))
    if grant.state != RoleGrantState.PENDING:
        raise DomainError(N_("This role grant is already decided."))
    await grant.fetch_related("staff", "asked_by")
    return grant


async def approve(actor: Actor, staff_id: int, grant_id: int) -> RoleGrant:
    """A second system administrator gives the asked role, unless it clashes with a role
    the staff member holds; his sessions end (S2, S3). A new system administrator's web
    password is voided: he gets one from the server, so nobody who issued or learnt his
    earlier one holds a second system administrator's account (issue 13)."""
    async with in_transaction():
        grant = await _decidable(actor, grant_id, staff_id)
        held = set(await StaffRole.filter(staff_id=staff_id).values_list("role", flat=True))
        require_compatible({Role(r) for r in held} | {grant.role})
        await StaffRole.get_or_create(staff_id=staff_id, role=grant.role)
        await _decide(actor, grant, RoleGrantState.APPROVED, "")
        if grant.role == Role.SYSADMIN and await void_password(staff_id):
            await audit.record(actor, "staff.web_password_voided", "staff", staff_id,
                               org_id=grant.staff.org_id,  # type: ignore[attr-defined]
                               detail={"grant_id": grant.id, "reason": "sysadmin_granted"})
            await outbox.enqueue(
                staff_id, PASSWORD_VOIDED, intent=Intent.of("staff.roles_changed", staff_id),
                idempotency_key=f"role_grant:{grant.id}:password_voided")
        await sessions.end_sessions(staff_id, sessions.EndReason.ROLES_CHANGED, actor=actor)
        await outbox.enqueue(
            staff_id, N_("%(actor)s changed your roles. Send /whoami to see them."),
            {"actor": actor.label}, intent=Intent.of("staff.roles_changed", staff_id),
            idempotency_key=f"role_grant:{grant.id}:given")
    return grant


async def refuse(actor: Actor, staff_id: int, grant_id: int, note: str = "") -> RoleGrant:
    """A second system administrator refuses the asked role (S2)."""
    async with in_transaction():
        grant = await _decidable(actor, grant_id, staff_id)
        await _decide(actor, grant, RoleGrantState.REFUSED, note.strip()[:500])
    return grant


async def _decide(actor: Actor, grant: RoleGrant, state: RoleGrantState, note: str) -> None:
    """Stamp the decision, audit it and tell the one who asked."""
    grant.state, grant.decided_by_id, grant.decided_at, grant.note = (  # type: ignore[attr-defined]
        state, actor.staff_id, utcnow(), note)
    await grant.save(update_fields=["state", "decided_by_id", "decided_at", "note"])
    action = "staff.role_granted" if state == RoleGrantState.APPROVED else (
        "staff.role_grant_refused")
    await audit.record(actor, action, "staff", grant.staff.id, org_id=grant.staff.org_id,  # type: ignore[attr-defined]
                       detail={"grant_id": grant.id, "role": grant.role.value,
                               "asked_by": grant.asked_by.id, "note": note})
    await outbox.enqueue(
        grant.asked_by.id, APPROVED if state == RoleGrantState.APPROVED else REFUSED,
        {"actor": actor.label, "role": role_name(grant.role, locale_of(grant.asked_by)),
         "name": grant.staff.name},
        intent=Intent.of("staff.grant_decided", grant.staff.id),
        idempotency_key=f"role_grant:{grant.id}:decided")
