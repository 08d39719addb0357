"""The hash-chained audit log (S3): append inside the caller's transaction, verify the chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import connections

from domain.models import AuditLog, Org
from domain.platform.access import Permission, require, scope_prefix
from domain.platform.actors import Actor
from domain.platform.clock import utcnow
from domain.platform.errors import N_

GENESIS_HASH = "0" * 64
_PG_AUDIT_LOCK = 7_301_001


def row_digest(prev_hash: str, row: AuditLog) -> str:
    """SHA-256 over the previous hash and the row's own fields."""
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
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


async def record(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object = "",
    *,
    org_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditLog:
    """Append one audit row; call it inside the transaction that made the change."""
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
    row.row_hash = row_digest(prev_hash, row)
    await row.save()
    return row


@dataclass(frozen=True)
class ChainBreak:
    """The first audit row whose hash or link does not hold."""

    row_id: int
    reason: str


async def verify_chain(batch: int = 1000) -> tuple[int, ChainBreak | None]:
    """Walk the chain from the start; return rows checked and the first break, if any."""
    prev_hash = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        rows = await AuditLog.filter(id__gt=last_id).order_by("id").limit(batch)
        if not rows:
            return checked, None
        for row in rows:
            if row.prev_hash != prev_hash:
                return checked, ChainBreak(row.id, N_("link to the previous row is broken"))
            if row_digest(prev_hash, row) != row.row_hash:
                return checked, ChainBreak(row.id, N_("row content does not match its hash"))
            prev_hash = row.row_hash
            last_id = row.id
            checked += 1


@dataclass(frozen=True)
class AuditFilter:
    """Search terms for the audit log page."""

    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    date_from: datetime | None = None
    date_to: datetime | None = None


async def search(actor: Actor, terms: AuditFilter, limit: int = 200) -> list[AuditLog]:
    """Audit rows the actor may read (S3), newest first, within the actor's org subtree."""
    require(actor, Permission.AUDIT_VIEW)
    query = AuditLog.all()
    prefix = scope_prefix(actor)
    if prefix != "/":
        org_ids = await Org.filter(path__startswith=prefix).values_list("id", flat=True)
        query = query.filter(org_id__in=list(org_ids))
    if terms.actor:
        query = query.filter(actor_label__icontains=terms.actor)
    if terms.action:
        query = query.filter(action__icontains=terms.action)
    if terms.object_type:
        query = query.filter(object_type=terms.object_type)
    if terms.object_id:
        query = query.filter(object_id=terms.object_id)
    if terms.date_from:
        query = query.filter(at__gte=terms.date_from)
    if terms.date_to:
        query = query.filter(at__lt=terms.date_to)
    return await query.order_by("-id").limit(limit)


async def count_rows(actor: Actor) -> int:
    """Number of rows in the audit log (for /metrics)."""
    require(actor, Permission.AUDIT_VIEW)
    return await AuditLog.all().count()
