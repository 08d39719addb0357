"""Test harness: a migrated database per test, on SQLite or on PostgreSQL.

`make test` runs the suite with FIELDOPS_TEST_BACKEND unset (SQLite) and again with
FIELDOPS_TEST_BACKEND=postgres when FIELDOPS_TEST_DATABASE_URL points at a server.
On SQLite every test copies a database migrated once per session; on PostgreSQL the
session migrates a fresh database once and every test starts from truncated tables.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from argon2.profiles import CHEAPEST
from tortoise import Tortoise, connections

from domain.people import passwords
from fieldops import db
from tests.browser_support import start_chromium
from tests.clock_support import SteadyClock, install, test_now

# fixtures shared by several test modules, found by name
pytest_plugins = ("tests.dashboard_support",)

BACKEND = os.environ.get("FIELDOPS_TEST_BACKEND", "sqlite")
PG_SERVER_URL = os.environ.get("FIELDOPS_TEST_DATABASE_URL", "")


def pytest_report_header() -> str:
    return f"fieldops database backend: {BACKEND}"


async def _migrate(url: str) -> None:
    await db.open_database(url)
    try:
        await db.apply_migrations(url)
    finally:
        await db.close_database()


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    """Hash test passwords at argon2's cheapest cost; production keeps its own
    (test_passwords checks it)."""
    passwords.use_hash_cost(CHEAPEST)
    yield
    passwords.use_hash_cost(passwords.PRODUCTION_COST)


@pytest.fixture(autouse=True)
def test_clock() -> Iterator[SteadyClock]:
    """Every test runs on a clock that starts at the same business moment (`test_now`),
    never on the wall clock; a test moves it with monkeypatch or passes its own times."""
    steady = SteadyClock(test_now())
    undo = install(steady)
    yield steady
    undo()


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The DevTools address of one headless Chromium shared by the session's browser tests."""
    yield from start_chromium(tmp_path_factory.mktemp("chromium-profile"))


def _pg_url(database: str) -> str:
    parts = urlsplit(PG_SERVER_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", "", ""))


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database at the latest migration; SQLite: a template file, PostgreSQL: a database."""
    if BACKEND == "sqlite":
        template = tmp_path_factory.mktemp("db") / "template.sqlite3"
        asyncio.run(_migrate(f"sqlite://{template}"))
        yield str(template)
        return
    if not PG_SERVER_URL:
        pytest.exit("FIELDOPS_TEST_BACKEND=postgres needs FIELDOPS_TEST_DATABASE_URL", 2)
    name = f"fieldops_test_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        server = await asyncpg.connect(PG_SERVER_URL)
        await server.execute(f'CREATE DATABASE "{name}"')
        await server.close()

    async def drop() -> None:
        server = await asyncpg.connect(PG_SERVER_URL)
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await server.close()

    asyncio.run(create())
    url = _pg_url(name)
    try:
        asyncio.run(_migrate(url))
        yield url
    finally:
        asyncio.run(drop())


async def _truncate_all() -> None:
    connection = connections.get("default")
    tables = [model._meta.db_table for model in Tortoise.apps["models"].values()]
    quoted = ", ".join(f'"{table}"' for table in tables)
    await connection.execute_script(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")


@pytest.fixture
async def database_url(migrated_database: str, tmp_path: Path) -> AsyncIterator[str]:
    """A clean, migrated database opened for this test; yields its URL."""
    if BACKEND == "sqlite":
        path = tmp_path / "fieldops.sqlite3"
        shutil.copyfile(migrated_database, path)
        url = f"sqlite://{path}"
        await db.open_database(url)
    else:
        url = migrated_database
        await db.open_database(url)
        await _truncate_all()
    try:
        yield url
    finally:
        await db.close_database()
