"""Admin web sessions kept on the server (S3): started at log-in, checked on every request
against an idle and an absolute lifetime, ended on log-out, password change, deactivation
and role change, by their owner or by a system admin; every end is audited."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from domain.models import Staff, WebSession
from domain.people import auth
from domain.platform import audit, clock
from domain.platform.access import Permission, can
from domain.platform.actors import Actor, actor_for, system_actor
from domain.platform.errors import N_, NotFound

SWEEP_ACTOR = system_actor("sessions")
# A request refreshes the idle deadline at most this often, so reading pages is not a
# write each time; the idle timeout may thus strike this much early.
TOUCH_EVERY = timedelta(minutes=1)
# Ended rows stay this long, so a browser coming back learns why it was logged out.
ENDED_KEPT = timedelta(days=1)
USER_AGENT_LENGTH = 255


class EndReason(StrEnum):
    """Why a session ended."""

    LOGOUT = "logout"
    IDLE = "idle"
    EXPIRED = "expired"
    PASSWORD_CHANGE = "password_change"
    PASSWORD_RESET = "password_reset"
    DEACTIVATED = "deactivated"
    ROLES_CHANGED = "roles_changed"
    ENDED_BY_USER = "ended_by_user"
    ENDED_BY_ADMIN = "ended_by_admin"


# The audit action of a session's end; the other reasons read auth.session_ended.
END_ACTIONS = {EndReason.LOGOUT: "auth.logout", EndReason.IDLE: "auth.logout_idle"}


@dataclass(frozen=True)
class SessionRules:
    """How long a session lives without a request, and at most (S3)."""

    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)


DEFAULT_RULES = SessionRules()


@dataclass(frozen=True)
class ActiveSession:
    """A session that lets its request in: its row id, its user and its CSRF token."""

    id: int
    actor: Actor
    csrf_token: str


@dataclass(frozen=True)
class EndedSession:
    """The cookie named a session that has ended, and why."""

    reason: EndReason


def token_hash(token: str) -> str:
    """What the database keeps of a cookie's session id: its SHA-256."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def start_session(actor: Actor, address: str, user_agent: str,
                        rules: SessionRules = DEFAULT_RULES) -> str:
    """Open a session for a staff member who just logged in; return its id for the cookie
    (only its hash is stored)."""
    assert actor.staff_id is not None
    token, now = secrets.token_urlsafe(32), clock.utcnow()
    await WebSession.create(
        token_hash=token_hash(token), staff_id=actor.staff_id,
        csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now,
        idle_until=now + rules.idle, expires_at=now + rules.lifetime, address=address[:45],
        user_agent=user_agent[:USER_AGENT_LENGTH])
    return token


async def resume(token: str, rules: SessionRules = DEFAULT_RULES, *, active: bool = True
                 ) -> ActiveSession | EndedSession | None:
    """The session a cookie names, ended first when idle or past its lifetime (S3); None for
    an unknown id. `active` requests push the idle deadline on."""
    row = await WebSession.get_or_none(token_hash=token_hash(token))
    if row is None:
        return None
    if row.ended_at is not None:
        return EndedSession(EndReason(row.end_reason))
    now = clock.utcnow()
    staff = await Staff.get_or_none(id=row.staff_id, active=True)  # type: ignore[attr-defined]
    if staff is None:
        await _end_rows([row], EndReason.DEACTIVATED, SWEEP_ACTOR, now)
        return EndedSession(EndReason.DEACTIVATED)
    actor = await actor_for(staff)
    timed_out = _timed_out(row, now)
    if timed_out is not None:
        await _end_rows([row], timed_out, actor, now)
        return EndedSession(timed_out)
    if active and now - row.last_seen_at >= TOUCH_EVERY:
        await WebSession.filter(id=row.id, ended_at=None).update(
            last_seen_at=now, idle_until=min(now + rules.idle, row.expires_at))
    return ActiveSession(row.id, actor, row.csrf_token)


def _timed_out(row: WebSession, now: datetime) -> EndReason | None:
    if now >= row.expires_at:
        return EndReason.EXPIRED
    if now >= row.idle_until:
        return EndReason.IDLE
    return None


async def log_out(actor: Actor, session_id: int) -> None:
    """End the session the user logs out of."""
    row = await WebSession.get_or_none(id=session_id, staff_id=actor.staff_id, ended_at=None)
    if row is not None:
        await _end_rows([row], EndReason.LOGOUT, actor, clock.utcnow())


