"""The audit key of the tests and an attacker's hand on the audit table (S3)."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tortoise import connections

AUDIT_KEY = "the-audit-key-of-the-tests-kept-apart-from-the-db"
APPEND_ONLY = importlib.import_module("domain.migrations.0016_audit_log_append_only")


@asynccontextmanager
async def owner_rights() -> AsyncIterator[None]:
    """The audit table without its append-only triggers while the block runs, as the
    table's owner could drop them; they are back afterwards."""
    client = connections.get("default")
    down, up = ((APPEND_ONLY.POSTGRES_DOWN, APPEND_ONLY.POSTGRES_UP)
                if client.capabilities.dialect == "postgres"
                else (APPEND_ONLY.SQLITE_DOWN, APPEND_ONLY.SQLITE_UP))
    for statement in down:
        await client.execute_script(statement)
    try:
        yield
    finally:
        for statement in up:
            await client.execute_script(statement)
