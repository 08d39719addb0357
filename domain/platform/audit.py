"""The keyed, hash-chained audit log (S3): append inside the caller's transaction, verify
the chain, anchor it with checkpoints kept outside the database.

Each row's hash is an HMAC-SHA256, under the audit key, of the previous row's hash and the
row's own fields, so nobody without the key can edit, forge or re-chain rows. Rows written
before the chain was keyed (plain SHA-256) are accepted only as a prefix: the first keyed
row marks its end (`seal_legacy_rows` writes that row on upgrade), and no unkeyed row may
follow it. After a key rotation the previous keys still check the older rows, never a row
after the first one signed with a newer key. Rows removed from the end (or all of them) are
found by comparing the chain with a checkpoint: the row count and head hash, written
periodically to a log line and an append-only file that the database does not hold. Each
checkpoint line is signed with an HMAC under the audit key too, so whoever can write the
file cannot forge or edit a line without the key; lines written before they were signed are
read only when asked for, and only before the first signed one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tortoise import connections
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from domain.models import AuditLog, Org
from domain.platform.access import Permission, require, scope_prefix
from domain.platform.actors import Actor, system_actor
from domain.platform.clock import utcnow
from domain.platform.errors import N_
from domain.platform.paging import Page, PageRequest, keyset_page

GENESIS_HASH = "0" * 64
_PG_AUDIT_LOCK = 7_301_001
SEALED = "audit.chain_keyed"


class _Keys:
    """The audit keys of this process, oldest first; the last one signs new rows."""

    in_force: tuple[bytes, ...] = ()


_KEYS = _Keys()


def use_keys(current: str, previous: Sequence[str] = ()) -> None:
    """Key the chain of this process (S3): new rows are signed with `current`; `previous`
    keys, oldest first, still check the rows written before a rotation."""
    if not current:
        raise ValueError("the audit key is empty")
    _KEYS.in_force = tuple(key.encode("utf-8") for key in (*previous, current))


def _signing_key() -> bytes:
    if not _KEYS.in_force:
        raise RuntimeError("the audit chain has no key: call audit.use_keys() at start")
    return _KEYS.in_force[-1]


def _canonical(row: AuditLog) -> bytes:
    """The row's own fields as canonical JSON."""
    payload = {
        "at": row.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": row.actor_id,
        "actor_label": row.actor_label,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "org_id": row.org_id,
        "detail": row.detail,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def row_digest(prev_hash: str, row: AuditLog, key: bytes | None) -> str:
    """HMAC-SHA256 under `key` over the previous hash and the row's own fields; plain
    SHA-256 for `None`, as rows were hashed before the chain was keyed."""
    message = prev_hash.encode("utf-8") + _canonical(row)
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


async def record(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object = "",
    *,
    org_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditLog:
    """Append one audit row signed with the audit key; call it inside the transaction that
    made the change (S3)."""
    key = _signing_key()
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query("SELECT pg_advisory_xact_lock($1)", [_PG_AUDIT_LOCK])
    last = await AuditLog.all().order_by("-id").first()
    prev_hash = last.row_hash if last else GENESIS_HASH
    row = AuditLog(
        at=utcnow(),
        actor_id=actor.staff_id,
        actor_label=actor.label,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        org_id=org_id,
        detail=detail or {},
        prev_hash=prev_hash,
    )
    row.row_hash = row_digest(prev_hash, row, key)
    await row.save()
    return row


async def seal_legacy_rows() -> int:
    """Close the unkeyed prefix of an upgraded log with a keyed row naming its length, so
    that no unkeyed row can be appended after it (S3); the number of rows sealed, 0 when
    the last row is keyed already or the log is empty."""
    last = await AuditLog.all().order_by("-id").first()
    if last is None or _key_level(last.prev_hash, last, 1) is not None:
        return 0
    legacy = await AuditLog.all().count()
    await record(system_actor("audit"), SEALED, "audit_log", last.id,
                 detail={"legacy_rows": legacy})
    return legacy


def _key_level(prev_hash: str, row: AuditLog, lowest: int) -> int | None:
    """The oldest key, from `lowest` up (0 = unkeyed, then the keys oldest first), that the
    row's hash was made with; None when none was."""
    keys: tuple[bytes | None, ...] = (None, *_KEYS.in_force)
    for level in range(lowest, len(keys)):
        if hmac.compare_digest(row_digest(prev_hash, row, keys[level]), row.row_hash):
            return level
    return None


_CHECKPOINT_CONTEXT = b"fieldops/audit-checkpoint/v1\n"  # no row hash passes as a signature
UNSIGNED_CHECKPOINT = N_("the line is not signed")
FORGED_CHECKPOINT = N_("the signature does not match the line: it was forged or edited")
RETIRED_KEY_CHECKPOINT = N_("the line is signed with a key retired before an earlier line's key")
UNSIGNED_AFTER_SIGNED = N_("an unsigned line follows a signed one")
UNREADABLE_CHECKPOINT = N_("the line is not a checkpoint")


@dataclass(frozen=True)
class Checkpoint:
    """The chain's length and head at a moment, kept outside the database (S3)."""

    at: datetime
    rows: int
    head_id: int
    head_hash: str

    def _payload(self) -> bytes:
        return json.dumps({"at": self.at.isoformat(), "rows": self.rows,
                           "head_id": self.head_id, "head_hash": self.head_hash},
                          sort_keys=True, separators=(",", ":")).encode("utf-8")

    def signature(self, key: bytes) -> str:
        """HMAC-SHA256 of the checkpoint's fields under an audit key (S3)."""
        return hmac.new(key, _CHECKPOINT_CONTEXT + self._payload(), hashlib.sha256).hexdigest()

    def line(self) -> str:
        """The checkpoint as one line of the checkpoint file, signed with the audit key."""
        return json.dumps({"at": self.at.isoformat(), "rows": self.rows,
                           "head_id": self.head_id, "head_hash": self.head_hash,
                           "sig": self.signature(_signing_key())})

    @classmethod
    def of_line(cls, line: str) -> tuple[Checkpoint, str]:
        """A checkpoint read back from its line, with its signature ("" when unsigned)."""
        data = json.loads(line)
        mark = cls(at=datetime.fromisoformat(data["at"]), rows=int(data["rows"]),
                   head_id=int(data["head_id"]), head_hash=str(data["head_hash"]))
        return mark, str(data.get("sig", ""))

    def key_level(self, signature: str, lowest: int) -> int | None:
        """The oldest audit key, from `lowest` up (oldest first), that signed the checkpoint;
        None when none did."""
        for level in range(lowest, len(_KEYS.in_force)):
            if hmac.compare_digest(self.signature(_KEYS.in_force[level]), signature):
                return level
        return None


class CheckpointRejected(ValueError):
    """A checkpoint line that does not hold: forged, edited, unsigned or unreadable (S3)."""

    def __init__(self, line_no: int, reason: str) -> None:
        super().__init__(f"line {line_no}: {reason}")
        self.line_no = line_no
        self.reason = reason


async def checkpoint() -> Checkpoint:
    """The chain's current length and head (S3); rows appended meanwhile come after it."""
    head = await AuditLog.all().order_by("-id").first()
    if head is None:
        return Checkpoint(at=utcnow(), rows=0, head_id=0, head_hash=GENESIS_HASH)
    rows = await AuditLog.filter(id__lte=head.id).count()
    return Checkpoint(at=utcnow(), rows=rows, head_id=head.id, head_hash=head.row_hash)


def append_checkpoint(path: Path, mark: Checkpoint) -> str:
    """Add a checkpoint, signed, to the end of the append-only checkpoint file; the line."""
    line = mark.line()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.write(line + "\n")
    return line


def read_checkpoints(path: Path, allow_unsigned: bool = False) -> list[Checkpoint]:
    """Every checkpoint in a checkpoint file, oldest first, each line's signature checked with
    the audit keys (S3); the first line that does not hold is refused with its number.
    Unsigned lines from before checkpoints were signed pass only with `allow_unsigned`, and
    only before the first signed line; no line may be signed with a key retired before the
    key of an earlier line."""
    marks: list[Checkpoint] = []
    level, signed = 0, False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            mark, signature = Checkpoint.of_line(line)
        except (ValueError, KeyError, TypeError):
            raise CheckpointRejected(number, UNREADABLE_CHECKPOINT) from None
        if not signature:
            if not allow_unsigned:
                raise CheckpointRejected(number, UNSIGNED_CHECKPOINT)
            if signed:
                raise CheckpointRejected(number, UNSIGNED_AFTER_SIGNED)
        else:
            found = mark.key_level(signature, level)
            if found is None:
                retired = mark.key_level(signature, 0) is not None
                raise CheckpointRejected(number, RETIRED_KEY_CHECKPOINT if retired
                                         else FORGED_CHECKPOINT)
            level, signed = found, True
        marks.append(mark)
    return marks


@dataclass(frozen=True)
class ChainBreak:
    """Where the chain does not hold: the first bad row (None when rows are missing at the
    end) and the reason, a msgid with its parameters."""

    row_id: int | None
    reason: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class ChainReport:
    """Rows checked, of them unkeyed ones from before the key, and the first break."""

    checked: int
    legacy: int
    broken: ChainBreak | None


async def verify_chain(checkpoints: Sequence[Checkpoint] = (), batch: int = 1000,
                       progress: Callable[[int, int], None] | None = None) -> ChainReport:
    """Walk the chain from the start with the audit keys and compare it with the checkpoints
    (S3); the first break found, if any."""
    expected = {mark.rows: mark for mark in checkpoints if mark.rows}
    total = await AuditLog.all().count()
    prev_hash, level, checked, legacy, last_id = GENESIS_HASH, 0, 0, 0, 0
    while rows := await AuditLog.filter(id__gt=last_id).order_by("id").limit(batch):
        for row in rows:
            if row.prev_hash != prev_hash:
                return ChainReport(checked, legacy, ChainBreak(
                    row.id, N_("link to the previous row is broken")))
            found = _key_level(prev_hash, row, level)
            if found is None:
                return ChainReport(checked, legacy, ChainBreak(
                    row.id, N_("row content does not match its hash")))
            level = found
            legacy += level == 0
            checked += 1
            mark = expected.get(checked)
            if mark is not None and (mark.head_id, mark.head_hash) != (row.id, row.row_hash):
                return ChainReport(checked, legacy, ChainBreak(
                    row.id, N_("the chain differs from the checkpoint of %(at)s, which "
                               "ends at row %(head)s"), {"at": mark.at.isoformat(),
                                                         "head": mark.head_id}))
            prev_hash, last_id = row.row_hash, row.id
        if progress is not None:
            progress(checked, total)
    longest = max(checkpoints, key=lambda mark: mark.rows, default=None)
    if longest is not None and longest.rows > checked:
        return ChainReport(checked, legacy, ChainBreak(None, N_(
            "rows are missing: the checkpoint of %(at)s counted %(rows)s rows"),
            {"at": longest.at.isoformat(), "rows": longest.rows}))
    return ChainReport(checked, legacy, None)


@dataclass(frozen=True)
class AuditFilter:
    """Search terms for the audit log page: a person (rows by or about him) or a typed name,
    an action code, an object, a period."""

    actor: str = ""
    person_id: int | None = None
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    date_from: datetime | None = None
    date_to: datetime | None = None


async def matching(actor: Actor, terms: AuditFilter) -> QuerySet[AuditLog]:
    """The audit rows the actor may read (S3) that match the terms, within his org subtree."""
    require(actor, Permission.AUDIT_VIEW)
    query = AuditLog.all()
    prefix = scope_prefix(actor)
    if prefix != "/":
        org_ids = await Org.filter(path__startswith=prefix).values_list("id", flat=True)
        query = query.filter(org_id__in=list(org_ids))
    if terms.person_id is not None:
        query = query.filter(Q(actor_id=terms.person_id)
                             | Q(object_type="staff", object_id=str(terms.person_id)))
    for condition, value in (("actor_label__icontains", terms.actor), ("action", terms.action),
                             ("object_type", terms.object_type), ("object_id", terms.object_id),
                             ("at__gte", terms.date_from), ("at__lt", terms.date_to)):
        if value:
            query = query.filter(**{condition: value})
    return query


async def search(actor: Actor, terms: AuditFilter, limit: int = 200) -> list[AuditLog]:
    """Audit rows the actor may read (S3), newest first, within the actor's org subtree."""
    return await (await matching(actor, terms)).order_by("-id").limit(limit)


async def search_page(actor: Actor, terms: AuditFilter, paging: PageRequest) -> Page[AuditLog]:
    """One page of the audit rows the actor may read (S3), newest first: every row can be
    reached, however long the log."""
    return await keyset_page(await matching(actor, terms), ("-id",), paging)


async def count_rows(actor: Actor) -> int:
    """Number of rows in the audit log (for /metrics)."""
    require(actor, Permission.AUDIT_VIEW)
    return await AuditLog.all().count()
