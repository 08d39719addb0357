"""The outbox by state (issue 16): one tab per state with its count; each message with its
channel, recipient, kind in words and, in plain words, why it stands there — above all when it
cannot be sent; dead messages with a retry button."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from admin_web.i18n import gettext as _
from admin_web.i18n import status_text
from admin_web.links import subject_link
from admin_web.notices import kind_words
from admin_web.pages import actor_of, attempt, flash_and_redirect, render
from admin_web.paging import page_request, pager
from admin_web.params import choice, path_id
from admin_web.state import TIMEZONE_KEY
from admin_web.templating import channel_label, local_time_filter
from domain.models import OutboxMessage, OutboxStatus
from domain.platform import outbox, outbox_states
from domain.platform.actors import Actor
from domain.platform.intents import KINDS
from domain.platform.outbox_states import Reason

# The states a look at the outbox starts with: what cannot go out first.
ATTENTION = (OutboxStatus.DEAD, OutboxStatus.WAITING, OutboxStatus.PENDING)
Shown = Callable[[datetime | None], str]  # a moment in the business time zone


async def outbox_page(request: web.Request) -> web.Response:
    """Show the messages of one state (`?state=`; by default the first of failed, waiting
    for a chat account and waiting to be sent that holds any), newest first, with the count
    of every state."""
    actor = actor_of(request)
    counts = await outbox_states.state_counts(actor)
    state = choice(request.query.get("state"), OutboxStatus) or next(
        (s for s in ATTENTION if counts[s]), OutboxStatus.PENDING)
    page = await outbox_states.messages_in(actor, state, page_request(request.query))
    reasons = await outbox_states.reasons(page.rows)
    shown = local_time_filter(request.app[TIMEZONE_KEY])
    return await render(request, "outbox/list.html", {
        "state": state, "tabs": [(s, status_text(OutboxStatus, s), counts[s])
                                 for s in outbox_states.STATES],
        "rows": [_row(actor, message, reasons[message.id], shown) for message in page.rows],
        "paging": pager(request, page)})


def _row(actor: Actor, message: OutboxMessage, reason: Reason, shown: Shown
         ) -> dict[str, Any]:
    """One message as the table shows it."""
    intent = outbox.intent_of(message) if message.kind in KINDS else None
    return {"id": message.id, "created_at": message.created_at, "recipient": message.recipient,
            "channel": channel_label(message.channel), "attempts": message.attempts,
            "kind": kind_words(message.kind),
            "link": subject_link(actor, intent.subject) if intent else None,
            "reason": reason_text(reason, shown), "blocked": reason.blocked,
            "dead": message.status == OutboxStatus.DEAD,
            "error": message.last_error if message.status == OutboxStatus.DEAD else ""}


def reason_text(reason: Reason, shown: Shown) -> str:
    """A reason in the reader's words: times in the business time zone, channels by name."""
    params = {name: shown(value) if isinstance(value, datetime)
              else channel_label(value) if name == "channel" else value
              for name, value in reason.params.items()}
    return _(reason.text) % params if params else _(reason.text)


async def retry(request: web.Request) -> web.Response:
    """Queue a dead message again."""
    message_id = path_id(request, "message_id")
    _done, error = await attempt(outbox.retry_dead(actor_of(request), message_id))
    await flash_and_redirect(request, "/outbox?state=dead",
                             error or _("The message is queued again."))
