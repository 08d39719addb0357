"""Log-in, log-out and the password change (S3)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

from aiohttp import web
from aiohttp_session import get_session, new_session
from multidict import MultiDict

from admin_web import sessions
from admin_web.i18n import gettext as _
from admin_web.pages import (
    actor_of,
    attempt,
    attempt_or_back,
    flash_and_redirect,
    form_of,
    local_path,
    redirect,
    render,
)
from admin_web.params import max_length, text
from admin_web.sessions import SERVER_SESSION_KEY
from admin_web.state import CONFIG_KEY
from domain.models import WebCredential
from domain.people import auth
from domain.people import sessions as server_sessions
from domain.platform.actors import Actor
from domain.platform.errors import N_


async def login_form(request: web.Request) -> web.Response:
    """Show the log-in form."""
    context = {"username": "", "next": local_path(request.query.get("next"))}
    return await render(request, "auth/login.html", context)


def client_address(request: web.Request) -> str:
    """The address a request comes from (S3): the peer, unless the peer is a trusted proxy;
    then the nearest address in X-Forwarded-For that is not a trusted proxy itself."""
    proxies = request.app[CONFIG_KEY].trusted_proxies
    address = _ip(request.remote)
    if address is None:
        return auth.UNKNOWN_ADDRESS
    forwarded = ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")
    for hop in reversed(forwarded):
        if not any(address in network for network in proxies):
            break
        previous = _ip(hop.strip())
        if previous is None:
            break
        address = previous
    return str(address)


def _ip(text: str | None) -> IPv4Address | IPv6Address | None:
    """An IP address, an IPv4-mapped IPv6 one read as IPv4; None for anything else."""
    try:
        address = ip_address(text or "")
    except ValueError:
        return None
    mapped = address.ipv4_mapped if isinstance(address, IPv6Address) else None
    return mapped or address


async def _authenticate(request: web.Request, form: MultiDict[str]) -> tuple[Actor, bool]:
    """Check the typed credentials; a user name longer than any is refused as such."""
    username = text(form.get("username"), N_("User name"), max_length(WebCredential, "username"))
    return await auth.authenticate(username, form.get("password", ""), client_address(request),
                                   request.app[CONFIG_KEY].login)


async def login(request: web.Request) -> web.Response:
    """Check the credentials; on success open a server session and point a fresh cookie at
    it (no fixation)."""
    form = await form_of(request)
    username, target = form.get("username", ""), local_path(form.get("next"))
    result, error = await attempt(_authenticate(request, form))
    if result is None:
        context = {"username": username, "next": target, "error": error}
        return await render(request, "auth/login.html", context, status=401)
    actor, must_change = result
    token = await server_sessions.start_session(
        actor, client_address(request), request.headers.get("User-Agent", ""),
        sessions.rules_of(request.app[CONFIG_KEY]))
    locale = (await get_session(request)).get(sessions.LOCALE)
    session = await new_session(request)
    if locale:
        session[sessions.LOCALE] = locale
    sessions.start_login(session, token)
    redirect("/password" if must_change else target)


async def logout(request: web.Request) -> web.Response:
    """End the server session (audited) and forget it in the cookie."""
    await server_sessions.log_out(actor_of(request), request[SERVER_SESSION_KEY].id)
    sessions.end_login(await get_session(request))
    await flash_and_redirect(request, "/login", _("You have logged out."))


async def _password_page(request: web.Request) -> web.Response:
    """The password change form: why a change is due, the policy (and a refusal kept for it:
    the passwords typed are never kept)."""
    policy = request.app[CONFIG_KEY].login.passwords
    forced = await auth.forced_change(actor_of(request).staff_id, policy)
    context = {"forced": _(forced[0]) % forced[1] if forced else None, "policy": policy}
    return await render(request, "auth/password.html", context)


async def password_form(request: web.Request) -> web.Response:
    """Show the password change form."""
    return await _password_page(request)


async def change_password(request: web.Request) -> web.Response:
    """Change one's own password, ending one's other sessions; the first log-in and an aged
    password must pass here."""
    form = await form_of(request)
    await attempt_or_back(request, server_sessions.change_password(
        actor_of(request), request[SERVER_SESSION_KEY].id, form.get("current", ""),
        form.get("new", ""), form.get("repeat", ""), request.app[CONFIG_KEY].login,
        address=client_address(request)), "/password")
    await flash_and_redirect(request, "/", _("Your password has been changed."))
