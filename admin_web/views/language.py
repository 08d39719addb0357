"""The language switch (zh_CN / en), kept in the session."""

from __future__ import annotations

from aiohttp import web
from aiohttp_session import get_session

from admin_web import sessions
from admin_web.pages import form_of, local_path, redirect
from locales import LOCALES


async def switch(request: web.Request) -> web.Response:
    """Remember the chosen language and go back to the page it was chosen on."""
    form = await form_of(request)
    locale = form.get("locale", "")
    if locale in LOCALES:
        (await get_session(request))[sessions.LOCALE] = locale
    redirect(local_path(form.get("next")))
