"""Why a WeCom callback is refused, and why the WeCom settings cannot start the channel.

Every refusal of a callback is a `CallbackRefused` with a stable `reason` (for logs and
counters) and a message saying what was wrong; the callback route answers each with an error
status and stores nothing. A bad setting is a `BadSetting` whose message is one line naming the
setting, so start-up stops with it like any other bad `FIELDOPS_*` value (issue 15).
"""

from __future__ import annotations


class BadSetting(ValueError):
    """A WeCom setting cannot work; the message is one line starting with the setting's name."""


class CallbackRefused(Exception):
    """A callback from WeCom (or from someone posing as WeCom) is refused."""

    reason = "refused"


class BadSignature(CallbackRefused):
    """`msg_signature` is not the SHA-1 of the sorted token, timestamp, nonce and ciphertext."""

    reason = "bad_signature"


class StaleTimestamp(CallbackRefused):
    """The timestamp is missing, not a number, or further from now than the allowed age."""

    reason = "stale_timestamp"


class TruncatedCiphertext(CallbackRefused):
    """The ciphertext is not base64, not whole 32-byte blocks, or too short for its framing."""

    reason = "truncated_ciphertext"


class BadPadding(CallbackRefused):
    """The decrypted text does not end in PKCS#7 padding to a block of 32 bytes."""

    reason = "bad_padding"


class BadLength(CallbackRefused):
    """The message length in the decrypted text runs past the data."""

    reason = "bad_length"


class WrongReceiveId(CallbackRefused):
    """The receive id after the message is not our corp id: encrypted for someone else."""

    reason = "wrong_receive_id"


class MalformedMessage(CallbackRefused):
    """The body or the decrypted message is not the UTF-8 XML WeCom sends."""

    reason = "malformed_message"


class UnsafeXml(CallbackRefused):
    """The XML declares a DTD, an entity or an external reference: never expanded, refused."""

    reason = "unsafe_xml"


class OversizeBody(CallbackRefused):
    """The body or the decrypted message is larger than a callback can be; refused unread."""

    reason = "oversize_body"
