"""The bell's notifications (issue 16): the list of one's own notices, marking them read, and
the unread count the pages poll.

How pages stay current: short polling, not server-sent events. Every page with the bell
(and the review queue and dashboard, whose tables refresh in place) asks `/notifications/
status` every 20 s while its tab is visible (admin_web/static/refresh.js). Polling needs
nothing shared between the web workers behind the load balancer: any worker answers from the
database, with one indexed count. Server-sent events would hold a connection per open tab on
one worker and need a shared wake to learn of a notice written by another process (the
PostgreSQL NOTIFY of `outbox_wake`, and nothing on SQLite); a 20-second delay is well inside
a review's time limit, so the simpler mechanism wins. The poll is passive: it does not keep
an idle session alive (S3).
"""

from __future__ import annotations

from aiohttp import web

from admin_web.notices import notice_view
from admin_web.pages import actor_of, form_of, local_path, redirect, render
from admin_web.paging import page_request, pager
from admin_web.params import path_id, whole_number
from domain.platform import web_notices


async def notification_list(request: web.Request) -> web.Response:
    """The actor's notices, newest first, unread ones marked; `?unread=1` only those."""
    actor = actor_of(request)
    unread_only = request.query.get("unread") == "1"
    page = await web_notices.notices(actor, page_request(request.query),
                                     unread_only=unread_only)
    return await render(request, "notifications/list.html", {
        "notices": [notice_view(actor, notice) for notice in page.rows],
        "paging": pager(request, page), "unread_only": unread_only,
        "newest_id": await web_notices.newest_id(actor)})


async def status(request: web.Request) -> web.Response:
    """The unread count, for the bell of every open page (polled, passive)."""
    return web.json_response({"unread": await web_notices.unread_count(actor_of(request))},
                             headers={"Cache-Control": "no-store"})


async def mark_read(request: web.Request) -> web.Response:
    """Mark one notice read, then open its subject (`open`) or go back (`next`)."""
    form = await form_of(request)
    actor = actor_of(request)
    notice = await web_notices.mark_read(actor, path_id(request, "notice_id"))
    if form.get("open") and (link := notice_view(actor, notice).link):
        redirect(link)
    redirect(local_path(form.get("next"), "/notifications"))


async def mark_all_read(request: web.Request) -> web.Response:
    """Mark the notices read up to the newest one when the list was shown (one that came
    since stays unread)."""
    form = await form_of(request)
    await web_notices.mark_all_read(actor_of(request), whole_number(form.get("up_to")))
    redirect(local_path(form.get("next"), "/notifications"))
