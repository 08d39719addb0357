"""Every URL of the admin site in one place."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from admin_web.views import (
    audit,
    auth,
    bind_codes,
    business_types,
    dashboard,
    health,
    language,
    orgs,
    outbox,
    staff,
)

STATIC_DIR = Path(__file__).parent / "static"
PUBLIC_ROUTES = frozenset({"login", "language", "healthz", "metrics", "static"})
PASSWORD_CHANGE_ROUTES = frozenset({"password", "logout"})


def _resource(app: web.Application, path: str, name: str, *, get: Handler | None = None,
              post: Handler | None = None) -> None:
    resource = app.router.add_resource(path, name=name)
    if get is not None:
        resource.add_route("GET", get)
    if post is not None:
        resource.add_route("POST", post)


def setup_routes(app: web.Application) -> None:
    """Register the pages, the actions and the static files."""
    _resource(app, "/", "dashboard", get=dashboard.index)
    _resource(app, "/login", "login", get=auth.login_form, post=auth.login)
    _resource(app, "/logout", "logout", post=auth.logout)
    _resource(app, "/password", "password", get=auth.password_form, post=auth.change_password)
    _resource(app, "/language", "language", post=language.switch)
    _resource(app, "/orgs", "orgs", get=orgs.org_list, post=orgs.create)
    _resource(app, "/orgs/{org_id:\\d+}", "org", get=orgs.org_page, post=orgs.rename)
    _resource(app, "/staff", "staff_list", get=staff.staff_list)
    _resource(app, "/staff/new", "staff_new", get=staff.new_form, post=staff.create)
    _resource(app, "/staff/{staff_id:\\d+}", "staff", get=staff.staff_page, post=staff.update)
    _resource(app, "/staff/{staff_id:\\d+}/active", "staff_active", post=staff.set_active)
    _resource(app, "/staff/{staff_id:\\d+}/web-login", "staff_web_login",
              post=staff.grant_web_login)
    _resource(app, "/staff/{staff_id:\\d+}/unbind", "staff_unbind", post=staff.unbind)
    _resource(app, "/staff/{staff_id:\\d+}/bind-code", "bind_code", post=bind_codes.issue)
    _resource(app, "/business-types", "business_types", get=business_types.business_type_list)
    _resource(app, "/business-types/new", "business_type_new", get=business_types.new_form,
              post=business_types.create)
    _resource(app, "/business-types/{business_type_id:\\d+}", "business_type",
              get=business_types.business_type_page, post=business_types.update)
    _resource(app, "/business-types/{business_type_id:\\d+}/active", "business_type_active",
              post=business_types.set_active)
    _resource(app, "/audit", "audit", get=audit.audit_log)
    _resource(app, "/outbox", "outbox", get=outbox.outbox_page)
    _resource(app, "/outbox/{message_id:\\d+}/retry", "outbox_retry", post=outbox.retry)
    _resource(app, "/healthz", "healthz", get=health.healthz)
    _resource(app, "/metrics", "metrics", get=health.metrics)
    app.router.add_static("/static", STATIC_DIR, name="static")
