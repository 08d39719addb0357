"""Web log-in, lock-out and password changes (S3)."""

from __future__ import annotations

import math
from datetime import timedelta

from tortoise.transactions import in_transaction

from domain.models import Staff, WebCredential
from domain.people.passwords import check_policy, hash_password, password_matches
from domain.platform import audit
from domain.platform.actors import Actor, actor_for
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


class LoginRefused(DomainError):
    """Log-in failed; the message never says whether the user name exists."""


async def authenticate(username: str, password: str) -> tuple[Actor, bool]:
    """Check a log-in; return the actor and whether a password change is due.

    Failures are written (attempt counter, lock-out, audit row) before the refusal is
    raised, so a refused log-in still leaves its trace.
    """
    async with in_transaction():
        credential = await WebCredential.get_or_none(username=username.strip()).prefetch_related(
            "staff"
        )
        if credential is None:
            await audit.record(anonymous_actor(username), "auth.login_failed", "staff")
            refusal: LoginRefused | None = LoginRefused(N_("Wrong user name or password."))
        else:
            refusal = await _check_credential(credential, password)
    if refusal is not None:
        raise refusal
    assert credential is not None
    return await actor_for(credential.staff), credential.must_change_password


def anonymous_actor(username: str) -> Actor:
    """The actor recorded for a log-in attempt under an unknown user name."""
    return Actor(staff_id=None, label=f"anonymous:{username.strip()[:64]}")


async def _check_credential(credential: WebCredential, password: str) -> LoginRefused | None:
    now = utcnow()
    staff: Staff = credential.staff
    actor = await actor_for(staff)
    if credential.locked_until and credential.locked_until > now:
        await audit.record(actor, "auth.login_locked", "staff", staff.id, org_id=actor.org_id)
        minutes = math.ceil((credential.locked_until - now).total_seconds() / 60)
        return LoginRefused(
            N_("Too many failed log-ins. Try again in %(minutes)d minutes."), minutes=minutes
        )
    if not password_matches(credential.password_hash, password):
        credential.failed_attempts += 1
        detail: dict[str, object] = {"failed_attempts": credential.failed_attempts}
        if credential.failed_attempts >= MAX_FAILED_LOGINS:
            credential.locked_until = now + LOCKOUT
            credential.failed_attempts = 0
            detail["locked_until"] = credential.locked_until.isoformat()
        await credential.save(update_fields=["failed_attempts", "locked_until"])
        await audit.record(actor, "auth.login_failed", "staff", staff.id,
                           org_id=actor.org_id, detail=detail)
        return LoginRefused(N_("Wrong user name or password."))
    if not staff.active:
        await audit.record(actor, "auth.login_inactive", "staff", staff.id, org_id=actor.org_id)
        return LoginRefused(N_("This account is deactivated."))
    credential.failed_attempts = 0
    credential.locked_until = None
    credential.last_login_at = now
    await credential.save(update_fields=["failed_attempts", "locked_until", "last_login_at"])
    await audit.record(actor, "auth.login", "staff", staff.id, org_id=actor.org_id)
    return None


async def load_actor(staff_id: int) -> Actor | None:
    """The actor behind a web session, or None when the staff is gone or deactivated."""
    staff = await Staff.get_or_none(id=staff_id, active=True)
    return await actor_for(staff) if staff else None


async def must_change_password(staff_id: int) -> bool:
    """True until the first-log-in password change is done (S3)."""
    credential = await WebCredential.get_or_none(staff_id=staff_id)
    return bool(credential and credential.must_change_password)


async def change_password(actor: Actor, current: str, new: str, repeat: str) -> None:
    """Change one's own password after checking the current one and the policy."""
    if new != repeat:
        raise DomainError(N_("The two new passwords differ."))
    check_policy(new)
    async with in_transaction():
        credential = await WebCredential.get(staff_id=actor.staff_id)
        if not password_matches(credential.password_hash, current):
            raise DomainError(N_("The current password is wrong."))
        if password_matches(credential.password_hash, new):
            raise DomainError(N_("The new password must differ from the current one."))
        credential.password_hash = hash_password(new)
        credential.must_change_password = False
        credential.password_changed_at = utcnow()
        await credential.save(
            update_fields=["password_hash", "must_change_password", "password_changed_at"]
        )
        await audit.record(actor, "auth.password_change", "staff", actor.staff_id,
                           org_id=actor.org_id)


async def record_logout(actor: Actor, *, idle: bool) -> None:
    """Audit a log-out, by the user or by the idle timeout."""
    async with in_transaction():
        await audit.record(actor, "auth.logout_idle" if idle else "auth.logout", "staff",
                           actor.staff_id, org_id=actor.org_id)
