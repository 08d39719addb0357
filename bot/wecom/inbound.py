"""The XML of WeCom's callback, read with a hardened parser into plain values (issue 15).

Bodies and decrypted messages are read with `defusedxml`: a DTD, an entity or an external
reference is refused, never expanded, and anything larger than `MAX_XML_BYTES` is refused
before the parser sees it. What WeCom says is turned into a `WeComInbound`, whose
`dedupe_key` stays the same when WeCom retries the callback (it retries three times when no
answer comes within 5 s).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from bot.wecom.errors import MalformedMessage, OversizeBody, UnsafeXml

# WeCom's messages are a few KiB (a text is at most 2,048 bytes); a body past this is not WeCom.
MAX_XML_BYTES = 64 * 1024
EVENT = "event"


@dataclass(frozen=True, slots=True)
class Envelope:
    """The outer XML of a callback POST: who it is for and the encrypted message."""

    to_user: str
    agent_id: str
    encrypt: str


@dataclass(frozen=True, slots=True)
class WeComInbound:
    """One decrypted message or event from WeCom, its fields named as the product reads them.

    `from_user` is the sender's WeCom UserID; `latitude`/`longitude` come from a location
    message or the location picker (`location_select`); `pic_count` is how many photos the
    photo pickers (`pic_sysphoto`, `pic_photo_or_album`) announce — each arrives afterwards as
    its own image message. Fields a kind does not carry are empty.
    """

    msg_type: str
    to_user: str
    from_user: str
    create_time: int
    agent_id: str = ""
    msg_id: str = ""
    content: str = ""
    pic_url: str = ""
    media_id: str = ""
    file_name: str = ""
    latitude: float | None = None
    longitude: float | None = None
    label: str = ""
    event: str = ""
    event_key: str = ""
    task_id: str = ""
    card_type: str = ""
    response_code: str = ""
    pic_count: int = 0
    digest: str = ""

    @property
    def is_event(self) -> bool:
        """An event (menu, card button, entering the app) rather than a message typed or sent."""
        return self.msg_type == EVENT

    @property
    def dedupe_key(self) -> str:
        """The same for every retry of one callback: `MsgId` for a message; for an event its
        sender, time, event, card task and key; the XML's digest when neither applies."""
        if self.is_event:
            # UserIDs, event names and task ids hold no ':'; the key, which may, comes last.
            return (f"event:{self.from_user}:{self.create_time}:{self.event}:{self.task_id}:"
                    f"{self.event_key}")
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"xml:{self.digest}"


def parse_xml(data: bytes | str) -> Element:
    """The root `<xml>` element of a body or message; refuses oversize, unsafe or malformed
    XML (issue 15: no entities, no external references, bounded size)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_XML_BYTES:
        raise OversizeBody(f"{len(raw)} bytes of XML, more than the {MAX_XML_BYTES} allowed")
    try:
        root = fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as err:
        raise UnsafeXml(f"XML refused: {type(err).__name__}") from None
    except ParseError as err:
        raise MalformedMessage(f"not well-formed XML: {err}") from None
    if root.tag != "xml":
        raise MalformedMessage(f"the root element is <{root.tag}>, not <xml>")
    return root


def parse_envelope(body: bytes | str) -> Envelope:
    """The envelope of a callback POST (`ToUserName`, `AgentID`, `Encrypt`)."""
    root = parse_xml(body)
    encrypt = _text(root, "Encrypt")
    if not encrypt:
        raise MalformedMessage("the body has no <Encrypt>")
    return Envelope(to_user=_text(root, "ToUserName"), agent_id=_text(root, "AgentID"),
                    encrypt=encrypt)


def parse_inbound(plain: str) -> WeComInbound:
    """A decrypted message or event as a `WeComInbound`."""
    root = parse_xml(plain)
    msg_type, from_user = _text(root, "MsgType"), _text(root, "FromUserName")
    if not msg_type or not from_user:
        raise MalformedMessage("a message needs <MsgType> and <FromUserName>")
    create_time = _integer(root, "CreateTime")
    if create_time is None:
        raise MalformedMessage("a message needs <CreateTime>")
    # the location picker nests its fields in <SendLocationInfo>; a location message does not
    place = root.find("SendLocationInfo")
    place = root if place is None else place
    pictures = root.find("SendPicsInfo")
    return WeComInbound(
        msg_type=msg_type, to_user=_text(root, "ToUserName"), from_user=from_user,
        create_time=create_time,
        agent_id=_text(root, "AgentID"), msg_id=_text(root, "MsgId"),
        content=root.findtext("Content") or "", pic_url=_text(root, "PicUrl"),
        media_id=_text(root, "MediaId"), file_name=_text(root, "FileName"),
        latitude=_decimal(place, "Location_X"), longitude=_decimal(place, "Location_Y"),
        label=_text(place, "Label"),
        event=_text(root, "Event"), event_key=_text(root, "EventKey"),
        task_id=_text(root, "TaskId"), card_type=_text(root, "CardType"),
        response_code=_text(root, "ResponseCode"),
        pic_count=0 if pictures is None else _integer(pictures, "Count") or 0,
        digest=hashlib.sha256(plain.encode("utf-8")).hexdigest()[:32])


def _text(element: Element, name: str) -> str:
    return (element.findtext(name) or "").strip()


def _integer(element: Element, name: str) -> int | None:
    text = _text(element, name)
    try:
        return int(text) if text else None
    except ValueError:
        raise MalformedMessage(f"<{name}> is not a whole number: {text[:40]!r}") from None


def _decimal(element: Element, name: str) -> float | None:
    text = _text(element, name)
    try:
        return float(text) if text else None
    except ValueError:
        raise MalformedMessage(f"<{name}> is not a number: {text[:40]!r}") from None
