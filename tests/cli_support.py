"""Run the `fieldops` command as a newcomer would, on the test clock."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from domain.platform.clock import utcnow
from tests.audit_support import AUDIT_KEY
from tests.clock_support import subprocess_clock_env

FIELDOPS = [sys.executable, "-m", "fieldops.cli"]


def cli_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `fieldops` run: this test's database, no other FIELDOPS_ setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDOPS_")}
    env |= {"FIELDOPS_DATABASE_URL": database_url, "FIELDOPS_SECRET_KEY": "k" * 48,
            "FIELDOPS_MEDIA_ROOT": str(tmp_path / "media"), "FIELDOPS_AUDIT_KEY": AUDIT_KEY}
    return env | extra


async def fieldops(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run `fieldops ARGS` to its end, its clock starting where the test's clock is now."""
    return await asyncio.to_thread(
        subprocess.run, [*FIELDOPS, *args], env=env | subprocess_clock_env(utcnow()), cwd=cwd,
        capture_output=True, text=True, timeout=120,
    )
