"""Request pipeline: metrics, locale, error pages, the server session (S3), small bodies
before log-in, log-in, CSRF, response headers."""

from __future__ import annotations

import hmac
import logging
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session import get_session

from admin_web import sessions
from admin_web.config import PASSIVE_ROUTES, PASSWORD_CHANGE_ROUTES, PUBLIC_ROUTES
from admin_web.i18n import error_text, reset_locale, use_locale
from admin_web.i18n import gettext as _
from admin_web.pages import redirect, render
from admin_web.params import refuse_control_characters
from admin_web.sessions import SERVER_SESSION_KEY
from admin_web.state import ACTOR_KEY, CONFIG_KEY, REQUESTS_KEY
from domain.people import auth
from domain.people import sessions as server_sessions
from domain.people.sessions import ActiveSession, EndReason
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from locales import normalise

log = logging.getLogger(__name__)
# (title, message) msgids of the HTTP errors aiohttp or a view may raise; others read as 400.
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: (N_("Request refused"), N_("This request could not be understood. Go back and try "
                                    "again.")),
    403: (N_("Access denied"), N_("You may not open this page.")),
    404: (N_("Not found"), N_("This page does not exist.")),
    405: (N_("Request refused"), N_("This address does not accept this kind of request. "
                                    "Use the links and buttons of the site.")),
    413: (N_("Request refused"), N_("This upload is too large. Go back and send a smaller "
                                    "file.")),
}
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Largest body of a request from someone not logged in (the log-in and language forms).
ANONYMOUS_BODY_BYTES = 16 * 1024
HSTS = "max-age=31536000"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class CsrfRefused(Exception):
    """A state-changing request came without the session's CSRF token."""


def route_label(request: web.Request) -> str:
    """The URL pattern that matched, for metrics labels."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every request by method, route and status."""
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[REQUESTS_KEY].count(request.method, route_label(request), status)


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Lock the page down: same-origin resources and forms only, no framing, no sniffing;
    nothing but the static files kept in any cache; HTTPS only when cookies are; no
    software name."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.match_info.route.name != "static" and "no-store" not in response.headers.get(
            "Cache-Control", ""):
        response.headers["Cache-Control"] = "no-store"
    if request.app[CONFIG_KEY].secure_cookies:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    response.headers.popall("Server", None)


@web.middleware
async def select_locale(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Serve the request in the language kept in the session (or the configured default)."""
    session = await get_session(request)
    locale = normalise(session.get(sessions.LOCALE), request.app[CONFIG_KEY].default_locale)
    token = use_locale(locale)
    try:
        return await handler(request)
    finally:
        reset_locale(token)


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn refusals, HTTP errors and crashes into error pages in the layout and the user's
    language; redirects pass through."""
    try:
        return await handler(request)
    except PermissionDenied as err:
        return await _error_page(request, 403, _("Access denied"), error_text(err))
    except CsrfRefused:
        message = _("This form has expired or did not come from this site. "
                    "Go back, reload the page and try again.")
        return await _error_page(request, 403, _("Access denied"), message)
    except NotFound as err:
        return await _error_page(request, 404, _("Not found"), error_text(err))
    except DomainError as err:
        return await _error_page(request, 400, _("Request refused"), error_text(err))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return await _http_error_page(request, exc)
    except Exception:
        log.exception("admin request failed: %s %s", request.method, request.path)
        return await _error_page(request, 500, _("Something went wrong"), _(
            "The page could not be shown because of an error on our side. It has been "
            "logged; try again in a moment or tell the system administrator."))


async def _http_error_page(request: web.Request, exc: web.HTTPException) -> web.Response:
    """The page of an HTTP error raised by aiohttp or a view, keeping its Allow header."""
    title, message = HTTP_ERRORS.get(exc.status, HTTP_ERRORS[400])
    response = await _error_page(request, exc.status, _(title), _(message))
    if "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


async def _error_page(request: web.Request, status: int, title: str, message: str
                      ) -> web.Response:
    """The error page in the layout; a plain translated text if the layout itself fails."""
    context = {"title": title, "message": message}
    try:
        return await render(request, "errors/error.html", context, status=status)
    except Exception:
        log.exception("error page failed: %s %s", request.method, request.path)
        return web.Response(status=status, text=f"{title}\n\n{message}\n")


@web.middleware
async def check_csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse any state-changing request whose form lacks the CSRF token of its server
    session (of the visitor's cookie before log-in)."""
    if request.method in UNSAFE_METHODS:
        server = request.get(SERVER_SESSION_KEY)
        session = await get_session(request)
        expected = server.csrf_token if server else str(session.get(sessions.CSRF, ""))
        sent = (await request.post()).get("csrf_token")
        if not expected or not isinstance(sent, str) or not hmac.compare_digest(
            sent.encode("utf-8"), expected.encode("utf-8")
        ):
            raise CsrfRefused
    return await handler(request)


@web.middleware
async def check_input(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a query or form carrying control characters before any view reads it; every
    other value is read through admin_web.params."""
    refuse_control_characters(request.query)
    if request.method in UNSAFE_METHODS:
        refuse_control_characters(await request.post())
    return await handler(request)


@web.middleware
async def resume_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Find the server session the cookie names (S3; not for static files); one that has
    ended or timed out is dropped from the cookie, with a word on the next page why."""
    cookie = await get_session(request)
    token = cookie.get(sessions.SESSION_ID)
    if isinstance(token, str) and request.match_info.route.name != "static":
        config = request.app[CONFIG_KEY]
        outcome = await server_sessions.resume(
            token, sessions.rules_of(config),
            active=request.match_info.route.name not in PASSIVE_ROUTES)
        if isinstance(outcome, ActiveSession):
            request[SERVER_SESSION_KEY] = outcome
        else:
            sessions.end_login(cookie)
            if outcome is not None:
                sessions.set_flash(cookie, _ended(outcome.reason, config.session_idle_minutes,
                                                  config.session_max_hours))
    return await handler(request)


def _ended(reason: EndReason, idle_minutes: int, max_hours: int) -> str:
    """Why the user has to log in again."""
    if reason is EndReason.IDLE:
        return _("You were logged out after %(minutes)d minutes without activity.") % {
            "minutes": idle_minutes}
    if reason is EndReason.EXPIRED:
        return _("Sessions last at most %(hours)d hours. Please log in again.") % {
            "hours": max_hours}
    return _("Your session has ended. Please log in again.")


@web.middleware
async def limit_anonymous_body(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a large or unsized body from someone not logged in before anything reads it."""
    if request.method in UNSAFE_METHODS and SERVER_SESSION_KEY not in request:
        size = request.content_length
        if size is None or size > ANONYMOUS_BODY_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=ANONYMOUS_BODY_BYTES,
                                                actual_size=size or 0)
    return await handler(request)


@web.middleware
async def require_login(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let only requests of an open server session of active staff past; force the first
    password change."""
    route = request.match_info.route.name
    if route in PUBLIC_ROUTES or request.match_info.http_exception is not None:
        return await handler(request)
    server = request.get(SERVER_SESSION_KEY)
    if server is None:
        query = urlencode({"next": request.path_qs}) if request.method == "GET" else ""
        redirect(f"/login?{query}" if query else "/login")
    request[ACTOR_KEY] = server.actor
    assert server.actor.staff_id is not None
    if route not in PASSWORD_CHANGE_ROUTES and await auth.must_change_password(
            server.actor.staff_id):
        redirect("/password")
    return await handler(request)
