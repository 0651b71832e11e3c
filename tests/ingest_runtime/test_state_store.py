"""The feed state store keeps content hashes on both databases it supports: the embedded
SQLite (fast path through the driver's executemany) and PostgreSQL (the generic path)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import create_schema, make_engine
from hub.ingest.state import FeedStateStore
from tests.pg import private_schema


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        sqlite = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
        await create_schema(sqlite)
        yield sqlite
        await sqlite.dispose()
        return
    schema = await private_schema("ingest_state")
    try:
        yield schema.engine()
    finally:
        await schema.close()


async def test_hashes_are_saved_updated_and_read_back_per_feed(engine: AsyncEngine) -> None:
    store = FeedStateStore(engine)
    assert not await store.has_entity_hashes("a")
    many = {f"urn:x:{i}": f"h{i}" for i in range(12_000)}  # more than one executemany chunk
    await store.save_entity_hashes("a", many)
    await store.save_entity_hashes("b", {"urn:x:1": "other feed"})
    await store.save_entity_hashes("a", {"urn:x:1": "changed", "urn:x:new": "n"})
    assert await store.has_entity_hashes("a")
    found = await store.known_hashes("a", ["urn:x:0", "urn:x:1", "urn:x:11999", "urn:x:new", "no"])
    assert found == {
        "urn:x:0": "h0",
        "urn:x:1": "changed",
        "urn:x:11999": "h11999",
        "urn:x:new": "n",
    }
    assert await store.known_hashes("b", ["urn:x:1", "urn:x:2"]) == {"urn:x:1": "other feed"}
