"""What the managed lists of the case area share (business types, review reasons): both
names required, and every change audited with the row before and after it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tortoise.models import Model
from tortoise.transactions import in_transaction

from domain.platform import audit
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError

Snapshot = Callable[[Any], dict[str, Any]]
Entry = TypeVar("Entry", bound=Model)


def both_names(name_zh: str, name_en: str) -> tuple[str, str]:
    """The Chinese and the English name, trimmed; refused when either is blank."""
    clean_zh, clean_en = name_zh.strip(), name_en.strip()
    if not clean_zh or not clean_en:
        raise DomainError(N_("Both the Chinese and the English name are required."))
    return clean_zh, clean_en


async def audit_change(actor: Actor, object_type: str, action: str, row: Model, snapshot: Snapshot,
                       before: dict[str, Any] | None) -> None:
    """The audit row of one change to a list entry: `object_type.action`, before and after."""
    await audit.record(actor, f"{object_type}.{action}", object_type, row.pk, org_id=actor.org_id,
                       detail={"before": before, "after": snapshot(row)})


async def create_entry(actor: Actor, object_type: str, model: type[Entry], code: str, taken: str,
                       snapshot: Snapshot, **values: Any) -> Entry:
    """Add an entry under a code not used yet (else refused with `taken`), audited."""
    async with in_transaction():
        if await model.exists(code=code):
            raise DomainError(taken, code=code)
        row = await model.create(code=code, **values)
        await audit_change(actor, object_type, "create", row, snapshot, None)
    return row


async def update_entry(actor: Actor, object_type: str, row: Model, values: dict[str, Any],
                       snapshot: Snapshot) -> None:
    """Apply checked values to an entry; saved and audited only when something changed."""
    before = snapshot(row)
    row.update_from_dict(values)
    if snapshot(row) != before:
        await row.save()
        await audit_change(actor, object_type, "update", row, snapshot, before)


async def set_entry_active(actor: Actor, object_type: str, row: Model, active: bool,
                           snapshot: Snapshot, fields: tuple[str, ...] = ("active",)) -> None:
    """Offer an entry again or withdraw it, audited; nothing happens when it already is."""
    if row.active == active:  # type: ignore[attr-defined]
        return
    before = snapshot(row)
    row.active = active  # type: ignore[attr-defined]
    await row.save(update_fields=list(fields))
    await audit_change(actor, object_type, "activate" if active else "deactivate", row, snapshot,
                       before)
