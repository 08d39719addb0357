"""A form page checks the permission of its form: a role whose post is refused is refused the
form page too, and a list or a row's page shows it no form it may not send (issue 11)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp.test_utils import TestClient

from admin_web.config import PUBLIC_ROUTES
from tests.admin_support import (
    DEMO_USERS,
    admin_site,
    csrf_token,
    demo_log_in,
    fill,
    site_config,
    valid_path_values,
)

# Pages that answer their own form for everyone: the password change and the browser chat.
SELF_SERVICE = frozenset({"password", "chat"})
# Form pages whose name does not end in _new.
FORM_ONLY = frozenset({"voucher_receive"})


def form_pages(client: TestClient) -> list[tuple[str, str]]:
    """(route name, pattern) of every resource with a page and a form posted to it: new
    ones are covered too."""
    app = client.server.app
    assert app is not None
    methods: dict[tuple[str, str], set[str]] = {}
    for route in app.router.routes():
        resource = route.resource
        if resource is None or resource.name is None:
            continue
        methods.setdefault((resource.name, resource.canonical), set()).add(route.method)
    return sorted(key for key, found in methods.items() if {"GET", "POST"} <= found
                  and key[0] not in PUBLIC_ROUTES | SELF_SERVICE)


def form_only(name: str) -> bool:
    """Whether a page is nothing but its form (a new row, a receipt), not a list or a row
    that also offers one."""
    return name.endswith("_new") or name in FORM_ONLY


async def offered_to_the_refused(client: TestClient, name: str, url: str) -> bool:
    """Whether a user whose post to the URL is refused may still open its form page, or is
    shown its form on a list or a row's page."""
    posted = await client.post(url, data={"csrf_token": await csrf_token(client, "/")})
    await posted.read()
    if posted.status != 403:
        return False
    page = await client.get(url)
    html = await page.text()
    if page.status == 403:
        return False
    return form_only(name) or f'<form method="post" action="{url}"' in html


async def test_no_page_offers_a_form_its_user_may_not_send(every_kind_media: Path) -> None:
    valid = await valid_path_values()
    offered: list[tuple[str, str]] = []
    checked = 0
    async with AsyncExitStack() as stack:
        clients = {username: await stack.enter_async_context(
            admin_site(site_config(every_kind_media))) for username in DEMO_USERS}
        for username, client in clients.items():
            assert (await demo_log_in(client, username)).url.path == "/"
        for name, pattern in form_pages(clients["admin"]):
            url = fill(pattern, valid)
            for username, client in clients.items():
                checked += 1
                if await offered_to_the_refused(client, name, url):
                    offered.append((username, name))
    assert checked > 80
    assert offered == [], offered


async def test_an_auditor_may_not_open_the_new_staff_form(every_kind_media: Path) -> None:
    async with admin_site(site_config(every_kind_media)) as client:
        assert (await demo_log_in(client, "auditor")).url.path == "/"
        page = await client.get("/staff/new")
        assert page.status == 403
        assert 'name="employee_no"' not in await page.text()
