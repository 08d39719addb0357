"""Test harness: a migrated database per test, on SQLite or on PostgreSQL.

`make test` runs the suite with FIELDOPS_TEST_BACKEND unset (SQLite) and again with
FIELDOPS_TEST_BACKEND=postgres when FIELDOPS_TEST_DATABASE_URL points at a server.
On SQLite every test copies a database migrated once per session; on PostgreSQL the
session migrates a fresh database once and every test starts from truncated tables.
Tests that need the demo with a row of every kind (`every_kind_media`) get a copy of one
database seeded once per session: a file copy on SQLite, `CREATE DATABASE … TEMPLATE` on
PostgreSQL.
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
from domain.platform import audit
from domain.wiring import wire_events
from fieldops import db
from tests.admin_support import seed_every_kind
from tests.audit_support import AUDIT_KEY
from tests.browser_support import start_chromium
from tests.clock_support import SteadyClock, install, test_now

# fixtures shared by several test modules, found by name
pytest_plugins = ("tests.dashboard_support", "tests.telegram_support")

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
def domain_events_wired() -> None:
    """The areas' event handlers are subscribed, as the composition root does."""
    wire_events()


@pytest.fixture(scope="session", autouse=True)
def audit_chain_keyed_for_the_session() -> None:
    """The audit chain is keyed, as the composition root keys it (S3)."""
    audit.use_keys(AUDIT_KEY)


@pytest.fixture(autouse=True)
def audit_chain_keyed() -> None:
    """Every test signs audit rows with the tests' key, whichever key a process built
    before it installed."""
    audit.use_keys(AUDIT_KEY)


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
    name = _database_name()
    asyncio.run(_create_database(name))
    url = _pg_url(name)
    try:
        asyncio.run(_migrate(url))
        yield url
    finally:
        asyncio.run(_drop_database(name))


def _database_name() -> str:
    return f"fieldops_test_{uuid.uuid4().hex[:10]}"


async def _create_database(name: str, template: str | None = None) -> None:
    server = await asyncpg.connect(PG_SERVER_URL)
    copy_of = f' TEMPLATE "{template}"' if template else ""
    await server.execute(f'CREATE DATABASE "{name}"{copy_of}')
    # a test database outlives no crash: commits need not wait for the disk (5-10x faster)
    await server.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    await server.close()


async def _drop_database(name: str) -> None:
    server = await asyncpg.connect(PG_SERVER_URL)
    await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await server.close()


async def _truncate_all() -> None:
    """Empty the tables earlier tests wrote to and restart the sequences they used.

    DELETE of the written tables, not TRUNCATE of all: a TRUNCATE syncs new files to disk at
    commit (~0.2 s for the ~60 tables, every test), a DELETE of a few small tables costs
    milliseconds.
    """
    connection = connections.get("default")
    tables = [model._meta.db_table for model in Tortoise.apps["models"].values()]
    probe = " UNION ALL ".join(
        f"SELECT '{table}' AS name WHERE EXISTS (SELECT 1 FROM \"{table}\")" for table in tables)
    written = [row["name"] for row in await connection.execute_query_dict(probe)]
    used = await connection.execute_query_dict(
        "SELECT sequencename FROM pg_sequences "
        "WHERE schemaname = current_schema() AND last_value IS NOT NULL")
    statements = [f"SELECT setval('\"{row['sequencename']}\"', 1, false)" for row in used]
    statements += [f'DELETE FROM "{table}"' for table in written]
    if statements:
        # replica role: past the foreign keys and the audit log's append-only triggers (0016)
        await connection.execute_script(
            "BEGIN; SET LOCAL session_replication_role = replica; "
            + "; ".join(statements) + "; COMMIT")


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


def _seed_every_kind(url: str, media_root: Path) -> None:
    """Seed a migrated database with the demo and a row of every kind, at the test moment."""
    async def seed() -> None:
        await db.open_database(url)
        try:
            await seed_every_kind(media_root)
        finally:
            await db.close_database()

    undo = install(SteadyClock(test_now()))
    try:
        asyncio.run(seed())
    finally:
        undo()


@pytest.fixture(scope="session")
def every_kind_snapshot(
    migrated_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """The demo with a row of every kind, seeded once per session:
    (SQLite file or PostgreSQL database name, its media folder)."""
    media_root = tmp_path_factory.mktemp("every-kind-media")
    if BACKEND == "sqlite":
        path = tmp_path_factory.mktemp("every-kind") / "seeded.sqlite3"
        shutil.copyfile(migrated_database, path)
        _seed_every_kind(f"sqlite://{path}", media_root)
        yield str(path), media_root
        return
    name = _database_name()
    asyncio.run(_create_database(name))
    try:
        asyncio.run(_migrate(_pg_url(name)))
        _seed_every_kind(_pg_url(name), media_root)
        yield name, media_root
    finally:
        asyncio.run(_drop_database(name))


@pytest.fixture
async def every_kind_media(
    every_kind_snapshot: tuple[str, Path], tmp_path: Path
) -> AsyncIterator[Path]:
    """A copy of the every-kind database opened for this test; yields the media folder
    its photos live in (a copy too)."""
    seeded, seeded_media = every_kind_snapshot
    media_root = tmp_path / "media"
    shutil.copytree(seeded_media, media_root)
    name = ""
    if BACKEND == "sqlite":
        path = tmp_path / "fieldops.sqlite3"
        shutil.copyfile(seeded, path)
        await db.open_database(f"sqlite://{path}")
    else:
        name = _database_name()
        await _create_database(name, template=seeded)
        await db.open_database(_pg_url(name))
    try:
        yield media_root
    finally:
        await db.close_database()
        if name:
            await _drop_database(name)
