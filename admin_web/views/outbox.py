"""The outbox: dead messages with a retry button, and the pending count."""

from __future__ import annotations

from aiohttp import web

from admin_web.i18n import gettext as _
from admin_web.links import message_links
from admin_web.pages import actor_of, attempt, flash_and_redirect, render
from admin_web.params import path_id
from domain.models import OutboxStatus
from domain.platform import outbox


async def outbox_page(request: web.Request) -> web.Response:
    """Show dead and expired messages, how many are waiting to be sent or for a chat."""
    actor = actor_of(request)
    dead = await outbox.list_messages(actor, OutboxStatus.DEAD)
    expired = await outbox.list_messages(actor, OutboxStatus.EXPIRED)
    pending = await outbox.count_messages(actor, OutboxStatus.PENDING)
    unbound = await outbox.count_messages(actor, OutboxStatus.WAITING)
    return await render(request, "outbox/list.html", {
        "dead": dead, "pending": pending, "expired": expired, "unbound": unbound,
        "links": message_links([*dead, *expired])})


async def retry(request: web.Request) -> web.Response:
    """Queue a dead message again."""
    message_id = path_id(request, "message_id")
    _done, error = await attempt(outbox.retry_dead(actor_of(request), message_id))
    await flash_and_redirect(request, "/outbox", error or _("The message is queued again."))
