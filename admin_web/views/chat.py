"""The browser chat (/chat): the chat bot's flows for a logged-in user, for demos and training."""

from __future__ import annotations

import asyncio
import math
import re
import secrets
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session
from multidict import MultiDictProxy

from admin_web import sessions
from admin_web.config import ChatPort
from admin_web.i18n import current_locale
from admin_web.pages import actor_of, attempt, configured, flash_and_redirect, redirect, render
from admin_web.params import whole_number
from admin_web.state import CONFIG_KEY
from domain.platform import webchat
from domain.platform.errors import N_, DomainError
from domain.platform.images import MIB, preview_without_exif

CLIENT_ID = re.compile(r"[0-9a-f]{32}")


def new_client_id() -> str:
    """A fresh id for one rendered form, so that submitting it twice acts once."""
    return secrets.token_hex(16)


async def chat_page(request: web.Request) -> web.Response:
    """Show the user's latest chat lines (or those before `?before=<id>`) as bubbles, with
    the forms to write, to send a photo and to share a location."""
    port, actor = request.app[CONFIG_KEY].chat, actor_of(request)
    if port is not None and actor.staff_id is not None:
        await port.open(actor.staff_id, current_locale())
    lines = await webchat.transcript(actor, before_id=_before(request)) if port else []
    return await render(request, "chat/index.html", {
        "enabled": port is not None, "lines": lines, "client_id": new_client_id,
        "earlier": await _earlier(request, lines),
        "max_bytes": port.max_upload_bytes if port else 0,
        "max_mb": port.max_upload_bytes // MIB if port else 0,
    })


async def new_messages(request: web.Request) -> web.Response:
    """The chat lines after `?after=<id>` (the page's polling), or the page of lines before
    `?before=<id>` with its own "earlier" link, as an HTML fragment."""
    after = whole_number(request.query.get("after")) or 0
    lines = await webchat.transcript(actor_of(request), after_id=after,
                                     before_id=None if after else _before(request))
    context: dict[str, Any] = {
        "lines": lines, "client_id": new_client_id,
        "earlier": None if after else await _earlier(request, lines),
        "csrf_token": sessions.csrf_token(request, await get_session(request)),
    }
    return aiohttp_jinja2.render_template("chat/_lines.html", request, context)


def _before(request: web.Request) -> int | None:
    return whole_number(request.query.get("before"))


async def _earlier(request: web.Request, lines: list[webchat.ChatLine]) -> int | None:
    """The id to load the lines before the shown ones from; None when there are none."""
    if lines and await webchat.has_earlier(actor_of(request), lines[0].id):
        return lines[0].id
    return None


async def post(request: web.Request) -> web.Response:
    """Hand a text, a button press or a photo to the chat, then show the chat again (PRG)."""
    port = _port(request)
    form = await request.post()
    client_id = form.get("client_id")
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise DomainError(N_("This form is not valid. Reload the page and try again."))
    staff_id = actor_of(request).staff_id
    assert staff_id is not None
    _done, error = await attempt(port.post(
        staff_id, client_id=client_id, text=_text(form.get("text")),
        button=_text(form.get("button")), upload=await _upload(form.get("photo")),
        location=_location(form), locale=current_locale(),
    ))
    if error:
        await flash_and_redirect(request, "/chat", error)
    redirect("/chat#compose")


async def photo(request: web.Request) -> web.Response:
    """A downscaled copy without EXIF of a photo the user himself sent in chat (C9, C10)."""
    port = _port(request)
    sha256 = request.match_info["sha256"]
    await webchat.require_own_photo(actor_of(request), sha256)
    original = await port.media.aread(sha256)
    preview = await asyncio.to_thread(preview_without_exif, original)
    return web.Response(body=preview, content_type="image/jpeg",
                        headers={"Cache-Control": "private, no-store"})


def _port(request: web.Request) -> ChatPort:
    return configured(request.app[CONFIG_KEY].chat,
                      N_("The browser chat is not enabled on this site."))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _location(form: MultiDictProxy[str | bytes | web.FileField]) -> tuple[float, float] | None:
    """(latitude, longitude) the page's location button read from the browser; None when
    the form carries none; a value that is no number is refused as the flows refuse one."""
    latitude, longitude = _text(form.get("latitude")), _text(form.get("longitude"))
    if not (latitude or longitude):
        return None
    try:
        place = float(latitude), float(longitude)
    except ValueError:
        place = (math.nan, math.nan)
    if not all(map(math.isfinite, place)):
        raise DomainError(N_("This location is not valid. Please share it again."))
    return place


async def _upload(field: object) -> tuple[str, str, bytes] | None:
    """(file name, content type, bytes) of a chosen file; None when no file was chosen."""
    if not isinstance(field, web.FileField) or not field.filename:
        return None
    data = await asyncio.to_thread(field.file.read)
    return field.filename, field.content_type, data
