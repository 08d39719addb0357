"""Argon2 password hashing, off the event loop, and the password policy (S3)."""

from __future__ import annotations

import asyncio
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib import resources

from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from domain.platform.errors import N_, DomainError

PRODUCTION_COST = RFC_9106_LOW_MEMORY
MIN_NAME_IN_PASSWORD = 4


class _Hashing:
    """The argon2 hasher of one cost, and a dummy hash of that cost made on first need."""

    def __init__(self, parameters: Parameters) -> None:
        self.hasher = PasswordHasher.from_parameters(parameters)
        self._dummy: str | None = None

    def dummy_hash(self) -> str:
        """A hash of a random secret: what an unknown user name is checked against."""
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_urlsafe(24))
        return self._dummy


_hashing = _Hashing(PRODUCTION_COST)


@dataclass(frozen=True)
class PasswordPolicy:
    """What a new password must be, and how long passwords live (S3).

    `min_classes` counts the kinds of character among lower-case letters, upper-case letters,
    digits and the rest; `history` is how many of the latest passwords, the current one
    included, may not come back; `max_age` of None never expires a password.
    """

    min_length: int = 10
    min_classes: int = 3
    history: int = 5
    one_time_lifetime: timedelta = timedelta(hours=72)
    max_age: timedelta | None = timedelta(days=90)


DEFAULT_POLICY = PasswordPolicy()


def use_hash_cost(parameters: Parameters) -> None:
    """Hash new passwords at another argon2 cost; a stored hash carries its own parameters,
    so it verifies whatever the current cost. Test fixtures use argon2's cheapest profile;
    production never calls this."""
    global _hashing
    _hashing = _Hashing(parameters)


async def hash_password(password: str) -> str:
    """Argon2id hash of a password, computed in a worker thread."""
    return await asyncio.to_thread(_hashing.hasher.hash, password)


async def password_matches(password_hash: str | None, password: str) -> bool:
    """True when the password fits the stored hash, checked in a worker thread.

    Without a hash (an unknown user name) the password is checked against a dummy hash of
    the current cost, so the answer takes as long as for a real account, and is False.
    """
    if password_hash is None:
        await asyncio.to_thread(_verify, None, password)
        return False
    return await asyncio.to_thread(_verify, password_hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    """Argon2 verification, run in a worker thread; None checks against the dummy hash."""
    hashing = _hashing
    try:
        return hashing.hasher.verify(password_hash or hashing.dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def common_passwords() -> frozenset[str]:
    """The deny-list of common passwords shipped with the package, lower case."""
    text = resources.files("domain.people").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def _character_classes(password: str) -> int:
    """How many of lower case, upper case, digits and other characters the password mixes."""
    kinds = (str.islower, str.isupper, str.isdigit,
             lambda c: not (c.islower() or c.isupper() or c.isdigit()))
    return sum(any(kind(c) for c in password) for kind in kinds)


def _core(password: str) -> str:
    """The password without the digits and punctuation people pad a common word with."""
    return password.lower().strip(string.digits + string.punctuation + " ")


def check_policy(password: str, username: str, policy: PasswordPolicy = DEFAULT_POLICY) -> None:
    """Refuse short, plain, common passwords and those holding the user name (S3)."""
    if len(password) < policy.min_length:
        raise DomainError(
            N_("The password must have at least %(n)d characters."), n=policy.min_length
        )
    if _character_classes(password) < policy.min_classes:
        raise DomainError(
            N_("The password must mix at least %(n)d of: lower-case letters, upper-case "
               "letters, digits, other characters."), n=policy.min_classes)
    name = username.strip().lower()
    if len(name) >= MIN_NAME_IN_PASSWORD and name in password.lower():
        raise DomainError(N_("The password must not contain the user name."))
    denied = common_passwords()
    if password.lower() in denied or _core(password) in denied:
        raise DomainError(N_("This password is too common. Choose another one."))
