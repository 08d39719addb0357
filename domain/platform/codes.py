"""Codes that name configured things: business types, voucher types, review reasons."""

from __future__ import annotations

import re

from domain.platform.errors import N_, DomainError

CODE_PATTERN = re.compile(r"[A-Z][A-Z0-9_]{1,31}")


def clean_code(code: str) -> str:
    """A code trimmed and upper-cased, refused unless 2 to 32 capitals, digits or
    underscores starting with a letter."""
    code = code.strip().upper()
    if not CODE_PATTERN.fullmatch(code):
        raise DomainError(
            N_("Code %(code)s is not valid: use 2 to 32 capital letters, digits or "
               "underscores, starting with a letter."), code=code,
        )
    return code
