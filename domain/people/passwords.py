"""Argon2 password hashing and the password policy (S3)."""

from __future__ import annotations

from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from domain.platform.errors import N_, DomainError

MIN_PASSWORD_LENGTH = 10
PRODUCTION_COST = RFC_9106_LOW_MEMORY
_hasher = PasswordHasher.from_parameters(PRODUCTION_COST)


def use_hash_cost(parameters: Parameters) -> None:
    """Hash new passwords at another argon2 cost; a stored hash carries its own parameters,
    so it verifies whatever the current cost. Test fixtures use argon2's cheapest profile;
    production never calls this."""
    global _hasher
    _hasher = PasswordHasher.from_parameters(parameters)


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """True when the password fits the stored hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_policy(password: str) -> None:
    """Refuse short passwords and passwords without both letters and digits."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            N_("The password must have at least %(n)d characters."), n=MIN_PASSWORD_LENGTH
        )
    if not (any(c.isalpha() for c in password) and any(c.isdigit() for c in password)):
        raise DomainError(N_("The password must contain letters and digits."))
