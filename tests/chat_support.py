"""Drive the chat flows through the router as one chat account would, and read the replies."""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

import aiohttp
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from admin_web.app import AdminConfig
from bot.flows import ChatRouter, Inbound, Reply
from bot.flows.messages import Attachment
from bot.webchat import WebChat
from domain.cases.capture_gate import WorkingHours
from domain.models import Staff, WebChatMessage
from domain.people import binding
from tests.admin_support import csrf_token
from tests.factories import (
    ROOT,
    capture_context,
    flow_context,
)

ALL_HOURS = WorkingHours(weekdays=frozenset(range(7)), start=time(0, 0),
                         end=time(23, 59, 59, 999999))
# The once-only id of a browser chat form.
FIELD = r'name="client_id" value="([0-9a-f]{32})"'


async def upload(client: TestClient, photo: bytes, name: str = "id-front.jpg") -> ClientResponse:
    """Send a photo through the browser chat page's file form."""
    page = await (await client.get("/chat")).text()
    form = aiohttp.FormData()
    form.add_field("csrf_token", await csrf_token(client, "/chat"))
    form.add_field("client_id", re.findall(FIELD, page)[-1])
    form.add_field("photo", io.BytesIO(photo), filename=name, content_type="image/jpeg")
    return await client.post("/chat", data=form)


def chat_router(tmp_path: Path, default_locale: str = "zh_CN", **capture: object) -> ChatRouter:
    """A router over the real flows, open at every hour, media under tmp/media."""
    return ChatRouter(flow_context(tmp_path / "media", **({"hours": ALL_HOURS} | capture)),
                      default_locale)


@dataclass
class RouterChat:
    """One Telegram chat account talking to the router; keeps every reply it got."""

    router: ChatRouter
    user: str
    said: list[Reply] = field(default_factory=list)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def _next(self) -> str:
        return str(next(self.ids))

    async def deliver(self, inbound: Inbound) -> list[Reply]:
        """Hand one event to the router; its replies."""
        replies = await self.router.handle(inbound)
        self.said.extend(replies)
        return replies

    async def say(self, text: str) -> list[Reply]:
        """A typed text or command."""
        number = self._next()
        return await self.deliver(Inbound.message("telegram", number, self.user, self.user, text,
                                                  message_id=number))

    async def press(self, data: str) -> list[Reply]:
        """A button press with the given callback data."""
        number = self._next()
        return await self.deliver(Inbound.button("telegram", number, self.user, self.user, data,
                                                 f"q{number}"))

    async def photo(self, content: bytes) -> list[Reply]:
        """A photo sent from the phone."""
        number = self._next()

        async def fetch() -> bytes:
            return content

        return await self.deliver(Inbound.upload(
            "telegram", number, self.user, self.user,
            Attachment(f"{number}.jpg", "image/jpeg", len(content), fetch), message_id=number))

    async def location(self, latitude: float, longitude: float) -> list[Reply]:
        """A location shared from the phone."""
        number = self._next()
        return await self.deliver(Inbound.shared_location(
            "telegram", number, self.user, self.user, latitude, longitude, message_id=number))


@dataclass
class BrowserChat:
    """One staff member's browser chat, driven through its adapter as the /chat forms are."""

    web: WebChat
    staff_id: int
    locale: str = "en"
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def post(self, *, text: str = "", button: str = "") -> list[Reply]:
        """Submit one form (a text or a button press); the bot's lines it added."""
        last = await WebChatMessage.filter(staff_id=self.staff_id).order_by("-id").first()
        await self.web.post(self.staff_id, client_id=f"{next(self.ids):032x}", text=text,
                            button=button, locale=self.locale)
        rows = await WebChatMessage.filter(staff_id=self.staff_id, from_bot=True,
                                           id__gt=last.id if last else 0)
        return [Reply(row.text, tuple(tuple((label, data) for label, data in buttons)
                                      for buttons in row.buttons)) for row in rows]


def button(replies: list[Reply], label: str) -> str:
    """The data of the button with this label in the replies (the last one wins)."""
    found = [data for reply in replies for row in reply.buttons for text, data in row
             if text == label]
    assert found, [reply.buttons for reply in replies]
    return found[-1]


async def bind(member: Staff, user: str) -> None:
    """Bind a staff member's Telegram account through the domain (Q6)."""
    code, _ = await binding.issue_bind_code(ROOT, member.id)
    await binding.bind_chat("telegram", user, user, code)


def chat_config(tmp_path: Path, **capture: object) -> AdminConfig:
    """An admin site with the browser chat on, open at every hour, media under tmp/media."""
    media_root = tmp_path / "media"
    chat = WebChat(flow_context(media_root, hours=ALL_HOURS, **capture), "zh_CN")
    return AdminConfig(secret_key="chat-secret", capture=capture_context(media_root), chat=chat)
