"""WeCom's message crypt and callback XML (issue 15): interoperability with wechatpy, an
independent implementation, in both directions; WeCom's own published test vector; every
refusal; XML bombs and oversize bodies; each kind of message the channel reads."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml.ElementTree import fromstring
from wechatpy.enterprise.crypto import PrpCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WechatpyCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import WeChatSigner

from bot.wecom.crypt import AES_KEY_SETTING, WeComCrypt, aes_key
from bot.wecom.errors import (
    BadLength,
    BadPadding,
    BadSetting,
    BadSignature,
    MalformedMessage,
    OversizeBody,
    StaleTimestamp,
    TruncatedCiphertext,
    UnsafeXml,
    WrongReceiveId,
)
from bot.wecom.inbound import MAX_XML_BYTES, WeComInbound, parse_envelope, parse_inbound
from tests.clock_support import SteadyClock

TOKEN = "fieldopsToken2026"
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CORP = "ww1234567890abcdef"
NOW = datetime(2026, 12, 9, 2, 30, tzinfo=UTC)
STAMP = str(int(NOW.timestamp()))
NONCE = "1372623149"


def crypt(*, receive_id: str = CORP, now: datetime = NOW) -> WeComCrypt:
    return WeComCrypt(TOKEN, KEY, receive_id, now=lambda: now)


def wechatpy(receive_id: str = CORP) -> WechatpyCrypto:
    return WechatpyCrypto(TOKEN, KEY, receive_id)


def wechatpy_signature(*values: str) -> str:
    signer = WeChatSigner()
    signer.add_data(TOKEN, *values)
    return signer.signature


def fields(envelope: str) -> dict[str, str]:
    """The fields of a reply envelope, by name."""
    return {child.tag: child.text or "" for child in fromstring(envelope)}


def post_body(encrypted: str) -> str:
    """A callback body shaped as WeCom posts it."""
    return (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName>"
            f"<AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")


def sealed_by_wechatpy(plain: str, timestamp: str = STAMP) -> tuple[str, str]:
    """A callback as WeCom would post it, encrypted and signed by wechatpy: body, signature."""
    reply = fields(wechatpy().encrypt_message(plain, NONCE, timestamp))
    return post_body(reply["Encrypt"]), reply["MsgSignature"]


def raw_ciphertext(framed: bytes) -> str:
    """AES-256-CBC of hand-made framing, to build what no honest sender produces."""
    key = base64.b64decode(KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(framed) + encryptor.finalize()).decode()


def open_ciphertext(ciphertext: str) -> str:
    """Our verify-and-decrypt of a bare ciphertext signed as WeCom would sign it."""
    return crypt().verify_url(wechatpy_signature(STAMP, NONCE, ciphertext), STAMP, NONCE,
                              ciphertext)


TEXT = ("<xml><ToUserName><![CDATA[ww1234567890abcdef]]></ToUserName>"
        "<FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1796783400</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[/bind 4F7K-Q2 开户回访]]></Content>"
        "<MsgId>7433925634712345678</MsgId><AgentID>1000002</AgentID></xml>")


# --- interoperability -------------------------------------------------------------------------

def test_wecoms_published_url_verification_vector_gives_the_echo() -> None:
    # the URL-verification example of WeCom's own sample code (WXBizMsgCrypt)
    official = WeComCrypt("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
                          "wx5823bf96d3bd56c7",
                          now=lambda: datetime.fromtimestamp(1409659589, UTC))
    echo = official.verify_url(
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780",
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==")
    assert echo == "1616140317555161061"


@pytest.mark.parametrize("plain", [
    TEXT,
    "<xml><Content><![CDATA[" + "柜面" * 500 + "]]></Content></xml>",
    "x" * (64 - 16 - 4 - len(CORP)),  # framing fills two blocks: a whole block of padding
])
def test_what_wechatpy_encrypts_we_decrypt(plain: str) -> None:
    body, signature = sealed_by_wechatpy(plain)
    assert crypt().decrypt_message(body, signature, STAMP, NONCE) == plain


@pytest.mark.parametrize("plain", [TEXT, "<xml><Content><![CDATA[]]></Content></xml>"])
def test_what_we_encrypt_wechatpy_decrypts(plain: str) -> None:
    reply = crypt().encrypt_message(plain, NONCE)
    envelope = fields(reply)
    assert envelope["TimeStamp"] == STAMP
    decrypted = wechatpy().decrypt_message(reply, envelope["MsgSignature"], STAMP, NONCE)
    assert decrypted == plain


def test_url_verification_echo_interoperates_both_ways() -> None:
    theirs = PrpCrypto(base64.b64decode(KEY + "=")).encrypt("8341276512", CORP).decode()
    assert crypt().verify_url(wechatpy_signature(STAMP, NONCE, theirs), STAMP, NONCE,
                              theirs) == "8341276512"
    ours = crypt().encrypt("5120907731")
    assert wechatpy().check_signature(crypt().sign(STAMP, NONCE, ours), STAMP, NONCE,
                                      ours) == "5120907731"


def test_wechatpy_refuses_what_we_signed_with_another_token() -> None:
    ours = crypt().encrypt("5120907731")
    with pytest.raises(InvalidSignatureException):
        wechatpy().check_signature(WeComCrypt("another", KEY, CORP).sign(STAMP, NONCE, ours),
                                   STAMP, NONCE, ours)


# --- refusals ---------------------------------------------------------------------------------

def test_a_forged_or_altered_signature_is_refused() -> None:
    body, signature = sealed_by_wechatpy(TEXT)
    forged = WeComCrypt("guessed", KEY, CORP).sign(STAMP, NONCE, parse_envelope(body).encrypt)
    for bad in (forged, signature[:-1] + ("0" if signature[-1] != "0" else "1"), "", "签名"):
        with pytest.raises(BadSignature):
            crypt().decrypt_message(body, bad, STAMP, NONCE)
    with pytest.raises(BadSignature):  # the signature covers the nonce too
        crypt().decrypt_message(body, signature, STAMP, "1372623148")


def test_the_signature_is_checked_before_anything_is_decrypted() -> None:
    with pytest.raises(BadSignature):
        crypt().verify_url("0" * 40, STAMP, NONCE, "not base64 at all!")


def test_a_message_for_another_corp_is_refused() -> None:
    foreign = WeComCrypt(TOKEN, KEY, "ww_other_corp").encrypt(TEXT)
    with pytest.raises(WrongReceiveId, match="ww_other_corp"):
        open_ciphertext(foreign)


def test_a_truncated_ciphertext_is_refused() -> None:
    whole = crypt().encrypt(TEXT)
    cut = base64.b64encode(base64.b64decode(whole)[:-5]).decode()
    for bad in (cut, whole[:-3], "", "@@@@"):
        with pytest.raises(TruncatedCiphertext):
            open_ciphertext(bad)


@pytest.mark.parametrize("padding", [b"\x00" * 32, b"\x21" * 32, b"\x01" * 31 + b"\x02"])
def test_bad_padding_is_refused(padding: bytes) -> None:
    framed = b"R" * 16 + (4).to_bytes(4, "big") + b"<x/>" + CORP.encode()
    framed += b"\x00" * (-len(framed) % 32)
    with pytest.raises(BadPadding):
        open_ciphertext(raw_ciphertext(framed + padding))


def test_a_length_past_the_data_is_refused() -> None:
    framed = b"R" * 16 + (10_000).to_bytes(4, "big") + b"<x/>" + CORP.encode()
    padding = 32 - len(framed) % 32
    with pytest.raises(BadLength, match="10000"):
        open_ciphertext(raw_ciphertext(framed + bytes([padding]) * padding))


@pytest.mark.parametrize("value", [
    "", KEY[:-1], KEY + "H", KEY[:-1] + "=", KEY[:-1] + "-", " " + KEY[1:]])
def test_a_bad_encoding_aes_key_is_one_line_naming_the_setting(value: str) -> None:
    with pytest.raises(BadSetting) as refused:
        aes_key(value)
    message = str(refused.value)
    assert message.startswith(f"{AES_KEY_SETTING}: ") and "\n" not in message
    with pytest.raises(BadSetting, match=AES_KEY_SETTING):
        WeComCrypt(TOKEN, value, CORP)


def test_a_good_key_is_32_bytes_and_token_and_corp_id_are_required() -> None:
    assert len(aes_key(KEY)) == 32
    with pytest.raises(BadSetting, match="FIELDOPS_WECOM_TOKEN"):
        WeComCrypt("", KEY, CORP)
    with pytest.raises(BadSetting, match="FIELDOPS_WECOM_CORP_ID"):
        WeComCrypt(TOKEN, KEY, "")


@pytest.mark.parametrize(("offset", "accepted"), [
    (timedelta(seconds=299), True), (timedelta(seconds=301), False),
    (timedelta(seconds=-299), True), (timedelta(seconds=-301), False),
    (timedelta(days=3), False)])
def test_a_callback_older_or_further_ahead_than_the_setting_is_refused(
        offset: timedelta, accepted: bool) -> None:
    sent = NOW - offset
    body, signature = sealed_by_wechatpy(TEXT, str(int(sent.timestamp())))
    check = crypt().decrypt_message
    if accepted:
        assert check(body, signature, str(int(sent.timestamp())), NONCE) == TEXT
    else:
        with pytest.raises(StaleTimestamp):
            check(body, signature, str(int(sent.timestamp())), NONCE)


def test_the_allowed_age_is_a_setting_and_a_non_number_is_no_time() -> None:
    body, signature = sealed_by_wechatpy(TEXT)
    lenient = WeComCrypt(TOKEN, KEY, CORP, max_age=timedelta(hours=1),
                         now=lambda: NOW + timedelta(minutes=30))
    assert lenient.decrypt_message(body, signature, STAMP, NONCE) == TEXT
    body, signature = sealed_by_wechatpy(TEXT, "soon")
    with pytest.raises(StaleTimestamp, match="not a time"):
        crypt().decrypt_message(body, signature, "soon", NONCE)


def test_the_default_clock_is_the_programs(test_clock: SteadyClock) -> None:
    program = WeComCrypt(TOKEN, KEY, CORP)
    stamp = str(int(test_clock().timestamp()))
    body, signature = sealed_by_wechatpy(TEXT, stamp)
    assert program.decrypt_message(body, signature, stamp, NONCE) == TEXT
    test_clock.move_to(test_clock() + timedelta(minutes=6))
    with pytest.raises(StaleTimestamp):
        program.decrypt_message(body, signature, stamp, NONCE)


# --- hardened XML -----------------------------------------------------------------------------

LAUGHS = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol">'
          '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
          '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
          "<xml><MsgType>text</MsgType><FromUserName>u</FromUserName>"
          "<CreateTime>1</CreateTime><Content>&lol3;</Content></xml>")
EXTERNAL = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
            "<xml><Encrypt>&secret;</Encrypt></xml>")
EXTERNAL_DTD = ('<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://203.0.113.9/wecom.dtd">'
                "<xml><Encrypt>QUJD</Encrypt></xml>")


@pytest.mark.parametrize("bomb", [LAUGHS, EXTERNAL, EXTERNAL_DTD],
                         ids=["billion-laughs", "external-entity", "external-dtd"])
def test_xml_bombs_are_refused_in_the_body_and_inside_the_ciphertext(bomb: str) -> None:
    with pytest.raises(UnsafeXml):
        crypt().decrypt_message(bomb, "0" * 40, STAMP, NONCE)
    body, signature = sealed_by_wechatpy(bomb)
    plain = crypt().decrypt_message(body, signature, STAMP, NONCE)
    with pytest.raises(UnsafeXml):
        parse_inbound(plain)


def test_an_oversize_body_is_refused_before_it_is_parsed() -> None:
    # not even well-formed: refused for its size, so the parser never saw it
    oversize = "<xml><Encrypt>" + "A" * MAX_XML_BYTES
    with pytest.raises(OversizeBody):
        parse_envelope(oversize)
    with pytest.raises(OversizeBody):
        parse_inbound("<xml>" + "我" * (MAX_XML_BYTES // 3) + "</xml>")
    with pytest.raises(MalformedMessage):
        parse_envelope(oversize[:1000])


@pytest.mark.parametrize("plain", [
    "<html><Encrypt>x</Encrypt></html>", "<xml><ToUserName>x</ToUserName></xml>", "plain text"])
def test_a_body_that_is_not_wecoms_envelope_is_refused(plain: str) -> None:
    with pytest.raises(MalformedMessage):
        parse_envelope(plain)


def test_a_message_without_sender_or_time_is_refused() -> None:
    for plain in (TEXT.replace("<CreateTime>1796783400</CreateTime>", ""),
                  TEXT.replace("1796783400", "soon"),
                  TEXT.replace("<FromUserName><![CDATA[zhangsan]]></FromUserName>", "")):
        with pytest.raises(MalformedMessage):
            parse_inbound(plain)


# --- each kind of message, through the crypt as WeCom sends it --------------------------------

def message(kind: str, fields: str, *, sender: str = "zhangsan", at: int = 1796783400) -> str:
    return (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName><CreateTime>{at}</CreateTime>"
            f"<MsgType><![CDATA[{kind}]]></MsgType>{fields}<AgentID>1000002</AgentID></xml>")


def event(name: str, fields: str = "", *, sender: str = "zhangsan", at: int = 1796783400) -> str:
    return message("event", f"<Event><![CDATA[{name}]]></Event>{fields}", sender=sender, at=at)


def received(plain: str) -> WeComInbound:
    """A message as the adapter will read it: sealed by wechatpy, opened and parsed by us."""
    body, signature = sealed_by_wechatpy(plain)
    return parse_inbound(crypt().decrypt_message(body, signature, STAMP, NONCE))


def test_text() -> None:
    text = received(TEXT)
    assert (text.msg_type, text.from_user, text.to_user, text.agent_id) == (
        "text", "zhangsan", CORP, "1000002")
    assert text.content == "/bind 4F7K-Q2 开户回访" and text.create_time == 1796783400
    assert text.dedupe_key == "msg:7433925634712345678" and not text.is_event


def test_image() -> None:
    image = received(message("image", "<PicUrl><![CDATA[https://wework.qpic.cn/wwpic/1/0]]>"
                                      "</PicUrl><MediaId><![CDATA[2-G6nrLmr5EC3MMb_-zK1dDdzmd0p7]]>"
                                      "</MediaId><MsgId>7433925634712345679</MsgId>"))
    assert (image.pic_url, image.media_id) == ("https://wework.qpic.cn/wwpic/1/0",
                                               "2-G6nrLmr5EC3MMb_-zK1dDdzmd0p7")


def test_location() -> None:
    place = received(message("location", "<Location_X>31.2304</Location_X>"
                                          "<Location_Y>121.4737</Location_Y><Scale>15</Scale>"
                                          "<Label><![CDATA[上海市黄浦区中山东一路]]></Label>"
                                          "<MsgId>7433925634712345680</MsgId>"))
    assert (place.latitude, place.longitude, place.label) == (31.2304, 121.4737,
                                                              "上海市黄浦区中山东一路")


def test_file() -> None:
    # WeCom's published formats list no file message; this is the shape other clients receive
    sent = received(message("file", "<MediaId><![CDATA[3-file-media]]></MediaId>"
                                    "<FileName><![CDATA[回访记录.pdf]]></FileName>"
                                    "<MsgId>7433925634712345681</MsgId>"))
    assert (sent.media_id, sent.file_name) == ("3-file-media", "回访记录.pdf")


def test_enter_agent_and_menu_click() -> None:
    entered = received(event("enter_agent", "<EventKey><![CDATA[]]></EventKey>"))
    assert entered.is_event and entered.event == "enter_agent" and entered.event_key == ""
    click = received(event("click", "<EventKey><![CDATA[new_case]]></EventKey>"))
    assert (click.event, click.event_key) == ("click", "new_case")
    assert click.dedupe_key == "event:zhangsan:1796783400:click::new_case"


def test_template_card_button() -> None:
    pressed = received(event("template_card_event",
                             "<EventKey><![CDATA[rv:claim:42]]></EventKey>"
                             "<TaskId><![CDATA[case-42-review]]></TaskId>"
                             "<CardType><![CDATA[button_interaction]]></CardType>"
                             "<ResponseCode><![CDATA[REPLACE_CODE_9f3a]]></ResponseCode>"))
    assert (pressed.event_key, pressed.task_id, pressed.card_type, pressed.response_code) == (
        "rv:claim:42", "case-42-review", "button_interaction", "REPLACE_CODE_9f3a")


def test_photo_picker_announces_its_photos() -> None:
    picked = received(event("pic_sysphoto", "<EventKey><![CDATA[photo]]></EventKey>"
                                            "<SendPicsInfo><Count>2</Count><PicList>"
                                            "<item><PicMd5Sum><![CDATA[1b5f7c23]]></PicMd5Sum></item>"
                                            "<item><PicMd5Sum><![CDATA[5a75aaca]]></PicMd5Sum></item>"
                                            "</PicList></SendPicsInfo>"))
    assert (picked.event, picked.pic_count) == ("pic_sysphoto", 2)


def test_location_picker() -> None:
    picked = received(event("location_select", "<EventKey><![CDATA[where]]></EventKey>"
                                               "<SendLocationInfo><Location_X><![CDATA[23.1]]>"
                                               "</Location_X><Location_Y><![CDATA[113.3]]>"
                                               "</Location_Y><Scale><![CDATA[15]]></Scale>"
                                               "<Label><![CDATA[广州市海珠区]]></Label>"
                                               "<Poiname><![CDATA[]]></Poiname>"
                                               "</SendLocationInfo>"))
    assert (picked.latitude, picked.longitude, picked.label) == (23.1, 113.3, "广州市海珠区")


def test_a_retry_has_the_same_key_and_distinct_callbacks_do_not() -> None:
    # a retry is encrypted afresh (new random prefix) but carries the same message
    assert received(TEXT).dedupe_key == received(TEXT).dedupe_key
    card = "<EventKey><![CDATA[ok]]></EventKey><TaskId><![CDATA[{task}]]></TaskId>"
    keys = {parse_inbound(plain).dedupe_key for plain in (
        event("template_card_event", card.format(task="t1")),
        event("template_card_event", card.format(task="t2")),
        event("template_card_event", card.format(task="t1"), at=1796783401),
        event("template_card_event", card.format(task="t1"), sender="lisi"),
        event("click", card.format(task="t1")))}
    assert len(keys) == 5
    assert parse_inbound(TEXT.replace("<MsgId>7433925634712345678</MsgId>", "")).dedupe_key \
        .startswith("xml:")


def test_a_reply_takes_its_time_from_the_clock_and_a_nonce_that_cannot_break_the_xml() -> None:
    reply = crypt().encrypt_message(TEXT)
    envelope = fields(reply)
    assert envelope["TimeStamp"] == STAMP and envelope["Nonce"].isdecimal()
    assert wechatpy().decrypt_message(reply, envelope["MsgSignature"], STAMP,
                                      envelope["Nonce"]) == TEXT
    for nonce, stamp in (("a]]><x/>", STAMP), (NONCE, "1<x/>")):
        with pytest.raises(ValueError, match="nonce"):
            crypt().encrypt_message(TEXT, nonce, stamp)
