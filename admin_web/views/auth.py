"""Log-in, log-out and the password change (S3)."""

from __future__ import annotations

from aiohttp import web
from aiohttp_session import get_session, new_session
from multidict import MultiDict

from admin_web import sessions
from admin_web.i18n import gettext as _
from admin_web.pages import (
    actor_of,
    attempt,
    flash_and_redirect,
    form_of,
    local_path,
    redirect,
    render,
)
from admin_web.params import max_length, text
from domain.models import WebCredential
from domain.people import auth
from domain.platform import clock
from domain.platform.actors import Actor
from domain.platform.errors import N_


async def login_form(request: web.Request) -> web.Response:
    """Show the log-in form."""
    context = {"username": "", "next": local_path(request.query.get("next"))}
    return await render(request, "auth/login.html", context)


async def _authenticate(form: MultiDict[str]) -> tuple[Actor, bool]:
    """Check the typed credentials; a user name longer than any is refused as such."""
    username = text(form.get("username"), N_("User name"), max_length(WebCredential, "username"))
    return await auth.authenticate(username, form.get("password", ""))


async def login(request: web.Request) -> web.Response:
    """Check the credentials; on success start a fresh session (no fixation)."""
    form = await form_of(request)
    username, target = form.get("username", ""), local_path(form.get("next"))
    result, error = await attempt(_authenticate(form))
    if result is None:
        context = {"username": username, "next": target, "error": error}
        return await render(request, "auth/login.html", context, status=401)
    actor, must_change = result
    locale = (await get_session(request)).get(sessions.LOCALE)
    session = await new_session(request)
    if locale:
        session[sessions.LOCALE] = locale
    assert actor.staff_id is not None
    sessions.start_login(session, actor.staff_id, clock.utcnow().timestamp())
    redirect("/password" if must_change else target)


async def logout(request: web.Request) -> web.Response:
    """End the session and record the log-out."""
    await auth.record_logout(actor_of(request), idle=False)
    sessions.end_login(await get_session(request))
    await flash_and_redirect(request, "/login", _("You have logged out."))


async def password_form(request: web.Request) -> web.Response:
    """Show the password change form."""
    forced = await auth.must_change_password(actor_of(request).staff_id)
    return await render(request, "auth/password.html", {"forced": forced})


async def change_password(request: web.Request) -> web.Response:
    """Change one's own password; the first log-in must pass here."""
    form = await form_of(request)
    actor = actor_of(request)
    _done, error = await attempt(auth.change_password(
        actor, form.get("current", ""), form.get("new", ""), form.get("repeat", "")
    ))
    if error:
        forced = await auth.must_change_password(actor.staff_id)
        context = {"forced": forced, "error": error}
        return await render(request, "auth/password.html", context, status=400)
    await flash_and_redirect(request, "/", _("Your password has been changed."))
