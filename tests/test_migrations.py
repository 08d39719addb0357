"""The committed migrations match the models."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from tortoise import Tortoise
from tortoise.utils import get_schema_sql

from fieldops import db


async def test_models_have_no_unmigrated_changes(database_url: str) -> None:
    assert await db.model_changes(database_url) == []
    assert await db.pending_migrations(database_url) == []


def _indexes(rows_of: Callable[[str], list[tuple[Any, ...]]], tables: list[str]
             ) -> set[tuple[str, tuple[str, ...], bool]]:
    """(table, columns, unique) of every index of the tables, primary keys aside."""
    found = set()
    for table in tables:
        for _, name, unique, origin, *_ in rows_of(f"PRAGMA index_list('{table}')"):
            if origin != "pk":
                columns = tuple(row[2] for row in rows_of(f"PRAGMA index_info('{name}')"))
                found.add((table, columns, bool(unique)))
    return found


async def test_migrated_sqlite_keeps_every_unique_constraint_and_index(database_url: str
                                                                      ) -> None:
    connection = Tortoise.get_connection("default")
    if connection.capabilities.dialect != "sqlite":
        pytest.skip("SQLite rebuilds tables on ALTER; PostgreSQL alters in place")
    fresh = sqlite3.connect(":memory:")
    fresh.executescript(get_schema_sql(connection, safe=False))
    tables = [row[0] for row in fresh.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    migrated: dict[str, list[tuple[Any, ...]]] = {}
    for table in tables:
        for pragma in (f"PRAGMA index_list('{table}')",):
            migrated[pragma] = [tuple(r) for r in
                                (await connection.execute_query(pragma))[1]]
            for row in migrated[pragma]:
                info = f"PRAGMA index_info('{row[1]}')"
                migrated[info] = [tuple(r) for r in
                                  (await connection.execute_query(info))[1]]
    expected = _indexes(lambda sql: fresh.execute(sql).fetchall(), tables)
    assert expected <= _indexes(lambda sql: migrated[sql], tables)


async def test_database_recorded_before_renumbering_is_up_to_date(database_url: str) -> None:
    connection = Tortoise.get_connection("default")
    for old, new in db.RENAMED_MIGRATIONS.items():
        await connection.execute_query(
            f"UPDATE tortoise_migrations SET name = '{old}' WHERE name = '{new}'")
    assert await db.pending_migrations(database_url) == []
    _, rows = await connection.execute_query(
        "SELECT name FROM tortoise_migrations WHERE app = 'models'")
    assert set(db.RENAMED_MIGRATIONS.values()) <= {row["name"] for row in rows}
