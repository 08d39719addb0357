"""My sessions, and every user's for a system admin: where one is logged in, and ending
sessions (S3)."""

from __future__ import annotations

from aiohttp import web

from admin_web.i18n import gettext as _
from admin_web.pages import actor_of, flash_and_redirect, render
from admin_web.params import path_id
from admin_web.sessions import SERVER_SESSION_KEY
from domain.people import sessions
from domain.platform.access import Permission, can


async def session_list(request: web.Request) -> web.Response:
    """The user's open sessions, the current one marked; every open session for a sysadmin."""
    actor = actor_of(request)
    everyone = (await sessions.all_sessions(actor)
                if can(actor, Permission.SESSION_MANAGE) else None)
    return await render(request, "sessions/list.html", {
        "mine": await sessions.own_sessions(actor), "everyone": everyone,
        "current_id": request[SERVER_SESSION_KEY].id})


async def end(request: web.Request) -> web.Response:
    """End one session: one's own, or anyone's for a system admin."""
    await sessions.end_session(actor_of(request), path_id(request, "session_id"))
    await flash_and_redirect(request, "/sessions", _("The session has ended."))


async def end_others(request: web.Request) -> web.Response:
    """End every session of the user but this one."""
    ended = await sessions.end_other_sessions(actor_of(request), request[SERVER_SESSION_KEY].id)
    await flash_and_redirect(request, "/sessions", _("Sessions ended: %(n)d.") % {"n": ended})
