"""The session cookie and what it carries: the id of the server session (S3), the chosen
language, a message for the next page, and the CSRF token of a visitor not logged in."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp_session import Session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet, InvalidToken

from admin_web.config import AdminConfig
from admin_web.state import CONFIG_KEY
from domain.people import sessions as web_sessions
from domain.people.sessions import ActiveSession, SessionRules

COOKIE_NAME = "fieldops_admin"
SESSION_ID = "sid"
CSRF = "csrf"
LOCALE = "locale"
FLASH = "flash"
NOTE = "note"  # a page note waits on the server session (or, before log-in, the note itself)
NOTE_CONTEXT = b"fieldops/page-note/v1\n"
# The server session a request belongs to, once admin_web.middlewares.resume_session found it.
SERVER_SESSION_KEY = web.RequestKey("server_session", ActiveSession)


def cookie_storage(secret_key: str, *, secure: bool) -> EncryptedCookieStorage:
    """Fernet-encrypted cookie storage keyed by the SHA-256 of the secret key."""
    key = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode("utf-8")).digest())
    return EncryptedCookieStorage(
        Fernet(key), cookie_name=COOKIE_NAME, httponly=True, samesite="Lax", secure=secure
    )


def rules_of(config: AdminConfig) -> SessionRules:
    """The idle and absolute lifetimes of sessions the site is configured with (S3)."""
    return SessionRules(idle=timedelta(minutes=config.session_idle_minutes),
                        lifetime=timedelta(hours=config.session_max_hours))


def csrf_token(request: web.Request, session: Session) -> str:
    """The CSRF token of the request's forms: the server session's when logged in, else the
    visitor's own, created on first use."""
    server = request.get(SERVER_SESSION_KEY)
    if server is not None:
        return server.csrf_token
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


async def keep_note(request: web.Request, session: Session, note: dict[str, Any]) -> None:
    """Keep what the next page shows once (post/redirect/get): a refused form's message and
    typed values, a bulk action's results. Sealed under the site's key on the server session;
    before log-in, only the message, in the cookie."""
    server = request.get(SERVER_SESSION_KEY)
    if server is None:
        session[NOTE] = {"path": note.get("path"), "error": note.get("error")}
        return
    sealed = _note_key(request).encrypt(json.dumps(note).encode("utf-8")).decode("ascii")
    await web_sessions.keep_page_note(server.id, sealed)
    session[NOTE] = True


async def take_note(request: web.Request, session: Session) -> dict[str, Any]:
    """Take the note kept for the next page, once; empty when none waits."""
    flag = session.pop(NOTE, None)
    if isinstance(flag, dict):
        return flag
    server = request.get(SERVER_SESSION_KEY)
    if not flag or server is None:
        return {}
    sealed = await web_sessions.take_page_note(server.id)
    if sealed is None:
        return {}
    try:
        kept = json.loads(_note_key(request).decrypt(sealed.encode("ascii")))
    except InvalidToken:  # sealed under a key the site no longer has: nothing to show
        return {}
    return kept if isinstance(kept, dict) else {}


def _note_key(request: web.Request) -> Fernet:
    """The key page notes are sealed with, derived from the site's secret key."""
    secret = request.app[CONFIG_KEY].secret_key.encode("utf-8")
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(NOTE_CONTEXT + secret).digest()))


def start_login(session: Session, token: str) -> None:
    """Point a fresh cookie at the server session just opened for a log-in."""
    session[SESSION_ID] = token


def end_login(session: Session) -> None:
    """Forget the server session but keep the chosen language."""
    locale = session.get(LOCALE)
    session.clear()
    if locale:
        session[LOCALE] = locale
