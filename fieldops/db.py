"""Database configuration, start-up and migration checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tortoise import Tortoise, connections
from tortoise.context import TortoiseContext
from tortoise.exceptions import OperationalError
from tortoise.migrations.api import migrate as migrate_api
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.executor import MigrationExecutor
from tortoise.migrations.writer import MigrationWriter, format_migration_name

from domain.models import MODEL_MODULES
from domain.wiring import wire_events

APP = "models"
SQLITE_BUSY_TIMEOUT_MS = 5000


def tortoise_config(database_url: str) -> dict[str, Any]:
    """Build the Tortoise config; SQLite gets WAL and a busy timeout."""
    if database_url.startswith("sqlite://"):
        file_path = database_url.removeprefix("sqlite://")
        if file_path != ":memory:":
            Path(file_path).parent.mkdir(parents=True, exist_ok=True)
        connection: Any = {
            "engine": "tortoise.backends.sqlite",
            "credentials": {
                "file_path": file_path,
                "journal_mode": "WAL",
                "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
                "foreign_keys": "ON",
            },
        }
    else:
        parts = urlsplit(database_url)
        connection = {
            "engine": "tortoise.backends.asyncpg",
            "credentials": {
                "host": parts.hostname or "127.0.0.1",
                "port": parts.port or 5432,
                "user": parts.username or "postgres",
                "password": parts.password or "",
                "database": parts.path.lstrip("/") or "postgres",
            },
        }
    return {
        "connections": {"default": connection},
        "apps": {
            APP: {
                "models": MODEL_MODULES,
                "migrations": "domain.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


_open: list[tuple[str, TortoiseContext]] = []


async def open_database(database_url: str) -> None:
    """Connect Tortoise for this process, every task seeing it through the global fallback;
    the domain's event handlers are wired first, so every process that works is wired."""
    if _open:
        await close_database()
    wire_events()
    context = await Tortoise.init(config=tortoise_config(database_url),
                                  _enable_global_fallback=True)
    _open.append((database_url, context))


async def close_database() -> None:
    """Close the connections opened by `open_database`."""
    while _open:
        await _open.pop()[1].close_connections()


def is_open() -> bool:
    """Whether this process has a database open."""
    return bool(_open)


@asynccontextmanager
async def opened(database_url: str) -> AsyncIterator[None]:
    """The database open while the block runs: opened here and closed on exit, or left to
    whoever in this process opened it first, so web, bot and scheduler share one."""
    if is_open():
        if _open[-1][0] != database_url:
            raise RuntimeError("this process already has another database open")
        yield
        return
    await open_database(database_url)
    try:
        yield
    finally:
        await close_database()


# Migrations 0016–0018 were renumbered so that their numbers follow the order they apply in;
# a database that recorded the earlier names is given the new ones before planning.
RENAMED_MIGRATIONS = {
    "0016_web_sessions": "0017_web_sessions",
    "0017_role_grants": "0018_role_grants",
    "0018_audit_log_append_only": "0016_audit_log_append_only",
}


async def rename_recorded_migrations() -> int:
    """Record renumbered migrations under their new names; returns how many rows changed."""
    connection = connections.get("default")
    try:
        _, rows = await connection.execute_query(
            "SELECT name FROM tortoise_migrations WHERE app = 'models'")
    except OperationalError:  # a new database: nothing recorded yet
        return 0
    recorded = {row["name"] for row in rows}
    renamed = [(old, new) for old, new in RENAMED_MIGRATIONS.items() if old in recorded]
    for old, new in renamed:
        await connection.execute_query(
            f"UPDATE tortoise_migrations SET name = '{new}' "  # the names are the constants above
            f"WHERE app = 'models' AND name = '{old}'")
    return len(renamed)


async def pending_migrations(database_url: str) -> list[str]:
    """Names of migrations not yet applied to the database."""
    await rename_recorded_migrations()
    config = tortoise_config(database_url)
    executor = MigrationExecutor(connections.get("default"), config["apps"])
    steps = await executor.plan(None)
    return [step.migration.name for step in steps if not step.backward]


async def apply_migrations(database_url: str, progress: Any = None) -> None:
    """Apply every committed migration."""
    await rename_recorded_migrations()
    await migrate_api(config=tortoise_config(database_url), progress=progress)


async def _migration_writers(database_url: str) -> list[MigrationWriter]:
    config = tortoise_config(database_url)
    return await MigrationAutodetector(Tortoise.apps, config["apps"]).changes()


async def model_changes(database_url: str) -> list[str]:
    """Names of migrations that `make_migrations` would write (empty when up to date)."""
    return [writer.name for writer in await _migration_writers(database_url)]


async def make_migrations(database_url: str, name: str | None) -> list[str]:
    """Write migration files for model changes; return their paths."""
    written = []
    for writer in await _migration_writers(database_url):
        if name:
            writer.name = format_migration_name(int(writer.name.split("_", 1)[0]), name)
        written.append(str(writer.write()))
    return written
