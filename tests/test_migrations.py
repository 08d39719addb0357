"""The committed migrations match the models."""

from __future__ import annotations

from fieldops import db


async def test_models_have_no_unmigrated_changes(database_url: str) -> None:
    assert await db.model_changes(database_url) == []
    assert await db.pending_migrations(database_url) == []
