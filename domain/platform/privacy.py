"""Customer data encrypted at rest and found by exact value through a keyed hash; who may
see ID-card images, how many clear ID numbers and mobiles one person may reveal, and the
audit of refused reveals (C10, S2)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from tortoise.transactions import in_transaction

from domain.models import AuditLog, CasePhoto, Org, PhotoKind, Role
from domain.platform import audit, outbox
from domain.platform.actors import Actor
from domain.platform.chains import staff_in_chain
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError, PermissionDenied
from domain.platform.intents import Action, Intent

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


# --- who sees ID-card images ---------------------------------------------------------------

ID_CARD_KINDS = frozenset({PhotoKind.ID_FRONT, PhotoKind.ID_BACK})
# The roles whose duty needs the ID card: the review, the audit, the callback, operations
# management. Not the system administrator, not the branch supervisor (S2).
ID_IMAGE_ROLES = frozenset({Role.REVIEWER, Role.AUDITOR, Role.CALLBACK_AGENT, Role.OPS_ADMIN})


def may_see_id_images(actor: Actor, agent_id: int | None = None) -> bool:
    """True for the roles whose duty needs ID-card images, and for the agent who took them."""
    return (agent_id is not None and actor.staff_id == agent_id) or actor.has(*ID_IMAGE_ROLES)


async def open_photo(actor: Actor, photo: CasePhoto, agent_id: int, org_id: int) -> None:
    """Let a view of a case photo through; an ID-card image only to `may_see_id_images`,
    and every view of one audited like a reveal (C10, S2)."""
    if photo.kind not in ID_CARD_KINDS:
        return
    if not may_see_id_images(actor, agent_id):
        async with audited_refusal(actor, "case.id_image_view", "case",
                                   photo.case_id):  # type: ignore[attr-defined]
            raise PermissionDenied(N_("ID-card images are shown only to the roles whose duty "
                                      "needs them."))
    async with in_transaction():
        await audit.record(actor, "case.id_image_view", "case",
                           photo.case_id,  # type: ignore[attr-defined]
                           org_id=org_id, detail={"sha256": photo.sha256,
                                                  "kind": photo.kind.value,
                                                  "revision": photo.revision})


# --- how much customer data one person reveals in clear, and refused reveals ---------------

REVEAL_WINDOW = timedelta(hours=1)
# A case's ID number and mobile, a callback's mobile: one count per person.
REVEAL_ACTIONS = ("case.customer_reveal", "callback.customer_reveal")
REFUSED_SUFFIX = "_refused"


@asynccontextmanager
async def audited_refusal(actor: Actor, action: str, object_type: str, object_id: object
                          ) -> AsyncIterator[None]:
    """Let a reveal run; when a rule refuses it, record who asked for what and why as
    `<action>_refused` in a transaction of its own (the reveal's rolls back), then let the
    refusal go on to the user (C10, issue 13)."""
    try:
        yield
    except DomainError as refusal:
        async with in_transaction():
            await audit.record(actor, action + REFUSED_SUFFIX, object_type, object_id,
                               org_id=actor.org_id, detail={
                                   "reason": refusal.key, "refusal": type(refusal).__name__,
                                   "params": {k: str(v) for k, v in refusal.params.items()}})
        raise


@dataclass(frozen=True)
class RevealLimits:
    """Clear reveals of customer data (a case's ID number and mobile, a callback's mobile)
    one person may make per hour, and the count from which his supervisors are alerted
    (C10, S2)."""

    per_hour: int = 30
    alert_from: int = 20


DEFAULT_REVEAL_LIMITS = RevealLimits()


async def charge_reveal(actor: Actor, limits: RevealLimits) -> None:
    """Refuse a reveal past the actor's hourly rate, and alert his supervisors when he reaches
    the alert mark (C10, S2). Call it in the reveal's transaction right after its audit row:
    the audit chain's lock makes concurrent reveals count one after the other, and a refusal
    rolls the row back."""
    if actor.staff_id is None:
        return
    done = await AuditLog.filter(actor_id=actor.staff_id, action__in=REVEAL_ACTIONS,
                                 at__gt=utcnow() - REVEAL_WINDOW).count()
    if done > limits.per_hour:
        raise DomainError(N_("You may reveal customer data in clear at most %(n)s times an "
                             "hour. Try again later; your supervisors see how many you "
                             "revealed."), n=limits.per_hour)
    if done == limits.alert_from:
        await _alert_supervisors(actor, done)


async def _alert_supervisors(actor: Actor, count: int) -> None:
    """The branch supervisors and operations management above the actor hear of his reveals."""
    org = await Org.get(id=actor.org_id)
    hour = utcnow().strftime("%Y%m%d%H")
    for boss in await staff_in_chain(org, Role.SUPERVISOR, Role.OPS_ADMIN):
        if boss.id == actor.staff_id:
            continue
        await outbox.enqueue(
            boss.id, N_("%(actor)s revealed customer data in clear %(n)s times within an "
                        "hour."),
            {"actor": actor.label, "n": count},
            intent=Intent.of("staff.reveals_alert", actor.staff_id, Action.OPEN),  # type: ignore[arg-type]
            idempotency_key=f"reveals:{actor.staff_id}:{hour}:{boss.id}")
