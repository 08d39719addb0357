"""A client that calls the product's WeCom callback URL as WeCom does (issue 15).

It signs and encrypts with the app's token and EncodingAESKey (`WeComCrypt`, as the tests'
independent-implementation check proves it interoperable), checks the URL with a signed
`GET`, and posts each message or event as the encrypted envelope: when no answer comes within
`timeout` seconds it posts the same callback again, at most `retries` more times, as WeCom
does. It works against any base URL (a test server, or `fieldops run`).
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import aiohttp

from bot.wecom.config import DEFAULT_CALLBACK_PATH
from bot.wecom.crypt import WeComCrypt
from domain.platform.clock import utcnow
from tests.fake_wecom import AGENT_ID, CORP_ID

TOKEN = "fieldops-callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TIMEOUT_SECONDS = 5.0
RETRIES = 3


@dataclass(frozen=True)
class Answer:
    """What the product answered the last post of a callback, and how many posts it took."""

    status: int
    body: str
    posts: int


@dataclass
class WeComClient:
    """Calls one app's callback URL as WeCom would; `async with WeComClient(url) as wecom:`."""

    base_url: str
    token: str = TOKEN
    aes_key: str = AES_KEY
    corp_id: str = CORP_ID
    agent_id: int = AGENT_ID
    path: str = DEFAULT_CALLBACK_PATH
    timeout: float = TIMEOUT_SECONDS
    retries: int = RETRIES
    _session: aiohttp.ClientSession | None = None
    _ids: itertools.count = field(default_factory=lambda: itertools.count(
        7_000_000_000_000_000_000))

    async def __aenter__(self) -> WeComClient:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._session is not None
        await self._session.close()

    @property
    def crypt(self) -> WeComCrypt:
        """The app's crypt, as WeCom holds it (same token, key and corp id)."""
        return WeComCrypt(self.token, self.aes_key, self.corp_id)

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + self.path

    async def verify_url(self, echo: str = "echo-1234567890", *,
                         signature: str | None = None, timestamp: str | None = None
                         ) -> Answer:
        """WeCom's URL check: a signed `GET` with the encrypted `echostr`."""
        timestamp = timestamp or _now()
        nonce = _nonce()
        echostr = self.crypt.encrypt(echo)
        query = {"msg_signature": signature or self.crypt.sign(timestamp, nonce, echostr),
                 "timestamp": timestamp, "nonce": nonce, "echostr": echostr}
        return await self._call("GET", query, None, retries=0)

    async def post(self, message: str, *, timestamp: str | None = None,
                   signature: str | None = None, crypt: WeComCrypt | None = None,
                   times: int = 1) -> Answer:
        """Post a plain message XML encrypted in its envelope; `times` posts the same
        callback again after an answer, as WeCom does when its answers get lost."""
        timestamp = timestamp or _now()
        nonce = _nonce()
        encrypted = (crypt or self.crypt).encrypt(message)
        body = (f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
                f"<AgentID><![CDATA[{self.agent_id}]]></AgentID>"
                f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>").encode()
        query = {"msg_signature": signature or self.crypt.sign(timestamp, nonce, encrypted),
                 "timestamp": timestamp, "nonce": nonce}
        answer = await self._call("POST", query, body)
        for _ in range(times - 1):
            again = await self._call("POST", query, body)
            answer = Answer(again.status, again.body, answer.posts + again.posts)
        return answer

    async def post_raw(self, body: bytes, query: dict[str, str]) -> Answer:
        """Post a body as it is (a malformed or hostile one), once."""
        return await self._call("POST", query, body, retries=0)

    def text(self, user: str, content: str, msg_id: int | None = None) -> str:
        """A text message of a member."""
        return self.message(user, "text", msg_id, f"<Content>{_cdata(content)}</Content>")

    def image(self, user: str, media_id: str, msg_id: int | None = None) -> str:
        """An image message of a member (its bytes at `media/get` of the fake API)."""
        return self.message(user, "image", msg_id,
                             f"<PicUrl>{_cdata('https://wework.qpic.cn/x')}</PicUrl>"
                             f"<MediaId>{_cdata(media_id)}</MediaId>")

    def file(self, user: str, media_id: str, name: str, msg_id: int | None = None) -> str:
        """A file message of a member."""
        return self.message(user, "file", msg_id, f"<MediaId>{_cdata(media_id)}</MediaId>"
                                                   f"<FileName>{_cdata(name)}</FileName>")

    def location(self, user: str, latitude: float, longitude: float,
                 msg_id: int | None = None) -> str:
        """A location message of a member."""
        return self.message(user, "location", msg_id,
                             f"<Location_X>{latitude}</Location_X><Location_Y>{longitude}"
                             f"</Location_Y><Scale>15</Scale><Label>{_cdata('网点')}</Label>")

    def event(self, user: str, event: str, event_key: str = "", extra: str = "",
              create_time: int | None = None) -> str:
        """An event of a member (menu click, entering the app, location picker, …)."""
        return (f"<xml>{self._head(user, 'event', create_time)}<Event>{_cdata(event)}</Event>"
                f"<EventKey>{_cdata(event_key)}</EventKey>{extra}</xml>")

    def card_press(self, user: str, task_id: str, key: str, response_code: str,
                   create_time: int | None = None) -> str:
        """A button pressed on a template card (`template_card_event`)."""
        extra = (f"<TaskId>{_cdata(task_id)}</TaskId>"
                 f"<CardType>{_cdata('button_interaction')}</CardType>"
                 f"<ResponseCode>{_cdata(response_code)}</ResponseCode>")
        return self.event(user, "template_card_event", key, extra, create_time)

    def message(self, user: str, kind: str, msg_id: int | None, fields: str) -> str:
        """A message of any kind with its own fields (a kind FieldOps does not read, …)."""
        number = msg_id if msg_id is not None else next(self._ids)
        return f"<xml>{self._head(user, kind)}{fields}<MsgId>{number}</MsgId></xml>"

    def _head(self, user: str, kind: str, create_time: int | None = None) -> str:
        return (f"<ToUserName>{_cdata(self.corp_id)}</ToUserName>"
                f"<FromUserName>{_cdata(user)}</FromUserName>"
                f"<CreateTime>{create_time or _now()}</CreateTime>"
                f"<MsgType>{_cdata(kind)}</MsgType><AgentID>{self.agent_id}</AgentID>")

    async def _call(self, method: str, query: dict[str, str], body: bytes | None, *,
                    retries: int | None = None) -> Answer:
        assert self._session is not None, "use `async with WeComClient(...)`"
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        allowed = self.retries if retries is None else retries
        post = 0
        while True:
            post += 1
            try:
                async with self._session.request(method, self.url, params=query, data=body,
                                                 timeout=timeout) as response:
                    return Answer(response.status, await response.text(), post)
            except TimeoutError:
                if post > allowed:
                    raise


def _now() -> str:
    return str(int(utcnow().timestamp()))


def _nonce() -> str:
    return str(secrets.randbelow(10**10))


def _cdata(value: str) -> str:
    return f"<![CDATA[{value}]]>" if "]]>" not in value else escape(value)
