"""Customer data encrypted at rest and found by exact value through a keyed hash (C10)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from domain.platform.errors import N_, DomainError

TOKEN_VERSION = "v1"
MIN_SECRET_LENGTH = 16
_NONCE_BYTES = 12
_KEY_BYTES = 32
_HKDF_SALT = b"fieldops/privacy"
_ENCRYPTION_INFO = b"fieldops/customer-data/aes-256-gcm/v1"
_LOOKUP_INFO = b"fieldops/customer-data/lookup-hmac-sha256/v1"


def _derive_key(secret: str, info: bytes) -> bytes:
    """One 256-bit key per purpose from the settings secret (C10)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=_HKDF_SALT, info=info)
    return hkdf.derive(secret.encode("utf-8"))


def normalise_lookup_value(text: str) -> str:
    """Canonical form for exact-value search: no whitespace, upper case (C10)."""
    return "".join(text.split()).upper()


class FieldCipher:
    """Encrypts customer fields and computes their lookup hashes (C10)."""

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"the privacy secret needs at least {MIN_SECRET_LENGTH} characters")
        self._aead = AESGCM(_derive_key(secret, _ENCRYPTION_INFO))
        self._lookup_key = _derive_key(secret, _LOOKUP_INFO)

    def encrypt(self, text: str) -> str:
        """Encrypt a customer field into a versioned token with a random nonce (C10)."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, text.encode("utf-8"), TOKEN_VERSION.encode())
        return f"{TOKEN_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str) -> str:
        """Decrypt a token; refuse tampered tokens and tokens of another key (C10)."""
        version, _, body = token.partition(".")
        if version != TOKEN_VERSION:
            raise DomainError(N_("This encrypted customer data has an unknown format."))
        try:
            raw = base64.urlsafe_b64decode(body.encode("ascii"))
            plain = self._aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], TOKEN_VERSION.encode()
            )
        except (InvalidTag, ValueError):  # binascii.Error and bad nonces are ValueErrors
            raise DomainError(
                N_("This encrypted customer data cannot be read: "
                   "it was altered or the key is wrong.")
            ) from None
        return plain.decode("utf-8")

    def lookup_hash(self, text: str) -> str:
        """Keyed HMAC-SHA256 of the normalised value for exact-value search (C10)."""
        value = normalise_lookup_value(text).encode("utf-8")
        return hmac.new(self._lookup_key, value, hashlib.sha256).hexdigest()
