"""The admin site's app factory (aiohttp-demos "polls" layout)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp_session import session_middleware

from admin_web.config import AdminConfig
from admin_web.middlewares import (
    add_security_headers,
    check_csrf,
    check_input,
    count_requests,
    error_pages,
    limit_anonymous_body,
    require_login,
    resume_session,
    select_locale,
)
from admin_web.routes import setup_routes
from admin_web.sessions import cookie_storage
from admin_web.state import CONFIG_KEY, REQUESTS_KEY, TIMEZONE_KEY, RequestCounter
from admin_web.templating import setup_templates

FORM_BODY_BYTES = 1024 * 1024
# Opens a resource for as long as its block runs (the composition root hands in the database).
Resource = Callable[[], AbstractAsyncContextManager[object]]


def body_limit(config: AdminConfig) -> int:
    """Largest request body: a plain form, plus twice the largest chat photo when chat is on.

    The headroom lets the chat refuse an oversized photo with a clear message.
    """
    return FORM_BODY_BYTES + (2 * config.chat.max_upload_bytes if config.chat else 0)


def init_app(config: AdminConfig, database: Resource | None = None) -> web.Application:
    """Build the admin site; starting it opens `database` and stopping it closes it.

    Without `database` the caller holds the database open, as the tests' fixtures do.
    """
    if not config.secret_key:
        raise ValueError("AdminConfig.secret_key must not be empty")
    storage = cookie_storage(config.secret_key, secure=config.secure_cookies)
    app = web.Application(middlewares=[
        count_requests, session_middleware(storage), select_locale, error_pages, resume_session,
        limit_anonymous_body, require_login, check_csrf, check_input,
    ], client_max_size=body_limit(config))
    zone = ZoneInfo(config.business_timezone)
    app[CONFIG_KEY] = config
    app[TIMEZONE_KEY] = zone
    app[REQUESTS_KEY] = RequestCounter()
    setup_templates(app, zone)
    setup_routes(app)
    app.on_response_prepare.append(add_security_headers)
    if database is not None:
        app.cleanup_ctx.append(lambda _: database())
    return app
