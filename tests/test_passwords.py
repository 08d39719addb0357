"""Password hashes: production cost in a fresh process, verification across costs (S3)."""

from __future__ import annotations

import subprocess
import sys

from argon2.profiles import CHEAPEST

from domain.people import passwords


def test_a_fresh_process_hashes_at_the_production_cost() -> None:
    script = ("import asyncio\nfrom domain.people.passwords import hash_password\n"
              "print(asyncio.run(hash_password('pw-123456')))")
    printed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             check=True).stdout
    cost = passwords.PRODUCTION_COST
    assert printed.startswith("$argon2id$")
    assert f"$m={cost.memory_cost},t={cost.time_cost},p={cost.parallelism}$" in printed
    assert cost.memory_cost >= 65536 and cost.time_cost >= 3


async def test_a_hash_verifies_whatever_cost_hashes_new_passwords_now() -> None:
    stored = await passwords.hash_password("Secret-pass-123")
    assert f"$m={CHEAPEST.memory_cost},t={CHEAPEST.time_cost}," in stored
    passwords.use_hash_cost(passwords.PRODUCTION_COST)
    try:
        assert await passwords.password_matches(stored, "Secret-pass-123")
        assert not await passwords.password_matches(stored, "Secret-pass-124")
    finally:
        passwords.use_hash_cost(CHEAPEST)