async def change_password(actor: Actor, session_id: int, current: str, new: str, repeat: str,
                          rules: auth.LoginRules = auth.DEFAULT_RULES, *,
                          address: str = auth.UNKNOWN_ADDRESS) -> int:
    """Change one's own password, the current one throttled like a log-in from `address`,
    and end every other session of the user (S3); return how many ended."""
    await auth.change_password(actor, current, new, repeat, rules.passwords, address=address,
                               throttle=rules.throttle)
    assert actor.staff_id is not None
    return await end_sessions(actor.staff_id, EndReason.PASSWORD_CHANGE, session_id,
                              actor=actor)


async def end_sessions(staff_id: int, reason: EndReason, except_id: int | None = None, *,
                       actor: Actor = SWEEP_ACTOR) -> int:
    """End every open session of a staff member but `except_id` (S3); call it inside the
    transaction of the change that calls for it. Return how many ended."""
    rows = WebSession.filter(staff_id=staff_id, ended_at=None)
    if except_id is not None:
        rows = rows.exclude(id=except_id)
    return await _end_rows(await rows, reason, actor, clock.utcnow())


async def end_session(actor: Actor, session_id: int) -> WebSession:
    """End one open session: one's own, or anyone's for a system admin (S3)."""
    row = await WebSession.get_or_none(id=session_id, ended_at=None)
    mine = row is not None and row.staff_id == actor.staff_id  # type: ignore[attr-defined]
    if row is None or not (mine or can(actor, Permission.SESSION_MANAGE)):
        raise NotFound(N_("No such session."))
    reason = EndReason.ENDED_BY_USER if mine else EndReason.ENDED_BY_ADMIN
    await _end_rows([row], reason, actor, clock.utcnow())
    return row


async def end_other_sessions(actor: Actor, session_id: int) -> int:
    """End every session of the user but the one he works in (S3)."""
    assert actor.staff_id is not None
    return await end_sessions(actor.staff_id, EndReason.ENDED_BY_USER, session_id, actor=actor)


async def own_sessions(actor: Actor) -> list[WebSession]:
    """The user's open sessions, the latest used first."""
    return await _open().filter(staff_id=actor.staff_id).order_by("-last_seen_at", "-id")


async def all_sessions(actor: Actor) -> list[WebSession]:
    """Every open session with its user, for a system admin (S3)."""
    if not can(actor, Permission.SESSION_MANAGE):
        raise NotFound(N_("No such session."))
    return await _open().prefetch_related("staff").order_by("staff__employee_no",
                                                             "-last_seen_at")


def _open() -> QuerySet[WebSession]:
    now = clock.utcnow()
    return WebSession.filter(ended_at=None, idle_until__gt=now, expires_at__gt=now)


async def sweep_sessions() -> tuple[int, int]:
    """End sessions past their idle or absolute lifetime and remove rows ended a day ago;
    return (ended, removed)."""
    now = clock.utcnow()
    idle = await WebSession.filter(ended_at=None, idle_until__lte=now, expires_at__gt=now)
    expired = await WebSession.filter(ended_at=None, expires_at__lte=now)
    ended = (await _end_rows(idle, EndReason.IDLE, SWEEP_ACTOR, now)
             + await _end_rows(expired, EndReason.EXPIRED, SWEEP_ACTOR, now))
    removed = await WebSession.filter(ended_at__lt=now - ENDED_KEPT).delete()
    return ended, removed


async def _end_rows(rows: list[WebSession], reason: EndReason, actor: Actor, now: datetime
                    ) -> int:
    """Mark sessions ended, one audit row each naming the session and the reason."""
    ended = 0
    async with in_transaction():
        for row in rows:
            changed = await WebSession.filter(id=row.id, ended_at=None).update(
                ended_at=now, end_reason=reason)
            if not changed:
                continue
            ended += 1
            staff = await Staff.get(id=row.staff_id)  # type: ignore[attr-defined]
            await audit.record(actor, END_ACTIONS.get(reason, "auth.session_ended"), "staff",
                               staff.id, org_id=staff.org_id,  # type: ignore[attr-defined]
                               detail={"session": row.id, "reason": str(reason)})
    return ended


async def keep_page_note(session_id: int, note: str) -> None:
    """Keep what the session's next page shows once (sealed by the web site; opaque here)."""
    await WebSession.filter(id=session_id).update(page_note=note)


async def take_page_note(session_id: int) -> str | None:
    """Take the session's page note, once: a second request taking it at the same moment
    finds it gone."""
    notes = await WebSession.filter(id=session_id).values_list("page_note", flat=True)
    note = notes[0] if notes else None
    if not note or not await WebSession.filter(id=session_id, page_note=note).update(
            page_note=None):
        return None
    return str(note)
