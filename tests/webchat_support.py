"""The browser chat (/chat) over HTTP as a logged-in user's browser posts its forms."""

from __future__ import annotations

import html
import re

from aiohttp.test_utils import TestClient

from tests.admin_support import csrf_token
from tests.chat_support import FIELD


async def say(client: TestClient, text: str) -> str:
    """Type a text into the chat form and return the page shown after it, entities decoded."""
    page = await (await client.get("/chat")).text()
    found = re.search(FIELD, page[page.index('id="compose"'):])
    assert found, page
    return await _post(client, {"text": text, "client_id": found.group(1)})


async def press(client: TestClient, data: str) -> str:
    """Press the newest button carrying `data` and return the page shown after it."""
    page = await (await client.get("/chat")).text()
    forms = re.findall(FIELD + r'>\s*<button name="button" value="' + re.escape(data) + '"', page)
    assert forms, page
    return await _post(client, {"button": data, "client_id": forms[-1]})


async def _post(client: TestClient, fields: dict[str, str]) -> str:
    response = await client.post("/chat", data={**fields,
                                                "csrf_token": await csrf_token(client, "/chat")})
    assert response.status == 200 and response.url.path == "/chat"
    return html.unescape(await response.text())
