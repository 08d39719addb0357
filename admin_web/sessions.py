"""The encrypted session cookie and what the site keeps in it."""

from __future__ import annotations

import base64
import hashlib
import secrets

from aiohttp_session import Session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

COOKIE_NAME = "fieldops_admin"
STAFF_ID = "staff_id"
LAST_SEEN = "last_seen"
CSRF = "csrf"
LOCALE = "locale"
FLASH = "flash"


def cookie_storage(secret_key: str, *, secure: bool) -> EncryptedCookieStorage:
    """Fernet-encrypted cookie storage keyed by the SHA-256 of the secret key."""
    key = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode("utf-8")).digest())
    return EncryptedCookieStorage(
        Fernet(key), cookie_name=COOKIE_NAME, httponly=True, samesite="Lax", secure=secure
    )


def csrf_token(session: Session) -> str:
    """The session's CSRF token, created on first use."""
    if CSRF not in session:
        session[CSRF] = secrets.token_urlsafe(32)
    return str(session[CSRF])


def set_flash(session: Session, message: str) -> None:
    """Keep a translated message for the next page shown."""
    session[FLASH] = message


def pop_flash(session: Session) -> str | None:
    """Take the pending message, if any."""
    message = session.pop(FLASH, None)
    return str(message) if message else None


def start_login(session: Session, staff_id: int, now: float) -> None:
    """Fill a fresh session for a staff member who just logged in."""
    session[STAFF_ID] = staff_id
    session[LAST_SEEN] = now
    session[CSRF] = secrets.token_urlsafe(32)


def end_login(session: Session) -> None:
    """Forget the logged-in staff member but keep the chosen language."""
    locale = session.get(LOCALE)
    session.clear()
    if locale:
        session[LOCALE] = locale
