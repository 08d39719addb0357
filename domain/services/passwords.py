"""Argon2 password hashing and the password policy (S3)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from domain.errors import N_, DomainError

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()


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
