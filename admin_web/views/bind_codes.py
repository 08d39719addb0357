"""One-time bind codes (Q6): issued on a staff member, shown once, never again."""

from __future__ import annotations

from aiohttp import web

from admin_web.pages import actor_of, attempt, flash_and_redirect, render
from admin_web.params import path_id
from admin_web.state import CONFIG_KEY
from domain.people import binding


def deep_link(bot_username: str, code: str) -> str | None:
    """The Telegram link that starts the bot with the code, when the bot is known."""
    return f"https://t.me/{bot_username}?start={code}" if bot_username else None


async def issue(request: web.Request) -> web.Response:
    """Issue a bind code and show it on this response only."""
    staff_id = path_id(request, "staff_id")
    issued, error = await attempt(binding.issue_bind_code(actor_of(request), staff_id))
    if error is not None:
        await flash_and_redirect(request, f"/staff/{staff_id}", error)
    assert issued is not None
    code, bind_code = issued
    context = {"code": code, "bind_code": bind_code, "member": bind_code.staff,
               "link": deep_link(request.app[CONFIG_KEY].bot_username, code)}
    response = await render(request, "bind_codes/issued.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response
