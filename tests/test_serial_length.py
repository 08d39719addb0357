"""A serial longer than the ledger keeps is refused with its reason before any query, on every
way a serial comes in (V1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.models import Voucher
from domain.platform.errors import DomainError
from domain.platform.identity import SERIAL_MAX_LENGTH, SERIAL_TOO_LONG
from domain.vouchers import mis_issues, voucher_stock
from tests.voucher_support import card, voucher_world

TOO_LONG = "6" * (SERIAL_MAX_LENGTH + 1)


async def test_receipt_allocation_and_mis_issue_refuse_a_serial_too_long(
    database_url: str, tmp_path: Path
) -> None:
    world = await voucher_world(tmp_path / "media")
    org_id, type_id = world.ids["outlet_a"], world.card_type.id
    attempts = {
        "listed": voucher_stock.receive_serials(world.ops, org_id, type_id, [card(1), TOO_LONG]),
        "range": voucher_stock.receive_range(world.ops, org_id, type_id, TOO_LONG, TOO_LONG),
        "allocation": voucher_stock.allocate(world.ops, world.box.id, type_id,
                                             serials=[TOO_LONG]),
        "mis-issue": mis_issues.record_mis_issue(world.ops, TOO_LONG, "错发"),
    }
    refusals = {}
    for way, attempt in attempts.items():
        with pytest.raises(DomainError) as refused:
            await attempt
        refusals[way] = refused.value.key
    assert refusals == dict.fromkeys(attempts, SERIAL_TOO_LONG)
    assert await Voucher.all().count() == 0
