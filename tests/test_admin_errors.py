"""Error pages: every refusal and crash is a page of the site, in the user's language."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from admin_web.app import init_app
from domain.models import Role
from locales import translate
from tests.admin_support import CONFIG, csrf_token, log_in, submit
from tests.factories import org_tree, web_user

CRASH_PAGE = "/crash-for-the-test"


async def crash(request: web.Request) -> web.Response:
    """A view with a bug in it."""
    raise RuntimeError("a bug in a view")


def site_with_a_bug() -> web.Application:
    """The admin site plus one page whose view crashes."""
    app = init_app(CONFIG)
    app.router.add_get(CRASH_PAGE, crash, name="crash")
    return app


async def logged_in(client: TestClient, locale: str) -> None:
    """A logged-in auditor: he reads, but not the outbox."""
    ids = await org_tree()
    _, username = await web_user(ids["province"], Role.AUDITOR, no="A001")
    assert (await log_in(client, username)).status == 200
    if locale == "en":
        await submit(client, "/language", {"locale": "en", "next": "/"})


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
async def test_errors_are_pages_of_the_site_in_the_users_language(
    database_url: str, locale: str
) -> None:
    def text(msgid: str) -> str:
        return translate(locale, msgid)

    async with TestClient(TestServer(site_with_a_bug())) as client:
        await logged_in(client, locale)
        token = await csrf_token(client, "/")
        pages = {
            "forbidden": await client.get("/outbox"),
            "missing route": await client.get("/no-such-page"),
            "missing row": await client.get("/staff/99999"),
            "csrf": await client.post("/incidents/1/close", data={"resolution": "x"}),
            "method": await client.post("/incidents", data={"csrf_token": token}),
            "crash": await client.get(CRASH_PAGE),
        }
        bodies = {name: await response.text() for name, response in pages.items()}
    statuses = {name: response.status for name, response in pages.items()}
    assert statuses == {"forbidden": 403, "missing route": 404, "missing row": 404,
                        "csrf": 403, "method": 405, "crash": 500}
    assert pages["method"].headers["Allow"] == "GET"
    lang = 'lang="zh-CN"' if locale == "zh_CN" else 'lang="en"'
    for name, body in bodies.items():
        assert lang in body and 'class="topbar"' in body, name
        assert text("FieldOps admin") in body and text("Back to the dashboard") in body, name
        assert "a bug in a view" not in body and "405: Method Not Allowed" not in body, name
    assert text("Access denied") in bodies["forbidden"]
    assert text("This page does not exist.") in bodies["missing route"]
    assert text("No such staff member.") in bodies["missing row"]
    assert text("This form has expired or did not come from this site. "
                "Go back, reload the page and try again.") in bodies["csrf"]
    assert text("This address does not accept this kind of request. "
                "Use the links and buttons of the site.") in bodies["method"]
    assert text("Something went wrong") in bodies["crash"]
