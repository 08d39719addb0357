"""The outgoing WeCom API client (issue 15): token, messages, template cards, media, menu.

The caller owns the aiohttp `ClientSession`. The access token is shared by every process
through the database (`domain.platform.platform_tokens`): read there, refreshed by one
process before it expires, and at once when WeCom answers "token expired/invalid" — then the
call is retried once with the new token. WeCom answers errors as HTTP 200 with an `errcode`;
each is mapped to a typed exception the adapter turns into the dispatcher's `SendFailed`
(`send_failure`): a frequency limit is a pause (`retry_after`, like Telegram's 429), not a
failed attempt; a permanent error (unknown user, bad request) is not retried. The token is
never logged: request URLs carrying it are not logged either.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp

from bot.dispatcher import SendFailed
from bot.wecom.config import WeComConfig
from domain.platform import platform_tokens
from domain.platform.clock import utcnow

CHANNEL = "wecom"
TIMEOUT = aiohttp.ClientTimeout(total=20)
# WeCom's global error codes (企业微信 全局错误码) the client tells apart.
TOKEN_REJECTED = frozenset({40014, 42001, 41001})  # invalid, expired, missing access_token
BAD_CREDENTIALS = frozenset({40001, 40013, 40056})  # bad secret, corp id, agent id
# Frequency limits and their pause in seconds: WeCom gives no retry-after, these are the
# windows of its limits (45009: per-minute/hour/day quotas; 45011: "API调用太频繁";
# 45033: concurrent calls).
FREQUENCY_LIMITS = {45009: 60.0, 45011: 5.0, 45033: 1.0}
BUSY = frozenset({-1})  # system busy: retry later, a failed attempt
READ_CHUNK = 64 * 1024  # a capped download is read in pieces of this size

Json = dict[str, Any]


class WeComError(Exception):
    """WeCom answered an error code (or no usable answer); `errcode` and `errmsg` say which."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeCom errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class TokenRejected(WeComError):
    """The access token was expired or invalid, even after one refresh."""


class RateLimited(WeComError):
    """A frequency limit: pause `retry_after` seconds before the next call (not a failure)."""

    def __init__(self, errcode: int, errmsg: str, retry_after: float) -> None:
        super().__init__(errcode, errmsg)
        self.retry_after = retry_after


class PermanentError(WeComError):
    """The call cannot succeed as it is (unknown user, bad request, bad credentials)."""


class TransientError(WeComError):
    """WeCom was busy or unreachable; the call may succeed later (a failed attempt)."""


@dataclass(frozen=True)
class Sent:
    """A message WeCom accepted: its `msgid` (for recall) and, for a card with buttons, the
    `response_code` its update needs; `invalid_users` lists recipients WeCom refused."""

    msgid: str
    response_code: str | None = None
    invalid_users: tuple[str, ...] = ()


@dataclass(frozen=True)
class Media:
    """A media file downloaded through `media/get`; `complete` is False when the download
    stopped past its cap (`content` then holds the cap and one byte more)."""

    content: bytes
    content_type: str
    filename: str
    complete: bool = True


def send_failure(error: WeComError) -> SendFailed:
    """The dispatcher's `SendFailed` for a WeCom error (issue 15): a frequency limit pauses
    (`retry_after`), a permanent error is not retried, the rest is a failed attempt."""
    if isinstance(error, RateLimited):
        return SendFailed(str(error), retry_after=error.retry_after)
    return SendFailed(str(error), permanent=isinstance(error, PermanentError))


