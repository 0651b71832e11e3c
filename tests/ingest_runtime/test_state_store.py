"""The feed state store keeps content hashes on both databases it supports: the embedded
SQLite (fast path through the driver's executemany) and PostgreSQL (the generic path)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import create_schema, make_engine
from hub.ingest.state import FeedHashes, FeedStateStore
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
    await store.save_entity_hashes("a", "t", many, 1)
    await store.save_entity_hashes("b", "t", {"urn:x:1": "other feed"}, 1)
    await store.save_entity_hashes("a", "t", {"urn:x:1": "changed", "urn:x:new": "n"}, 2)
    assert await store.has_entity_hashes("a")
    found = await store.known_hashes("a", ["urn:x:0", "urn:x:1", "urn:x:11999", "urn:x:new", "no"])
    assert found == {
        "urn:x:0": "h0",
        "urn:x:1": "changed",
        "urn:x:11999": "h11999",
        "urn:x:new": "n",
    }
    assert await store.known_hashes("b", ["urn:x:1", "urn:x:2"]) == {"urn:x:1": "other feed"}


async def test_a_feed_that_outgrows_the_hash_cache_is_answered_by_the_store(
    engine: AsyncEngine,
) -> None:
    store = FeedStateStore(engine)
    small = FeedHashes(store, "vehicles", cache_size=100)
    small.begin_cycle(1)
    await small.remember("t", {f"urn:v:{i}": f"h{i}" for i in range(60)})
    assert await small.known(["urn:v:0", "urn:v:59", "nope"]) == {
        "urn:v:0": "h0",
        "urn:v:59": "h59",
    }
    assert len(small._cache) == 60  # held whole: answered from memory

    big = FeedHashes(store, "timetable", cache_size=100)
    big.begin_cycle(1)
    for start in range(0, 300, 60):
        await big.remember("t", {f"urn:s:{i}": f"h{i}" for i in range(start, start + 60)})
    assert big._cache == {}  # outgrown: nothing kept that a scan would only evict
    await big.remember("t", {"urn:s:0": "changed"})
    assert big._cache == {}
    assert await big.known(["urn:s:0", "urn:s:299", "urn:v:0"]) == {
        "urn:s:0": "changed",
        "urn:s:299": "h299",
    }


async def test_entities_a_cycle_did_not_see_are_listed_by_topic_and_prefix(
    engine: AsyncEngine,
) -> None:
    store = FeedStateStore(engine)
    stops = {f"urn:ngsi-ld:Stop:x:{i:05}": "h" for i in range(12_000)}
    await store.save_entity_hashes("a", "stops", stops, 1)
    await store.save_entity_hashes("a", "trips", {"urn:ngsi-ld:Trip:x:1": "h"}, 1)
    await store.save_entity_hashes("b", "stops", {"urn:ngsi-ld:Stop:x:99999": "h"}, 1)
    # Cycle 2 sees every stop but the first 7,000 (one changed, the rest unchanged).
    await store.save_entity_hashes("a", "stops", {"urn:ngsi-ld:Stop:x:07000": "new"}, 2)
    await store.mark_seen("a", [f"urn:ngsi-ld:Stop:x:{i:05}" for i in range(7_001, 12_000)], 2)

    async def unseen(topic: str, prefix: str) -> list[str]:
        found: list[str] = []
        while page := await store.unseen_entities(
            "a", topic, prefix, 2, after=found[-1] if found else "", limit=2_500
        ):
            found += page
        return found

    gone = await unseen("stops", "urn:ngsi-ld:Stop:x:")
    assert gone == [f"urn:ngsi-ld:Stop:x:{i:05}" for i in range(7_000)]  # in order, paged
    assert await unseen("stops", "urn:ngsi-ld:Stop:y:") == []  # another prefix
    assert await unseen("trips", "") == ["urn:ngsi-ld:Trip:x:1"]  # another topic
    # A prefix is matched literally: "_" and "%" are not wildcards.
    await store.save_entity_hashes("a", "stops", {"urn:ngsi-ld:Stop:x_y:1": "h"}, 1)
    assert await unseen("stops", "urn:ngsi-ld:Stop:x_") == ["urn:ngsi-ld:Stop:x_y:1"]
    assert await unseen("stops", "urn:ngsi-ld:Stop:x%") == []

    await store.forget_entities("a", gone)
    assert await unseen("stops", "urn:ngsi-ld:Stop:x:") == []
    assert await store.known_hashes("a", ["urn:ngsi-ld:Stop:x:00001"]) == {}
    assert await store.known_hashes("a", ["urn:ngsi-ld:Stop:x:07000"]) == {
        "urn:ngsi-ld:Stop:x:07000": "new"
    }
    assert await store.known_hashes("b", ["urn:ngsi-ld:Stop:x:99999"])  # other feeds kept
