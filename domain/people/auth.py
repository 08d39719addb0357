"""Web log-in, its throttle, password changes and password ageing (S3)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from domain.models import Staff, WebCredential
from domain.models.orgs import KnownLoginAddress
from domain.people import login_throttle
from domain.people.credentials import store_password, used_before
from domain.people.login_throttle import ThrottleRules
from domain.people.passwords import (
    DEFAULT_POLICY,
    PasswordPolicy,
    check_policy,
    hash_password,
    password_matches,
)
from domain.platform import audit
from domain.platform.actors import Actor, actor_for
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError

WRONG_CREDENTIALS = N_("Wrong user name or password.")
TOO_MANY_FAILURES = N_("Too many failed log-ins. Try again in %(minutes)d minutes.")
UNKNOWN_ADDRESS = "unknown"
ONE_TIME_CHANGE = N_("Please replace your initial password before you continue.")
CHANGE_LOCKED = N_("Too many wrong passwords for this account. Try again in %(minutes)d "
                   "minutes.")
AGED_CHANGE = N_("Your password is older than %(days)d days. Please choose a new one before "
                 "you continue.")


@dataclass(frozen=True)
class LoginRules:
    """How log-ins are throttled and what passwords must be (S3)."""

    throttle: ThrottleRules = field(default_factory=ThrottleRules)
    passwords: PasswordPolicy = DEFAULT_POLICY


DEFAULT_RULES = LoginRules()


class LoginRefused(DomainError):
    """Log-in failed; the message never says whether the user name exists."""


async def authenticate(username: str, password: str, address: str = UNKNOWN_ADDRESS,
                       rules: LoginRules = DEFAULT_RULES) -> tuple[Actor, bool]:
    """Check a log-in from a source address; return the actor and whether a password
    change is due (S3).

    Unknown and known names are answered alike: the same throttle, the same argon2 work
    (a dummy hash), the same refusals. The attempt is charged before its password is
    checked; the check runs in a worker thread outside any transaction.
    """
    name, now = username.strip()[:64], utcnow()
    credential = await WebCredential.get_or_none(username=name).prefetch_related("staff")
    charges = await _charges(credential, name, address, rules.throttle, now)
    wait = await login_throttle.admit(charges, now)
    if wait is not None:
        await _tally_refusal(name, address, credential, "locked", now)
        raise LoginRefused(TOO_MANY_FAILURES, minutes=_minutes(wait))
    if not await password_matches(credential.password_hash if credential else None, password):
        if credential is None:
            await _tally_refusal(name, address, None, "failed", now)
        else:
            await _record_failure(credential, address)
        raise LoginRefused(WRONG_CREDENTIALS)
    assert credential is not None
    await login_throttle.release(charges)
    return await _log_in(credential, address, now, rules)


async def _charges(credential: WebCredential | None, name: str, address: str,
                   rules: ThrottleRules, now: datetime) -> login_throttle.Charges:
    """The throttle keys a password check of this name from this address is charged to."""
    known = await KnownLoginAddress.exists(  # asked for unknown names too: the same work
        credential_id=credential.id if credential else 0,
        address=login_throttle.source_of(address),
        last_login_at__gte=now - rules.known_for)
    return login_throttle.charges_for(address, name, known, rules)


def _minutes(wait: timedelta) -> int:
    """A wait in whole minutes, rounded up, as the refusals state it."""
    return math.ceil(wait.total_seconds() / 60)


def anonymous_actor(username: str) -> Actor:
    """The actor recorded for a log-in attempt under an unknown user name."""
    return Actor(staff_id=None, label=f"anonymous:{username.strip()[:64]}")


async def _record_failure(credential: WebCredential, address: str) -> None:
    """A wrong password for a real account: one audit row, bounded by the throttle."""
    actor = await actor_for(credential.staff)
    async with in_transaction():
        await audit.record(actor, "auth.login_failed", "staff", credential.staff.id,
                           org_id=actor.org_id, detail={"address": address})


async def _tally_refusal(name: str, address: str, credential: WebCredential | None,
                         outcome: str, now: datetime) -> None:
    """Count a refusal; only the first of its address, name and hour writes an audit row."""
    async with in_transaction():
        tally = await login_throttle.tally_refusal(address, name, outcome, now)
        if tally is None:
            return
        detail = {"address": address, "tally": tally.id}
        action = "auth.login_locked" if outcome == "locked" else "auth.login_failed"
        if credential is None:
            await audit.record(anonymous_actor(name), action, "staff", detail=detail)
            return
        actor = await actor_for(credential.staff)
        await audit.record(actor, action, "staff", credential.staff.id, org_id=actor.org_id,
                           detail=detail)


async def _log_in(credential: WebCredential, address: str, now: datetime,
                  rules: LoginRules) -> tuple[Actor, bool]:
    """The password was right: refuse a deactivated account or an expired one-time
    password, force a change of an aged one, remember the address (and forget old ones)."""
    staff: Staff = credential.staff
    policy = rules.passwords
    actor = await actor_for(staff)
    detail = {"address": address}
    if not staff.active:
        await _audit(actor, "auth.login_inactive", detail)
        raise LoginRefused(N_("This account is deactivated."))
    if credential.one_time_password and _older_than(credential, policy.one_time_lifetime, now):
        await _audit(actor, "auth.login_one_time_expired", detail)
        raise LoginRefused(N_("This one-time password has expired. Ask an administrator for "
                              "a new one."))
    aged = not credential.one_time_password and _older_than(credential, policy.max_age, now)
    async with in_transaction():
        credential.last_login_at = now
        credential.must_change_password = credential.must_change_password or aged
        await credential.save(update_fields=["last_login_at", "must_change_password"])
        known, created = await KnownLoginAddress.get_or_create(
            credential=credential, address=login_throttle.source_of(address),
            defaults={"last_login_at": now})
        if not created:
            await KnownLoginAddress.filter(id=known.id).update(last_login_at=now)
        await KnownLoginAddress.filter(
            credential=credential, last_login_at__lt=now - rules.throttle.known_for).delete()
        await audit.record(actor, "auth.login", "staff", staff.id, org_id=actor.org_id,
                           detail=detail | ({"password_expired": True} if aged else {}))
    return actor, credential.must_change_password


def _older_than(credential: WebCredential, age: timedelta | None, now: datetime) -> bool:
    """True when the password was set longer than `age` ago (never, when age is None)."""
    if age is None:
        return False
    return credential.password_changed_at is None or credential.password_changed_at + age <= now


async def _audit(actor: Actor, action: str, detail: dict[str, object]) -> None:
    async with in_transaction():
        await audit.record(actor, action, "staff", actor.staff_id, org_id=actor.org_id,
                           detail=detail)


async def _check_current(actor: Actor, credential: WebCredential, current: str, address: str,
                         throttle: ThrottleRules) -> None:
    """The current password of a password change, throttled and audited like a log-in: a
    name (or name at a known address) that waits is refused unchecked (issue 13)."""
    now = utcnow()
    charges = await _charges(credential, credential.username, address, throttle, now)
    wait = await login_throttle.admit(charges, now)
    detail = {"address": address}
    if wait is not None:
        await _audit(actor, "auth.password_change_locked", detail)
        raise DomainError(CHANGE_LOCKED, minutes=_minutes(wait))
    if not await password_matches(credential.password_hash, current):
        await _audit(actor, "auth.password_change_failed", detail)
        raise DomainError(N_("The current password is wrong."))
    await login_throttle.release(charges)


async def load_actor(staff_id: int) -> Actor | None:
    """The actor behind a web session, or None when the staff is gone or deactivated."""
    staff = await Staff.get_or_none(id=staff_id, active=True)
    return await actor_for(staff) if staff else None


async def must_change_password(staff_id: int) -> bool:
    """True until a one-time or aged password is replaced (S3)."""
    credential = await WebCredential.get_or_none(staff_id=staff_id)
    return bool(credential and credential.must_change_password)


async def forced_change(staff_id: int, policy: PasswordPolicy = DEFAULT_POLICY
                        ) -> tuple[str, dict[str, int]] | None:
    """Why the user must change his password now, as a message and its parameters."""
    credential = await WebCredential.get_or_none(staff_id=staff_id)
    if credential is None or not credential.must_change_password:
        return None
    if credential.one_time_password or policy.max_age is None:
        return ONE_TIME_CHANGE, {}
    return AGED_CHANGE, {"days": policy.max_age.days}


async def change_password(actor: Actor, current: str, new: str, repeat: str,
                          policy: PasswordPolicy = DEFAULT_POLICY, *,
                          address: str = UNKNOWN_ADDRESS,
                          throttle: ThrottleRules = DEFAULT_RULES.throttle) -> None:
    """Change one's own password after checking the current one, the policy and the
    history; a one-time password can never be kept (S3). A wrong current password counts
    as a failed log-in of the account, with its waits, and is audited (issue 13)."""
    if new != repeat:
        raise DomainError(N_("The two new passwords differ."))
    credential = await WebCredential.get(staff_id=actor.staff_id)
    check_policy(new, credential.username, policy)
    await _check_current(actor, credential, current, address, throttle)
    if await password_matches(credential.password_hash, new):
        raise DomainError(N_("The new password must differ from the current one."))
    if await used_before(credential, new, policy.history):
        raise DomainError(N_("The new password must differ from your last %(n)d passwords."),
                          n=policy.history)
    new_hash = await hash_password(new)
    async with in_transaction():
        await store_password(credential, new_hash, one_time=False, keep=policy.history)
        await audit.record(actor, "auth.password_change", "staff", actor.staff_id,
                           org_id=actor.org_id)
