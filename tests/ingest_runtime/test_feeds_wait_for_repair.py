"""A feed whose topic's subject refuses the topic's schema waits, says why, and starts by
itself once `tsunagu schemas repair` has fixed the subject; the other feeds run meanwhile."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

import hub.ingest.part
from adapters import registry as adapter_registry
from hub.ingest.part import FeedsPart
from hub.kafka import Cluster
from hub.parts import HubContext
from hub.registry.binding import value_subject
from hub.schemas.check import repair_subjects
from tests.ingest_runtime.harness import feed_server, ingest_env, serve

SCHEMAS = Path(__file__).parent / "schemas"
UNRELATED = json.dumps({"type": "record", "name": "Evil", "fields": [{"name": "x", "type": "int"}]})


@pytest.fixture(autouse=True)
def things_adapter(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    adapter_registry.BUILTIN["test-things"] = "tests.ingest_runtime.things:ThingsAdapter"
    # A waiting feed tries again this often (10 s in a hub): the test need not wait that long.
    monkeypatch.setattr(hub.ingest.part, "_RETRY_BUILD_S", 0.2)
    yield
    del adapter_registry.BUILTIN["test-things"]


async def feeds(base: str) -> dict[str, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/v1/feeds") as response:
        return {row["id"]: row for row in orjson.loads(await response.read())}


async def test_a_feed_waits_for_its_damaged_subject_and_starts_after_repair(
    tmp_path: Path, cluster: Cluster, unique: str
) -> None:
    thing = [{"id": "a", "name": "A", "value": 1.0, "t": 1_700_000_000_000}]
    good, bad = f"town.test.good-{unique}.v1", f"town.test.bad-{unique}.v1"
    async with feed_server({"things.json": orjson.dumps(thing)}) as server:
        yaml = f"""
        version: 1
        areas:
          town: {{title: Test Town, id_namespace: town}}
        topics:
          {good}: {{area: town, schema: test.ingest.Thing, licence: CC-BY-4.0, publisher: T}}
          {bad}: {{area: town, schema: test.ingest.Thing, licence: CC-BY-4.0, publisher: T}}
        feeds:
          good: {{adapter: test-things, url: "{server.url("things.json")}", topic: {good}}}
          bad: {{adapter: test-things, url: "{server.url("things.json")}", topic: {bad}}}
        """
        async with ingest_env(tmp_path, cluster.bootstrap_servers, SCHEMAS, yaml) as env:
            subject = value_subject(bad)
            registry = env.connections.registry_for("town")
            await registry.delete_version(subject, 1)
            await registry.register(subject, UNRELATED)

            app = web.Application()
            part = FeedsPart(env.deployment)
            context = HubContext(
                env.deployment,
                env.catalogue,
                env.connections,
                env.store.engine,
                app,
                asyncio.Event(),
            )
            part.configure(context)
            async with serve(app) as base:
                await part.start(context)
                try:
                    assert set(part.runners) == {"good"}
                    waiting = (await feeds(base))["bad"]
                    assert waiting["healthy"] is False
                    assert subject in str(waiting["last_error"])
                    assert f"tsunagu schemas repair {subject}" in str(waiting["last_error"])

                    repairs, _ = await repair_subjects(
                        env.deployment, env.catalogue, env.connections.registry_for, [subject]
                    )
                    assert [r.subject for r in repairs] == [subject]
                    deadline = time.monotonic() + 30
                    while "bad" not in part.runners and time.monotonic() < deadline:
                        await asyncio.sleep(0.1)
                    assert "bad" in part.runners
                    assert part.waiting == {}
                    # It publishes with the topic's schema, under the id the repair restored.
                    records = await env.read(bad)
                    while not records and time.monotonic() < deadline:
                        records = await env.read(bad)
                    assert [r["name"] for r in records] == ["A"]
                finally:
                    await part.stop()
