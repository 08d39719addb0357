"""Tail boxes: one per tablet, frozen with a lost tablet, what each holds (V1, V3, V5, D3)."""

from __future__ import annotations

from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.models import Device, TailBox, Voucher, VoucherMovement
from domain.platform import audit, outbox
from domain.platform.access import Permission, require, require_scope
from domain.platform.actors import Actor
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError, NotFound
from domain.platform.events import DeviceLost
from domain.platform.intents import Intent
from domain.vouchers._ledger import (
    NO_SUCH_BOX,
    clean_text,
    in_box_counts,
    managed_box,
    moment_or_now,
)

BOX_NOT_FROZEN = N_("The tail box of tablet %(asset_tag)s is not frozen.")
UNFROZEN_TO_HOLDER = N_("The tail box of tablet %(asset_tag)s is unfrozen by %(actor)s: "
                        "%(reason)s")


async def box_for_device(device_id: int) -> TailBox:
    """The tail box of a device, created on first use with the device's org (V1)."""
    box = await TailBox.get_or_none(device_id=device_id)
    if box is not None:
        return box
    device = await Device.get_or_none(id=device_id)
    if device is None:
        raise NotFound(N_("No such tablet."))
    try:
        async with in_transaction():
            return await TailBox.create(device_id=device.id, org_id=device.org_id,
                                        holder_id=device.holder_id)
    except IntegrityError:
        return await TailBox.get(device_id=device_id)


async def freeze_box_of_device(actor: Actor, device_id: int, reason: str,
                               now: datetime | None = None) -> None:
    """Freeze the tail box of a lost device (D3). Call inside the loss transaction."""
    text = clean_text(reason)
    async with in_transaction():
        box = await box_for_device(device_id)
        if await TailBox.filter(id=box.id, frozen=False).update(frozen=True, frozen_reason=text):
            await audit.record(actor, "tail_box.frozen", "tail_box", box.id,
                               org_id=box.org_id,
                               detail={"device_id": device_id, "reason": text,
                                       "at": moment_or_now(now).isoformat()})


async def freeze_box_of_lost_device(event: DeviceLost) -> None:
    """A tablet reported lost: its tail box is frozen (D3)."""
    await freeze_box_of_device(event.actor, event.device_id, event.reason, event.at)


async def unfreeze_box(actor: Actor, box_id: int, reason: str) -> TailBox:
    """An ops_admin unfreezes a box once the matter is settled (D3, V5)."""
    text = clean_text(reason)
    async with in_transaction():
        box, org, device = await managed_box(actor, box_id)
        if not box.frozen:
            raise DomainError(BOX_NOT_FROZEN, asset_tag=device.asset_tag)
        box.frozen, box.frozen_reason = False, ""
        await box.save(update_fields=["frozen", "frozen_reason"])
        await audit.record(actor, "tail_box.unfrozen", "tail_box", box.id, org_id=org.id,
                           detail={"reason": text})
        if box.holder_id is not None:
            await outbox.enqueue(box.holder_id, UNFROZEN_TO_HOLDER,
                                 {"asset_tag": device.asset_tag, "actor": actor.label,
                                  "reason": text},
                                 intent=Intent.of("tail_box.unfrozen", box.id),
                                 idempotency_key=f"tail_box:{box.id}:unfrozen:"
                                                 f"{utcnow().isoformat()}")
    return box


async def expected_in_box(box_id: int) -> dict[str, int]:
    """What is physically in the box per voucher type code, the one figure a day-end count,
    a hand-over and both inspection counts expect: in_box serials only, since a reserved one
    went to the customer at capture and mis-issued or void-pending ones are out (V3, V5)."""
    return await in_box_counts([box_id])


async def my_balance(actor: Actor) -> dict[str, int]:
    """The acting agent's box balance per voucher type code, for /box."""
    if actor.staff_id is None:
        return {}
    box_ids = await TailBox.filter(holder_id=actor.staff_id).values_list("id", flat=True)
    return await in_box_counts(list(box_ids)) if box_ids else {}


async def box_detail(actor: Actor, box_id: int, *, limit: int | None = None,
                     after: str | None = None, before: int | None = None,
                     movement_limit: int | None = None
                     ) -> tuple[TailBox, list[Voucher], list[VoucherMovement]]:
    """A box in scope, its serials by serial after `after` and its movements newest first
    before the id `before`, each list cut at its limit when one is given (V1)."""
    require(actor, Permission.VOUCHER_VIEW)
    box = await TailBox.get_or_none(id=box_id).prefetch_related("org", "holder", "device")
    if box is None:
        raise NotFound(NO_SUCH_BOX)
    require_scope(actor, box.org, NO_SUCH_BOX)
    vouchers = Voucher.filter(box_id=box.id).prefetch_related("voucher_type")
    if after is not None:
        vouchers = vouchers.filter(serial__gt=after)
    vouchers = vouchers.order_by("serial", "voucher_type_id")
    movements = VoucherMovement.filter(Q(from_box_id=box.id) | Q(to_box_id=box.id)
                                       ).prefetch_related("voucher").order_by("-id")
    if before is not None:
        movements = movements.filter(id__lt=before)
    return (box, list(await (vouchers.limit(limit) if limit else vouchers)),
            list(await (movements.limit(movement_limit) if movement_limit else movements)))


async def histories(voucher_ids: list[int]) -> dict[int, list[VoucherMovement]]:
    """The movements of each of the serials, oldest first, for a page of a box (V1)."""
    history: dict[int, list[VoucherMovement]] = {}
    for movement in await VoucherMovement.filter(voucher_id__in=voucher_ids).order_by("id"):
        history.setdefault(movement.voucher_id, []).append(movement)
    return history
