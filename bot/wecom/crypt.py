"""WeCom's message crypt (企业微信 加解密方案), a small module on `cryptography` (issue 15).

The scheme: `msg_signature` is the SHA-1 (hex) of token, timestamp, nonce and ciphertext,
sorted and joined; the ciphertext is base64 of AES-256-CBC with key = base64(EncodingAESKey +
"=") and IV = the key's first 16 bytes, over 16 random bytes, the message's length (4 bytes,
big-endian), the message and the receive id (our corp id), PKCS#7-padded to a block of 32.

Every check runs before the message is used, the signature first (compared in constant time)
so nothing is decrypted for a sender without the token — the padding and length checks are no
oracle. A callback older (or further ahead) than `max_age` is refused as a replay; the time
comes from the injected clock. `tests/test_wecom_crypt.py` proves the module interoperates
with wechatpy, an independent implementation, in both directions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.wecom.errors import (
    BadLength,
    BadPadding,
    BadSetting,
    BadSignature,
    MalformedMessage,
    StaleTimestamp,
    TruncatedCiphertext,
    WrongReceiveId,
)
from bot.wecom.inbound import parse_envelope
from domain.platform import clock

AES_KEY_SETTING = "FIELDOPS_WECOM_AES_KEY"
TOKEN_SETTING = "FIELDOPS_WECOM_TOKEN"
CORP_ID_SETTING = "FIELDOPS_WECOM_CORP_ID"
DEFAULT_MAX_AGE = timedelta(seconds=300)
BLOCK = 32
RANDOM_PREFIX = 16
IV_BYTES = 16
LENGTH_FIELD = 4
ENCODING_AES_KEY = re.compile(r"[A-Za-z0-9+/]{43}")
NONCE = re.compile(r"[A-Za-z0-9]{1,64}")
REPLY = ("<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
         "<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
         "<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>")


def aes_key(encoding_aes_key: str) -> bytes:
    """The AES-256 key of an EncodingAESKey; a `BadSetting` naming FIELDOPS_WECOM_AES_KEY when
    it is not 43 base64 characters (issue 15: a bad key stops start-up in one line)."""
    if not ENCODING_AES_KEY.fullmatch(encoding_aes_key):
        found = (f"{len(encoding_aes_key)} characters" if len(encoding_aes_key) != 43
                 else "a character that is none of these")
        raise BadSetting(f"{AES_KEY_SETTING}: must be the EncodingAESKey of the WeCom app, 43 "
                         f"letters, digits, + or /; the value set has {found}")
    return base64.b64decode(encoding_aes_key + "=", validate=True)


def signature(token: str, timestamp: str, nonce: str, ciphertext: str) -> str:
    """WeCom's `msg_signature`: SHA-1 of the four values sorted and joined."""
    joined = "".join(sorted((token, timestamp, nonce, ciphertext)))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


