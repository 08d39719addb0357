"""A fake WeCom (企业微信) API server for tests (issue 15): records calls, injects faults.

It speaks WeCom's HTTP shape (JSON bodies, `access_token` in the query, every error an HTTP
200 with `errcode`/`errmsg`) on 127.0.0.1 at a random port; give `fake.url` as
FIELDOPS_WECOM_API_BASE_URL. It checks what the real API checks and the tests rely on:
- `gettoken`: 40013 for a wrong corp id, 40001 for a wrong secret; a token valid 7200 s;
- every other call: 41001 without a token, 40014 for an unknown one, 42001 for an expired one
  (`expire_token` expires the current token now, until the next `gettoken`);
- `message/send`: text and markdown (content required, at most 2048 bytes), template cards of
  the button_interaction kind (task_id required, ≤ 128 bytes of letters, digits and `_-@`,
  unique per app; main_title.title or sub_title_text; 1–6 buttons, each with text and a
  unique key ≤ 1024 bytes); 81013 for a recipient who is not a member; a card answers a
  `response_code`;
- `message/update_template_card`: a known, unused response_code (each works once);
- `message/recall`, `media/get` (registered bytes; 40007 for an unknown media_id),
  `media/upload`, `menu/create` (1–3 buttons, ≤ 5 sub-buttons each).
Switches: `invalidate_token` (40014), `frequency_limit` (45009 or 45033 to the next calls),
`fail_next` (any errcode), `latency` per call.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CORP_ID = "wwfieldops0000test"
SECRET = "fake-wecom-app-secret"
AGENT_ID = 1000002
EXPIRES_IN = 7200
TEXT_MAX_BYTES = 2048
TASK_ID = re.compile(r"[A-Za-z0-9_\-@]{1,128}")
BUTTONS_MAX = 6
KEY_MAX_BYTES = 1024
MENU_BUTTONS_MAX = 3
SUB_BUTTONS_MAX = 5
ERRMSG = {0: "ok", 40001: "invalid credential", 40013: "invalid corpid",
          40014: "invalid access_token", 41001: "access_token missing",
          42001: "access_token expired", 40007: "invalid media_id", 40008: "invalid message type",
          40058: "invalid parameter", 44004: "empty content", 45002: "content size out of limit",
          45009: "api freq out of limit", 45033: "api concurrent out of limit",
          81013: "user & party & tag all invalid", -1: "system busy"}

Json = dict[str, Any]


@dataclass(frozen=True)
class WeComCall:
    """One API request as the fake received it, and the errcode it answered."""

    path: str
    query: dict[str, str]
    body: Json
    errcode: int


@dataclass
class FakeWeCom:
    """The fake WeCom API; use `async with FakeWeCom() as fake:`."""

    corp_id: str = CORP_ID
    secret: str = SECRET
    members: set[str] = field(default_factory=lambda: {"agent-f1", "reviewer-r1"})
    latency: float = 0.0
    calls: list[WeComCall] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    menu: list[Json] = field(default_factory=list)
    cards: dict[str, Json] = field(default_factory=dict)  # response_code → card sent
    updates: list[Json] = field(default_factory=list)
    recalled: list[str] = field(default_factory=list)
    url: str = ""
    _tokens: dict[str, bool] = field(default_factory=dict)  # token → still valid
    _task_ids: set[str] = field(default_factory=set)
    _used_codes: set[str] = field(default_factory=set)
    _sent: dict[str, Json] = field(default_factory=dict)
    _faults: deque[tuple[str | None, int]] = field(default_factory=deque)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    async def __aenter__(self) -> FakeWeCom:
        app = web.Application(client_max_size=30 * 1024 * 1024)
        app.router.add_route("*", "/cgi-bin/{path:.+}", self._api)
        self._runner = web.AppRunner(app, access_log=None)  # WeCom's log, not the product's
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def expire_token(self) -> None:
        """Expire every token handed out: calls answer 42001 until a new `gettoken`."""
        self._tokens = dict.fromkeys(self._tokens, False)

    def invalidate_token(self) -> None:
        """Forget every token handed out: calls answer 40014 until a new `gettoken`."""
        self._tokens.clear()

    def frequency_limit(self, errcode: int = 45009, count: int = 1) -> None:
        """Answer the next `count` calls (except `gettoken`) with a frequency-limit code."""
        self.fail_next(errcode, count)

    def fail_next(self, errcode: int, count: int = 1, path: str | None = None) -> None:
        """Answer the next `count` calls (of `path`, else any but `gettoken`) with `errcode`."""
        self._faults.extend([(path, errcode)] * count)

    def add_media(self, content: bytes, content_type: str = "image/jpeg") -> str:
        """Register a media file a member sent; its media_id for `media/get`."""
        media_id = f"media-{next(self._ids)}-{secrets.token_hex(4)}"
        self.media[media_id] = (content, content_type)
        return media_id

    def called(self, path: str) -> list[WeComCall]:
        """The calls of one API path (e.g. "gettoken", "message/send")."""
        return [call for call in self.calls if call.path == path]

    def sent(self, user_id: str | None = None) -> list[Json]:
        """The messages accepted by `message/send`, to one member or all."""
        return [call.body for call in self.called("message/send")
                if call.errcode == 0 and user_id in (None, call.body.get("touser"))]

    async def _api(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        query = dict(request.query)
        body: Json = {}
        if path == "media/upload":
            body = await _upload(request)
        elif request.can_read_body:
            try:
                body = json.loads(await request.read())
            except ValueError:
                return self._answer(path, query, body, 40058)
        if self.latency:
            await asyncio.sleep(self.latency)
        fault = self._next_fault(path)
        if path == "gettoken" and not fault:
            return self._gettoken(query)
        if fault:
            return self._answer(path, query, body, fault)
        token = query.get("access_token")
        if not token:
            return self._answer(path, query, body, 41001)
        if token not in self._tokens:
            return self._answer(path, query, body, 40014)
        if not self._tokens[token]:
            return self._answer(path, query, body, 42001)
        handler = HANDLERS.get(path)
        if handler is None:
            raise web.HTTPNotFound()
        result = handler(self, query, body)
        if isinstance(result, web.StreamResponse):
            self.calls.append(WeComCall(path, query, body, 0))
            return result
        errcode, extra = result
        return self._answer(path, query, body, errcode, extra)

    def _gettoken(self, query: dict[str, str]) -> web.Response:
        if query.get("corpid") != self.corp_id:
            return self._answer("gettoken", query, {}, 40013)
        if query.get("corpsecret") != self.secret:
            return self._answer("gettoken", query, {}, 40001)
        token = secrets.token_urlsafe(48)
        self._tokens[token] = True
        return self._answer("gettoken", query, {}, 0,
                            {"access_token": token, "expires_in": EXPIRES_IN})

    def _next_fault(self, path: str) -> int:
        for index, (only, errcode) in enumerate(self._faults):
            if only == path or (only is None and path != "gettoken"):
                del self._faults[index]
                return errcode
        return 0

    def _answer(self, path: str, query: dict[str, str], body: Json, errcode: int,
                extra: Json | None = None) -> web.Response:
        self.calls.append(WeComCall(path, query, body, errcode))
        return web.json_response({"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error"),
                                  **(extra or {})})

    def _send(self, query: dict[str, str], body: Json) -> tuple[int, Json]:
        msgtype = body.get("msgtype")
        if body.get("agentid") != AGENT_ID or msgtype not in ("text", "markdown",
                                                               "template_card"):
            return 40008 if body.get("agentid") == AGENT_ID else 40058, {}
        users = [user for user in str(body.get("touser", "")).split("|") if user]
        if not any(user in self.members for user in users):
            return 81013, {}
        content = body.get(msgtype)
        if not isinstance(content, dict):
            return 40058, {}
        errcode = (_check_card(content, self._task_ids) if msgtype == "template_card"
                   else _check_text(content))
        if errcode:
            return errcode, {}
        msgid = f"msg-{next(self._ids)}"
        self._sent[msgid] = body
        extra: Json = {"msgid": msgid,
                       "invaliduser": "|".join(u for u in users if u not in self.members)}
        if msgtype == "template_card":
            self._task_ids.add(content["task_id"])
            code = secrets.token_hex(16)
            self.cards[code] = content
            extra["response_code"] = code
        return 0, extra

    def _update_card(self, query: dict[str, str], body: Json) -> tuple[int, Json]:
        code = body.get("response_code")
        if body.get("agentid") != AGENT_ID or code not in self.cards or code in self._used_codes:
            return 40058, {}
        button, card = body.get("button"), body.get("template_card")
        if (button is None) == (card is None):
            return 40058, {}
        if card is not None and _check_card(card, set(), updating=True):
            return 40058, {}
        self._used_codes.add(code)
        self.updates.append(body)
        return 0, {"invaliduser": []}

    def _recall(self, query: dict[str, str], body: Json) -> tuple[int, Json]:
        msgid = body.get("msgid")
        if msgid not in self._sent or msgid in self.recalled:
            return 40058, {}
        self.recalled.append(msgid)
        return 0, {}

    def _media_get(self, query: dict[str, str], body: Json) -> tuple[int, Json] | web.Response:
        found = self.media.get(query.get("media_id", ""))
        if found is None:
            return 40007, {}
        content, content_type = found
        return web.Response(body=content, content_type=content_type, headers={
            "Content-Disposition": f'attachment; filename="{query["media_id"]}.jpg"'})

    def _media_upload(self, query: dict[str, str], body: Json) -> tuple[int, Json]:
        kind = query.get("type")
        if kind not in ("image", "voice", "video", "file") or "content" not in body:
            return 40058, {}
        if len(body["content"]) < 5:
            return 40058, {}
        media_id = self.add_media(body["content"], body.get("content_type", ""))
        return 0, {"type": kind, "media_id": media_id, "created_at": "1380000000"}

    def _menu_create(self, query: dict[str, str], body: Json) -> tuple[int, Json]:
        buttons = body.get("button")
        if query.get("agentid") != str(AGENT_ID) or not isinstance(buttons, list):
            return 40058, {}
        if not 1 <= len(buttons) <= MENU_BUTTONS_MAX or any(
                len(button.get("sub_button", [])) > SUB_BUTTONS_MAX or not button.get("name")
                for button in buttons):
            return 40058, {}
        self.menu = buttons
        return 0, {}


HANDLERS = {"message/send": FakeWeCom._send,
            "message/update_template_card": FakeWeCom._update_card,
            "message/recall": FakeWeCom._recall, "media/get": FakeWeCom._media_get,
            "media/upload": FakeWeCom._media_upload, "menu/create": FakeWeCom._menu_create}


def _check_text(content: Json) -> int:
    text = content.get("content")
    if not isinstance(text, str) or not text:
        return 44004
    return 45002 if len(text.encode("utf-8")) > TEXT_MAX_BYTES else 0


def _check_card(card: Json, task_ids: set[str], *, updating: bool = False) -> int:
    """40058 for a button_interaction card WeCom would refuse (the limits in the module doc)."""
    task_id = str(card.get("task_id", ""))
    main = card.get("main_title") or {}
    buttons = card.get("button_list")
    keys = [str(button.get("key", "")) for button in buttons or [] if isinstance(button, dict)]
    refused = (
        card.get("card_type") != "button_interaction"
        or not TASK_ID.fullmatch(task_id) or (not updating and task_id in task_ids)
        or not (main.get("title") or card.get("sub_title_text"))
        or not isinstance(buttons, list) or not 1 <= len(buttons) <= BUTTONS_MAX
        or len(keys) != len(buttons) or len(set(keys)) != len(keys)
        or any(not key or len(key.encode("utf-8")) > KEY_MAX_BYTES for key in keys)
        or any(not button.get("text") for button in buttons))
    return 40058 if refused else 0


async def _upload(request: web.Request) -> Json:
    form = await request.post()
    media = form.get("media")
    if not isinstance(media, web.FileField):
        return {}
    return {"filename": media.filename, "content_type": media.content_type,
            "content": media.file.read()}
