"""Stored voucher balances, kept in step with every movement so balance pages stay cheap (V1).

A place is (org id, box id — 0 for the org vault —, state). Every serial move shifts one
unit from its old place to its new one inside the movement's transaction, through an
atomic upsert, so concurrent moves never lose a count. The invariant tests check that
these counts equal the counts of the voucher rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise import connections

from domain.models import VoucherBalance, VoucherState

VAULT = 0


@dataclass(frozen=True)
class Place:
    """Where serials are counted: an org's vault (box_id 0) or a box, in one state."""

    org_id: int
    box_id: int
    state: VoucherState


async def shift(voucher_type_id: int, source: Place | None, target: Place | None,
                count: int = 1) -> None:
    """Move `count` serials of a type between two places (None: entering or leaving)."""
    for place, delta in ((source, -count), (target, count)):
        if place is not None and delta:
            await _add(voucher_type_id, place, delta)


async def _add(voucher_type_id: int, place: Place, delta: int) -> None:
    connection = connections.get("default")
    marks = ("$1", "$2", "$3", "$4", "$5") if connection.capabilities.dialect == "postgres" \
        else ("?",) * 5
    await connection.execute_query(
        'INSERT INTO "voucher_balance" ("org_id", "box_id", "voucher_type_id", "state", '
        f'"count") VALUES ({", ".join(marks)}) ON CONFLICT ("org_id", "box_id", '
        '"voucher_type_id", "state") DO UPDATE SET "count" = "voucher_balance"."count" + '
        'EXCLUDED."count"',
        [place.org_id, place.box_id, voucher_type_id, place.state.value, delta],
    )


async def stored(org_ids: list[int] | None = None) -> list[VoucherBalance]:
    """The non-zero stored balances, of the given orgs or of all."""
    rows = VoucherBalance.filter(count__gt=0)
    if org_ids is not None:
        rows = rows.filter(org_id__in=org_ids)
    return await rows.order_by("org_id", "box_id", "voucher_type_id", "state")
