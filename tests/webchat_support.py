"""The browser chat (/chat) over HTTP as a logged-in user's browser opens it and posts its
forms."""

from __future__ import annotations

import html
import re

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from tests.admin_support import csrf_token
from tests.chat_support import FIELD


async def open_chat(client: TestClient) -> str:
    """Open the chat page as the menu link does and return it, entities decoded."""
    response = await client.get("/chat")
    assert response.status == 200
    return html.unescape(await response.text())


async def text_form_id(client: TestClient) -> str:
    """The client id of the page's text form (the first form of the compose area)."""
    page = await (await client.get("/chat")).text()
    found = re.search(FIELD, page[page.index('id="compose"'):])
    assert found, page
    return found.group(1)


async def post_chat(client: TestClient, fields: dict[str, str]) -> ClientResponse:
    """Post a chat form with the page's CSRF token."""
    return await client.post("/chat", data={**fields,
                                            "csrf_token": await csrf_token(client, "/chat")})


async def say(client: TestClient, text: str) -> str:
    """Type a text into the chat form and return the page shown after it, entities decoded."""
    return await _shown(await post_chat(client, {"text": text,
                                                 "client_id": await text_form_id(client)}))


async def press(client: TestClient, data: str) -> str:
    """Press the newest button carrying `data` and return the page shown after it."""
    page = await (await client.get("/chat")).text()
    forms = re.findall(FIELD + r'>\s*<button name="button" value="' + re.escape(data) + '"', page)
    assert forms, page
    return await _shown(await post_chat(client, {"button": data, "client_id": forms[-1]}))


async def _shown(response: ClientResponse) -> str:
    assert response.status == 200 and response.url.path == "/chat"
    return html.unescape(await response.text())
