"""A fake Telegram Bot API server for tests and benchmarks: records calls, injects faults.

It speaks the HTTP shape python-telegram-bot uses (form or multipart fields, JSON-encoded
where the value is not a string) on 127.0.0.1 at a random port. Tests push updates into
the `getUpdates` queue and read back what the bot sent.

Given `limits`, it enforces Telegram's sending limits as the real server does (issue 14):
429 with `retry_after` past 30 messages/s overall or 1 message/s to one chat, a flood ban
that answers 429 to everything, and a latency per message sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:FAKE-fieldops-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "FieldOps", "username": "fieldops_bot"}
JSON_FIELDS = {"reply_markup", "allowed_updates", "entities", "reply_parameters",
               "link_preview_options"}
WAIT_SECONDS = 10.0
# Methods that send a message, counted against the limits (`Limits`).
MESSAGE_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
ERROR_TEXT = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
              400: "Bad Request", 403: "Forbidden: bot was blocked by the user"}

Params = dict[str, Any]


@dataclass(frozen=True)
class ApiCall:
    """One Bot API request as the fake received it."""

    method: str
    params: Params
    at: float
    status: int = 200
    malformed: bool = False


@dataclass(frozen=True)
class Fault:
    """An error the fake answers instead of the next call of a method."""

    status: int
    retry_after: int | None = None
    malformed: bool = False


@dataclass(frozen=True)
class Limits:
    """Telegram's sending limits as the limit-enforcing fake applies them (issue 14):
    at most `per_second` messages in any second (any `window` seconds, for tests that must
    not depend on speed), `chat_gap` seconds between two messages to a chat, a refusal
    answered 429 `retry_after`; every message takes `latency` seconds."""

    per_second: int = 30
    window: float = 1.0
    chat_gap: float = 1.0
    retry_after: int = 1
    latency: float = 0.0


@dataclass(frozen=True)
class Accepted:
    """A message the limit-enforcing fake accepted: its chat, text and arrival (monotonic)."""

    chat_id: str
    text: str
    at: float


@dataclass
class FakeTelegram:
    """The fake Bot API; use `async with FakeTelegram() as fake:`."""

    token: str = TOKEN
    limits: Limits | None = None
    calls: list[ApiCall] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    rate_refusals: int = 0  # 429s for going past the limits
    ban_refusals: int = 0  # 429s answered during a flood ban
    files: dict[str, bytes] = field(default_factory=dict)
    webhook: Params = field(default_factory=dict)
    _pending: list[Params] = field(default_factory=list)
    _faults: dict[str, deque[Fault]] = field(default_factory=lambda: defaultdict(deque))
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    # Telegram numbers a bot's updates one by one: webhook workers wait for a missing one.
    _update_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _recorded: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _banned_until: float = 0.0
    _ban_retry_after: int = 5
    _last_second: deque[float] = field(default_factory=deque)
    _last_to_chat: dict[str, float] = field(default_factory=dict)
    url: str = ""

    async def __aenter__(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        self._arrived.set()  # a long poll in flight answers now instead of at its timeout
        await self._runner.cleanup()

    @property
    def api_base_url(self) -> str:
        """The `base_url` to give python-telegram-bot."""
        return f"{self.url}/bot"

    @property
    def file_base_url(self) -> str:
        """The `base_file_url` to give python-telegram-bot."""
        return f"{self.url}/file/bot"

    def push(self, *updates: Params) -> None:
        """Queue updates for getUpdates (pushed together, they come in one batch)."""
        self._pending.extend(updates)
        self._arrived.set()

    def fail_next(self, method: str, count: int = 1, status: int = 500,
                  retry_after: int | None = None) -> None:
        """Answer the next `count` calls of a method with an error."""
        self._faults[method].extend([Fault(status, retry_after)] * count)

    def flood_ban(self, seconds: float, retry_after: int = 5) -> None:
        """Answer every request 429 `retry_after` for the next `seconds` (limit mode)."""
        self._banned_until = time.monotonic() + seconds
        self._ban_retry_after = retry_after

    @property
    def refusals(self) -> int:
        """All 429s the limit mode answered."""
        return self.rate_refusals + self.ban_refusals

    def answer_malformed_next(self, method: str, count: int = 1) -> None:
        """Answer the next `count` calls of a method "ok" with an empty result, which no
        client can read (a Bot API or a proxy answering something unexpected)."""
        self._faults[method].extend([Fault(200, malformed=True)] * count)

    def sent(self, chat_id: int | str | None = None) -> list[ApiCall]:
        """Successful sendMessage calls, to one chat or to all."""
        return [c for c in self.calls if c.method == "sendMessage" and c.status == 200
                and not c.malformed
                and (chat_id is None or str(c.params["chat_id"]) == str(chat_id))]

    def deleted(self, chat_id: int | str) -> list[int]:
        """Ids of the messages the bot deleted successfully in a chat, in order."""
        return [int(c.params["message_id"]) for c in self.calls
                if c.method == "deleteMessage" and c.status == 200
                and str(c.params["chat_id"]) == str(chat_id)]

    def texts(self, chat_id: int | str) -> list[str]:
        """Texts successfully sent to a chat, in order."""
        return [c.params["text"] for c in self.sent(chat_id)]

    async def wait_until(self, condition: Callable[[], bool],
                         seconds: float = WAIT_SECONDS) -> None:
        """Wait (at most `seconds`) until a condition on the recorded calls holds."""
        async with asyncio.timeout(seconds):
            while not condition():
                self._recorded.clear()
                await self._recorded.wait()

    def message(self, user_id: int, text: str, language_code: str | None = None) -> Params:
        """An update with a private text message (commands get their entity)."""
        message = self._message(user_id, self._user(user_id, language_code), text)
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": len(text.split()[0])}]
        return {"update_id": next(self._update_ids), "message": message}

    def button(self, user_id: int, data: str, language_code: str | None = None) -> Params:
        """An update with a callback query from a button under an earlier bot message."""
        query = {"id": f"cbq{next(self._ids)}", "from": self._user(user_id, language_code),
                 "chat_instance": f"ci{user_id}", "data": data,
                 "message": self._message(user_id, BOT_USER, "…")}
        return {"update_id": next(self._update_ids), "callback_query": query}

    def photo(self, user_id: int, content: bytes, caption: str = "", width: int = 1200,
              height: int = 900, language_code: str | None = None) -> Params:
        """An update with a photo (a thumbnail and the full size); its bytes are downloadable."""
        file_id = f"photo{next(self._ids)}"
        self.files[file_id] = content
        message = self._upload(user_id, caption, language_code)
        message["photo"] = [
            {"file_id": f"{file_id}t", "file_unique_id": f"u{file_id}t", "width": 90,
             "height": 90 * height // width, "file_size": 1024},
            {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": width,
             "height": height, "file_size": len(content)},
        ]
        return {"update_id": next(self._update_ids), "message": message}

    def document(self, user_id: int, content: bytes, file_name: str, mime_type: str,
                 file_size: int | None = None, caption: str = "",
                 language_code: str | None = None) -> Params:
        """An update with a file; `file_size` is what Telegram announces (default: the real one)."""
        file_id = f"doc{next(self._ids)}"
        self.files[file_id] = content
        message = self._upload(user_id, caption, language_code)
        message["document"] = {"file_id": file_id, "file_unique_id": f"u{file_id}",
                               "file_name": file_name, "mime_type": mime_type,
                               "file_size": len(content) if file_size is None else file_size}
        return {"update_id": next(self._update_ids), "message": message}

    def location(self, user_id: int, latitude: float, longitude: float,
                 language_code: str | None = None) -> Params:
        """An update with a location shared from the phone."""
        message = self._upload(user_id, "", language_code)
        message["location"] = {"latitude": latitude, "longitude": longitude}
        return {"update_id": next(self._update_ids), "message": message}

    def downloads(self, file_id: str) -> int:
        """How often the bot asked for a file (getFile) before downloading it."""
        return sum(1 for c in self.calls
                   if c.method == "getFile" and c.params.get("file_id") == file_id)

    def _upload(self, user_id: int, caption: str, language_code: str | None) -> Params:
        message = self._message(user_id, self._user(user_id, language_code), "")
        del message["text"]
        if caption:
            message["caption"] = caption
        return message

    def _user(self, user_id: int, language_code: str | None) -> Params:
        user: Params = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if language_code:
            user["language_code"] = language_code
        return user

    def _message(self, chat_id: int, sender: Params, text: str) -> Params:
        return {"message_id": next(self._ids), "date": int(time.time()), "from": sender,
                "chat": {"id": chat_id, "type": "private"}, "text": text}

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        if self.limits is not None:
            refusal = self._refusal(method, params, self.limits)
            if refusal is not None:
                self._record(ApiCall(method, params, time.monotonic(), 429))
                return _error(429, f"Too Many Requests: retry after {refusal}", refusal)
        fault = self._next_fault(method)
        self._record(ApiCall(method, params, time.monotonic(), fault.status if fault else 200,
                             fault is not None and fault.malformed))
        if fault is not None and fault.malformed:
            return web.json_response({"ok": True, "result": {}})
        if fault is not None:
            return _error(fault.status, ERROR_TEXT.get(fault.status, "Error"), fault.retry_after)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        if self.limits is not None and self.limits.latency and method in MESSAGE_METHODS:
            await asyncio.sleep(self.limits.latency)
        return web.json_response({"ok": True, "result": await handler(params)})

    def _refusal(self, method: str, params: Params, limits: Limits) -> int | None:
        """The `retry_after` of a 429 the limits call for, or None when the call may go on
        (a message is then accepted and counted)."""
        now = time.monotonic()
        if now < self._banned_until:
            self.ban_refusals += 1
            return self._ban_retry_after
        if method not in MESSAGE_METHODS:
            return None
        chat = str(params.get("chat_id"))
        while self._last_second and self._last_second[0] <= now - limits.window:
            self._last_second.popleft()
        last = self._last_to_chat.get(chat)
        if len(self._last_second) >= limits.per_second or (
                last is not None and now - last < limits.chat_gap):
            self.rate_refusals += 1
            return limits.retry_after
        self._last_second.append(now)
        self._last_to_chat[chat] = now
        self.accepted.append(Accepted(chat, str(params.get("text", "")), now))
        return None

    def _next_fault(self, method: str) -> Fault | None:
        queue = self._faults[method]
        return queue.popleft() if queue else None

    def _record(self, call: ApiCall) -> None:
        self.calls.append(call)
        self._recorded.set()

    async def _download(self, request: web.Request) -> web.Response:
        content = self.files.get(request.match_info["path"])
        if request.match_info["token"] != self.token or content is None:
            return web.Response(status=404)
        return web.Response(body=content)

    async def _m_getMe(self, params: Params) -> Params:
        return {**BOT_USER, "can_join_groups": False, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    async def _m_getUpdates(self, params: Params) -> list[Params]:
        offset = int(params.get("offset") or 0)
        self._pending = [u for u in self._pending if u["update_id"] >= offset]
        timeout = float(params.get("timeout") or 0)
        if not self._pending and timeout:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout)
        return self._pending[: int(params.get("limit") or 100)]

    async def _m_setWebhook(self, params: Params) -> bool:
        self.webhook = params
        return True

    async def _m_deleteWebhook(self, params: Params) -> bool:
        self.webhook = {}
        return True

    async def _m_sendMessage(self, params: Params) -> Params:
        message = self._message(int(params["chat_id"]), BOT_USER, params["text"])
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _m_editMessageText(self, params: Params) -> Params:
        message = self._message(int(params["chat_id"]), BOT_USER, params["text"])
        return {**message, "message_id": int(params["message_id"])}

    async def _m_deleteMessage(self, params: Params) -> bool:
        return True

    async def _m_answerCallbackQuery(self, params: Params) -> bool:
        return True

    async def _m_getFile(self, params: Params) -> Params:
        file_id = params["file_id"]
        content = self.files.get(file_id, b"")
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(content),
                "file_path": file_id}

    async def _m_sendPhoto(self, params: Params) -> Params:
        photo = params["photo"]
        file_id = photo if isinstance(photo, str) else f"photo{next(self._ids)}"
        if not isinstance(photo, str):
            self.files[file_id] = photo
        message = self._message(int(params["chat_id"]), BOT_USER, "")
        del message["text"]
        message["photo"] = [{"file_id": file_id, "file_unique_id": f"u{file_id}",
                             "width": 1, "height": 1}]
        return message


async def _params(request: web.Request) -> Params:
    """Request fields, JSON-decoded where python-telegram-bot JSON-encodes them."""
    if request.content_type == "application/json":
        return dict(await request.json())
    params: Params = {}
    for name, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            params[name] = value.file.read()
        else:
            params[name] = json.loads(value) if name in JSON_FIELDS else value
    return params


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: Params = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)