class WeComCrypt:
    """Verifies, decrypts and encrypts the messages of one WeCom app (token, key, corp id)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str, *,
                 max_age: timedelta = DEFAULT_MAX_AGE, now: clock.Clock = clock.utcnow) -> None:
        if not token:
            raise BadSetting(f"{TOKEN_SETTING}: the callback Token of the WeCom app is empty")
        if not receive_id:
            raise BadSetting(f"{CORP_ID_SETTING}: the corp id (the receive id) is empty")
        self._token = token
        self._key = aes_key(encoding_aes_key)
        self._receive_id = receive_id.encode("utf-8")
        self._max_age = max_age
        self._now = now

    def sign(self, timestamp: str, nonce: str, ciphertext: str) -> str:
        """The `msg_signature` of a ciphertext under this app's token."""
        return signature(self._token, timestamp, nonce, ciphertext)

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The plain echo to answer WeCom's URL verification (`GET` with `echostr`)."""
        self._check(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def decrypt_message(self, body: bytes | str, msg_signature: str, timestamp: str,
                        nonce: str) -> str:
        """The plain XML of a callback `POST` body (`ToUserName`, `AgentID`, `Encrypt`)."""
        envelope = parse_envelope(body)
        self._check(msg_signature, timestamp, nonce, envelope.encrypt)
        return self.decrypt(envelope.encrypt)

    def encrypt_message(self, plain: str, nonce: str | None = None,
                        timestamp: str | None = None) -> str:
        """A reply envelope (`Encrypt`, `MsgSignature`, `TimeStamp`, `Nonce`) for a plain XML;
        timestamp and nonce default to now and a random one."""
        nonce = nonce or str(secrets.randbelow(10**10))
        timestamp = timestamp or str(int(self._now().timestamp()))
        if not NONCE.fullmatch(nonce) or not timestamp.isdecimal():
            raise ValueError("a nonce is 1 to 64 letters or digits, a timestamp whole seconds")
        encrypted = self.encrypt(plain)
        return REPLY.format(encrypt=encrypted, signature=self.sign(timestamp, nonce, encrypted),
                            timestamp=timestamp, nonce=nonce)

    def encrypt(self, message: str) -> str:
        """The base64 ciphertext of a message: random prefix, length, message, receive id."""
        raw = message.encode("utf-8")
        framed = (secrets.token_bytes(RANDOM_PREFIX) + len(raw).to_bytes(LENGTH_FIELD, "big")
                  + raw + self._receive_id)
        padding = BLOCK - len(framed) % BLOCK
        framed += bytes([padding]) * padding
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(framed) + encryptor.finalize()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """The message inside a ciphertext; refuses bad framing or another receive id."""
        try:
            data = base64.b64decode(ciphertext, validate=True)
        except (binascii.Error, ValueError):
            raise TruncatedCiphertext("the ciphertext is not base64") from None
        if not data or len(data) % BLOCK:
            raise TruncatedCiphertext(f"{len(data)} bytes are not whole {BLOCK}-byte blocks")
        decryptor = self._cipher().decryptor()
        framed = decryptor.update(data) + decryptor.finalize()
        padding = framed[-1]
        if not 1 <= padding <= BLOCK or framed[-padding:] != bytes([padding]) * padding:
            raise BadPadding(f"the text does not end in PKCS#7 padding to {BLOCK} bytes")
        body = framed[RANDOM_PREFIX:-padding]
        if len(body) < LENGTH_FIELD:
            raise TruncatedCiphertext("too short for the random prefix and the length")
        length = int.from_bytes(body[:LENGTH_FIELD], "big")
        if LENGTH_FIELD + length > len(body):
            raise BadLength(f"the length says {length} bytes, {len(body) - LENGTH_FIELD} follow")
        message, receive_id = body[LENGTH_FIELD:LENGTH_FIELD + length], body[LENGTH_FIELD + length:]
        if receive_id != self._receive_id:
            raise WrongReceiveId(f"encrypted for receive id {receive_id[:64]!r}")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedMessage("the message is not UTF-8") from None

    def _check(self, msg_signature: str, timestamp: str, nonce: str, ciphertext: str) -> None:
        expected = self.sign(timestamp, nonce, ciphertext).encode("ascii")
        if not hmac.compare_digest(expected, msg_signature.encode("utf-8")):
            raise BadSignature("msg_signature does not match token, timestamp, nonce and text")
        try:
            sent = datetime.fromtimestamp(int(timestamp), UTC)
        except (ValueError, OverflowError, OSError):
            raise StaleTimestamp(f"the timestamp is not a time: {timestamp[:20]!r}") from None
        age = self._now() - sent
        if abs(age) > self._max_age:
            seconds, side = int(abs(age).total_seconds()), "old" if age > timedelta() else "ahead"
            raise StaleTimestamp(f"the timestamp is {seconds} s {side}, more than the "
                                 f"{int(self._max_age.total_seconds())} s allowed")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:IV_BYTES]))
