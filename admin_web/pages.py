"""Helpers every view uses: the acting staff member, rendering, redirects, the posted form
(values are read through admin_web.params)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session
from multidict import MultiDict, MultiMapping

from admin_web import sessions
from admin_web.i18n import current_locale, error_text, gettext
from admin_web.params import path_id, refuse_control_characters
from admin_web.state import ACTOR_KEY, TIMEZONE_KEY
from domain.platform import clock, web_notices
from domain.platform.access import Permission, can
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.exports import XLSX_TYPE
from locales import LOCALES

T = TypeVar("T")
ACTIVE_FILTER = {"1": True, "0": False}
NOT_KEPT = frozenset({"csrf_token", "password", "new_password", "current_password"})


def actor_of(request: web.Request) -> Actor:
    """The logged-in staff member handling this request."""
    return request[ACTOR_KEY]


async def base_context(request: web.Request) -> dict[str, Any]:
    """What every page may use: user, permissions, CSRF token, language, flash, error, the
    results of a bulk action."""
    session = await get_session(request)
    actor = request.get(ACTOR_KEY)
    return {
        "actor": actor,
        "may": lambda name: actor is not None and can(actor, Permission(name)),
        "csrf_token": sessions.csrf_token(request, session),
        "locale": current_locale(),
        "locales": LOCALES,
        "flash": sessions.pop_flash(session),
        "path": request.path_qs,
        "error": None,
        "item_results": None,
        "unread_notices": await web_notices.unread_count(actor) if actor else 0,  # the bell
    }


async def render(
    request: web.Request, template: str, context: dict[str, Any] | None = None, *,
    status: int = 200,
) -> web.Response:
    """Render a template inside the layout, with the refusal kept for this page by `refuse`
    (its message, and the typed values over the form's own)."""
    page = await base_context(request) | (context or {})
    note = await sessions.take_note(request, await get_session(request))
    if note.get("path") == request.path:
        page["error"] = page.get("error") or note.get("error")
        if note.get("values") is not None:
            page["form"] = dict(page.get("form") or {}) | note["values"]
        if note.get("results") is not None:
            page["item_results"] = note["results"]
    return aiohttp_jinja2.render_template(template, request, page, status=status)


def redirect(location: str) -> NoReturn:
    """Send the browser to another page of the site (303 after a form)."""
    raise web.HTTPSeeOther(location)


async def flash_and_redirect(request: web.Request, location: str, message: str) -> NoReturn:
    """Show a (translated) message on the next page and go there."""
    sessions.set_flash(await get_session(request), message)
    redirect(location)


def sent(form: MultiMapping[str]) -> dict[str, Any]:
    """A posted form as typed, to keep with its refusal: one value per field, or the list of
    a field sent several times (ticked boxes)."""
    return {name: values if len(values := form.getall(name)) > 1 else values[0]
            for name in form.keys() if name not in NOT_KEPT}


async def refuse(request: web.Request, location: str, error: str,
                 values: dict[str, Any] | None = None) -> NoReturn:
    """Post/redirect/get after a refused form: back to `location` (a page of this site), which
    shows the message and the typed values once; a refresh there sends nothing again."""
    await note_and_redirect(request, location, {"error": error, "values": values})


async def note_and_redirect(request: web.Request, location: str, note: dict[str, Any]
                            ) -> NoReturn:
    """Go to `location` (a page of this site), which shows the note once: its "error", typed
    "values" over its form, "results" of a bulk action."""
    target = local_path(location)
    await sessions.keep_note(request, await get_session(request),
                             note | {"path": urlsplit(target).path})
    redirect(target)


async def attempt_or_back(request: web.Request, call: Awaitable[T], location: str,
                          values: dict[str, Any] | None = None) -> T:
    """Await a service call; on a business rule's refusal go back to `location` with the
    translated message and the typed values (`refuse`). Permission and not-found refusals
    propagate to the error pages."""
    try:
        return await call
    except (PermissionDenied, NotFound):
        raise
    except DomainError as err:
        await refuse(request, location, error_text(err), values)


async def attempt(call: Awaitable[T]) -> tuple[T | None, str | None]:
    """Await a service call; return its result, or the translated refusal of a business rule.

    Permission and not-found refusals propagate to the error pages.
    """
    try:
        return await call, None
    except (PermissionDenied, NotFound):
        raise
    except DomainError as err:
        return None, error_text(err)


def business_today(request: web.Request) -> date:
    """Today's date in the business time zone."""
    return clock.utcnow().astimezone(request.app[TIMEZONE_KEY]).date()


async def form_of(request: web.Request) -> MultiDict[str]:
    """The posted text fields (file uploads are not accepted here)."""
    data = await request.post()
    return MultiDict((k, v) for k, v in data.items() if isinstance(v, str))


def local_path(target: str | None, default: str = "/") -> str:
    """A redirect target inside this site, never an external URL: a path that every browser
    reads alike (browsers drop tabs and line breaks and read a backslash as a slash, so
    `/<tab>/evil.example` would become `//evil.example`) and that names no host."""
    if not target or any(char.isspace() or not char.isprintable() or char == "\\"
                         for char in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def download(exported: tuple[str, bytes]) -> web.Response:
    """An export as an attachment, CSV or XLSX by its file name (S4)."""
    name, data = exported
    kind = "text/csv" if name.endswith(".csv") else XLSX_TYPE
    return web.Response(body=data, content_type=kind, headers={
        "Content-Disposition": f'attachment; filename="{name}"'})


async def switch_active(request: web.Request, key: str,
                        change: Callable[[Actor, int, bool], Awaitable[object]], page: str,
                        done: tuple[str, str]) -> NoReturn:
    """Withdraw a managed row from use or offer it again from its page's toggle; `page` has
    `{}` for the row's id, `done` the (deactivated, reactivated) msgids."""
    form = await form_of(request)
    row_id = path_id(request, key)
    active = form.get("active") == "1"
    await change(actor_of(request), row_id, active)
    await flash_and_redirect(request, page.format(row_id), gettext(done[active]))


def configured(part: T | None, refusal: str) -> T:
    """A part of the site's settings a page needs; refused with the msgid when not set up."""
    if part is None:
        raise DomainError(refusal)
    return part


async def uploaded_text(request: web.Request) -> str:
    """The CSV of the chosen file, or else of the text field `csv_text` (a preview sends it
    back): UTF-8, no control characters."""
    posted = await request.post()
    upload = posted.get("file")
    if isinstance(upload, web.FileField) and upload.filename:
        data = await asyncio.to_thread(upload.file.read)
        try:
            typed = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DomainError(N_("The file is not UTF-8 text.")) from None
    else:
        typed = str(posted.get("csv_text", ""))
    refuse_control_characters(MultiDict(file=typed))
    return typed
