"""Serial patterns defined by operations run on RE2: no pattern can stall the site (issue 13)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from domain.models import Role
from domain.platform.errors import DomainError
from domain.vouchers import voucher_stock
from domain.vouchers._ledger import UNSAFE_PATTERN
from domain.vouchers.voucher_stock import MALFORMED, VoucherTypeForm
from tests.factories import org_tree, person

INNER = "FIELDOPS_SERIAL_PATTERN_INNER"
LONG_SERIAL = "A" * 59 + "C"  # `(A+)+B` against it backtracks 2^59 ways in Python's re
ROOT = Path(__file__).resolve().parent.parent


def test_backtracking_pattern_answers_a_long_serial() -> None:
    """A receipt checked against `(A+)+B` completes and refuses the serial as malformed; the
    check runs in a child process so that a backtracking engine fails the test by timing out
    instead of stalling the suite."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"{__file__}::test_receipt_against_backtracking_pattern"],
        cwd=ROOT, env=os.environ | {INNER: "1"}, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "1 passed" in done.stdout


@pytest.mark.usefixtures("database_url")
@pytest.mark.skipif(not os.environ.get(INNER), reason="run by the test above, in a child")
async def test_receipt_against_backtracking_pattern() -> None:
    """The vault receipt of a long serial under a catastrophic pattern is refused with the list."""
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O001")
    vtype = await voucher_stock.define_voucher_type(
        ops, "TOKEN", VoucherTypeForm("令牌", "Token", "(A+)+B", "none"))
    with pytest.raises(DomainError) as refused:
        await voucher_stock.receive_serials(ops, ids["province"], vtype.id, [LONG_SERIAL])
    assert refused.value.key == MALFORMED
    assert refused.value.params["serials"] == LONG_SERIAL


@pytest.mark.usefixtures("database_url")
@pytest.mark.parametrize("pattern", ["(?=A)[A-Z0-9]{8}", r"([0-9])\1{7}", "(?<!X)[0-9]{8}"])
async def test_pattern_re2_cannot_run_is_refused_with_the_reason(pattern: str) -> None:
    """Look-arounds and back-references are refused when the type is defined, with the reason."""
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O001")
    with pytest.raises(DomainError) as refused:
        await voucher_stock.define_voucher_type(
            ops, "TOKEN", VoucherTypeForm("令牌", "Token", pattern, "none"))
    assert refused.value.key == UNSAFE_PATTERN
    assert refused.value.params == {"pattern": pattern}
