"""The composition root: one graph from the settings, and an admin site that owns its database."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from domain.models import Role, Staff
from fieldops import db
from fieldops.bootstrap import admin_app, bootstrap
from fieldops.settings import Settings
from tests.admin_support import log_in
from tests.factories import org_tree, web_user


def settings_for(database_url: str, tmp_path: Path) -> Settings:
    """The settings of a process on this test's database, and nothing else."""
    return Settings(_env_file=None, database_url=database_url,  # type: ignore[call-arg]
                    media_root=tmp_path / "media", secret_key="k" * 40,
                    data_key="a-test-secret-that-is-long-enough")


async def a_sysadmin() -> str:
    """A system admin with a web log-in; returns his user name."""
    ids = await org_tree()
    _, username = await web_user(ids["province"], Role.SYSADMIN, no="S001")
    return username


async def test_the_admin_runs_on_its_own_from_the_settings(database_url: str,
                                                           tmp_path: Path) -> None:
    username = await a_sysadmin()
    await db.close_database()  # from here on, nothing but the admin opens the database
    admin = admin_app(bootstrap(settings_for(database_url, tmp_path)))
    async with TestClient(TestServer(admin)) as client:
        assert (await log_in(client, username)).url.path == "/"
        assert "S001" in await (await client.get("/staff")).text()
    assert not db.is_open()


async def test_the_admin_leaves_the_database_of_its_process_open(database_url: str,
                                                                 tmp_path: Path) -> None:
    username = await a_sysadmin()
    graph = bootstrap(settings_for(database_url, tmp_path))
    async with graph.database():
        async with TestClient(TestServer(admin_app(graph))) as client:
            assert (await log_in(client, username)).url.path == "/"
        assert await Staff.filter(employee_no="S001").exists()
