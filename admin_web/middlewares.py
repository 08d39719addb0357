"""Request pipeline: metrics, locale, error pages, CSRF, log-in with idle timeout (S3)."""

from __future__ import annotations

import hmac
import logging
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session import Session, get_session

from admin_web import sessions
from admin_web.config import PASSIVE_ROUTES, PASSWORD_CHANGE_ROUTES, PUBLIC_ROUTES
from admin_web.i18n import error_text, reset_locale, use_locale
from admin_web.i18n import gettext as _
from admin_web.pages import redirect, render
from admin_web.params import refuse_control_characters
from admin_web.state import ACTOR_KEY, CONFIG_KEY, REQUESTS_KEY
from domain.people import auth
from domain.platform import clock
from domain.platform.actors import Actor
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
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'",
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
    """Lock the page down: same-origin resources only, no framing, no sniffing."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


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
    """Refuse any state-changing request whose form lacks the session's CSRF token."""
    if request.method in UNSAFE_METHODS:
        session = await get_session(request)
        expected = str(session.get(sessions.CSRF, ""))
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
async def require_login(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let only logged-in, active staff past; end idle sessions; force the first password change."""
    route = request.match_info.route.name
    if route in PUBLIC_ROUTES or request.match_info.http_exception is not None:
        return await handler(request)
    session = await get_session(request)
    actor = await _session_actor(request, session)
    request[ACTOR_KEY] = actor
    if route not in PASSWORD_CHANGE_ROUTES and await auth.must_change_password(actor.staff_id):
        redirect("/password")
    return await handler(request)


async def _session_actor(request: web.Request, session: Session) -> Actor:
    staff_id = session.get(sessions.STAFF_ID)
    actor = await auth.load_actor(staff_id) if isinstance(staff_id, int) else None
    if actor is None:
        sessions.end_login(session)
        query = urlencode({"next": request.path_qs}) if request.method == "GET" else ""
        redirect(f"/login?{query}" if query else "/login")
    now = clock.utcnow().timestamp()
    idle_minutes = request.app[CONFIG_KEY].session_idle_minutes
    if now - float(session.get(sessions.LAST_SEEN, 0)) > idle_minutes * 60:
        await auth.record_logout(actor, idle=True)
        sessions.end_login(session)
        sessions.set_flash(session, _(
            "You were logged out after %(minutes)d minutes without activity."
        ) % {"minutes": idle_minutes})
        redirect("/login")
    if request.match_info.route.name not in PASSIVE_ROUTES:
        session[sessions.LAST_SEEN] = now
    return actor