def process_holder() -> str:
    """A name for this client among all processes: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class WeComApi:
    """Calls WeCom's API for one app; the session is the caller's, the token the database's."""

    def __init__(self, session: aiohttp.ClientSession, config: WeComConfig, *,
                 holder: str | None = None,
                 margin: timedelta = platform_tokens.DEFAULT_MARGIN) -> None:
        self._session = session
        self._config = config
        self._holder = holder or process_holder()
        self._margin = margin
        self._token: platform_tokens.SharedToken | None = None  # kept until the margin
        self._token_lock = asyncio.Lock()  # one refresh at a time per holder

    async def access_token(self, rejected: str | None = None) -> str:
        """The shared access token, refreshed by one process when due or `rejected`; kept in
        memory until its margin, so a send costs no database read."""
        if self._usable(rejected):
            assert self._token is not None
            return self._token.token
        async with self._token_lock:
            if not self._usable(rejected):  # not refreshed by a call that held the lock
                self._token = await platform_tokens.shared_token(
                    CHANNEL, self._holder, self.fetch_token, margin=self._margin,
                    rejected=rejected)
            return self._token.token

    def _usable(self, rejected: str | None) -> bool:
        token = self._token
        return (token is not None and token.token != rejected
                and token.expires_at - self._margin > utcnow())

    async def fetch_token(self) -> tuple[str, int]:
        """Call `gettoken` (corp id + app secret): the new token and its `expires_in`."""
        params = {"corpid": self._config.corp_id, "corpsecret": self._config.secret}
        answer = await self._request("GET", "/cgi-bin/gettoken", params=params)
        return str(answer["access_token"]), int(answer.get("expires_in", 7200))

    async def send_text(self, user_id: str, text: str) -> Sent:
        """Send a text message to one member (`message/send`, msgtype text)."""
        return await self._send(user_id, "text", {"content": text})

    async def send_markdown(self, user_id: str, text: str) -> Sent:
        """Send a markdown message to one member (`message/send`, msgtype markdown)."""
        return await self._send(user_id, "markdown", {"content": text})

    async def send_card(self, user_id: str, card: Json) -> Sent:
        """Send a template card (e.g. `card_type` button_interaction) to one member; the
        answer's `response_code` updates the card after a press."""
        return await self._send(user_id, "template_card", card)

    async def update_card(self, user_ids: list[str], response_code: str, *,
                          replace_name: str | None = None, card: Json | None = None) -> None:
        """Update a card after a button press (`message/update_template_card`): either the
        pressed button's text (`replace_name`) or the whole card."""
        if (replace_name is None) == (card is None):
            raise ValueError("give either replace_name or card")
        body: Json = {"userids": user_ids, "agentid": self._config.agent_id,
                      "response_code": response_code}
        if card is not None:
            body["template_card"] = card
        else:
            body["button"] = {"replace_name": replace_name}
        await self._call("POST", "/cgi-bin/message/update_template_card", body=body)

    async def recall(self, msgid: str) -> None:
        """Recall a message the app sent (`message/recall`, within 24 hours)."""
        await self._call("POST", "/cgi-bin/message/recall", body={"msgid": msgid})

    async def media_get(self, media_id: str, *, max_bytes: int | None = None) -> Media:
        """Download a media file a member sent (`media/get`, e.g. an image's MediaId). WeCom
        announces no size in the message: with `max_bytes` the download stops one byte past
        it, whatever the answer's length says, so a file too large is never held whole."""
        return await self._call("GET", "/cgi-bin/media/get", params={"media_id": media_id},
                                binary=True, max_bytes=max_bytes)

    async def media_upload(self, kind: str, filename: str, content: bytes,
                           content_type: str = "application/octet-stream") -> str:
        """Upload a temporary media file (`media/upload`, kind image/voice/video/file); its
        media_id, valid three days."""
        form = aiohttp.FormData()
        form.add_field("media", content, filename=filename, content_type=content_type)
        answer = await self._call("POST", "/cgi-bin/media/upload", params={"type": kind},
                                  form=form)
        return str(answer["media_id"])

    async def menu_create(self, buttons: list[Json]) -> None:
        """Set the app's menu (`menu/create`): up to 3 buttons, each up to 5 sub-buttons."""
        await self._call("POST", "/cgi-bin/menu/create",
                         params={"agentid": str(self._config.agent_id)},
                         body={"button": buttons})

    async def _send(self, user_id: str, msgtype: str, content: Json) -> Sent:
        body = {"touser": user_id, "msgtype": msgtype, "agentid": self._config.agent_id,
                msgtype: content}
        answer = await self._call("POST", "/cgi-bin/message/send", body=body)
        invalid = tuple(user for user in str(answer.get("invaliduser", "")).split("|") if user)
        if user_id in invalid:
            raise PermanentError(81013, f"recipient refused by WeCom: {user_id}")
        return Sent(str(answer["msgid"]), answer.get("response_code") or None, invalid)

    async def _call(self, method: str, path: str, *, params: dict[str, str] | None = None,
                    body: Json | None = None, form: aiohttp.FormData | None = None,
                    binary: bool = False, max_bytes: int | None = None) -> Any:
        token = await self.access_token()
        try:
            return await self._request(method, path, token=token, params=params, body=body,
                                       form=form, binary=binary, max_bytes=max_bytes)
        except TokenRejected:
            token = await self.access_token(rejected=token)  # refreshed once, retried once
            return await self._request(method, path, token=token, params=params, body=body,
                                       form=form, binary=binary, max_bytes=max_bytes)

    async def _request(self, method: str, path: str, *, token: str | None = None,
                       params: dict[str, str] | None = None, body: Json | None = None,
                       form: aiohttp.FormData | None = None, binary: bool = False,
                       max_bytes: int | None = None) -> Any:
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token
        data = form if form is not None else (
            None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8"))
        headers = {"Content-Type": "application/json"} if body is not None else None
        try:
            async with self._session.request(method, self._config.api_base_url + path,
                                             params=query, data=data, headers=headers,
                                             timeout=TIMEOUT) as response:
                if response.status >= 500:
                    raise TransientError(-1, f"HTTP {response.status} from {path}")
                content_type = response.headers.get("Content-Type", "")
                raw = await _read(response, max_bytes)
                if binary and not content_type.startswith(("application/json", "text/plain")):
                    return Media(raw, content_type, _filename(response),
                                 complete=max_bytes is None or len(raw) <= max_bytes)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TransientError(-1, f"{path} unreachable: {type(error).__name__}") from None
        try:
            answer = json.loads(raw)
        except ValueError:
            raise TransientError(-1, f"{path} answered no JSON") from None
        _raise_for(answer)
        return answer


async def _read(response: aiohttp.ClientResponse, max_bytes: int | None) -> bytes:
    """The answer's body, or with `max_bytes` its first `max_bytes` + 1 bytes at most."""
    if max_bytes is None:
        return await response.read()
    body = bytearray()
    while len(body) <= max_bytes and (chunk := await response.content.read(
            min(READ_CHUNK, max_bytes + 1 - len(body)))):
        body += chunk
    return bytes(body)


def _raise_for(answer: Json) -> None:
    code = int(answer.get("errcode", 0))
    if code == 0:
        return
    message = str(answer.get("errmsg", ""))
    if code in TOKEN_REJECTED:
        raise TokenRejected(code, message)
    if code in FREQUENCY_LIMITS:
        raise RateLimited(code, message, FREQUENCY_LIMITS[code])
    if code in BUSY:
        raise TransientError(code, message)
    raise PermanentError(code, message)


def _filename(response: aiohttp.ClientResponse) -> str:
    disposition = response.headers.get("Content-Disposition", "")
    marker = 'filename="'
    if marker in disposition:
        return disposition.split(marker, 1)[1].split('"', 1)[0]
    return ""
