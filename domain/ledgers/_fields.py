"""Checked text fields of the ledgers' forms and reports."""

from __future__ import annotations

from domain.platform.errors import N_, DomainError


def required_text(value: str, missing: str, max_length: int) -> str:
    """A trimmed text field, refused when empty or longer than the column."""
    clean = " ".join(value.split())
    if not clean:
        raise DomainError(missing)
    if len(clean) > max_length:
        raise DomainError(N_("%(value)s is too long for this field (at most %(max)s "
                             "characters)."), value=clean, max=max_length)
    return clean
