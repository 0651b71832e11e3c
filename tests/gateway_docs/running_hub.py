"""A whole hub as ``tsunagu up`` runs it, in this event loop, over the session's broker: its
own store, embedded registry and HTTP server on a free loopback port, one feed polling a
loopback feed server, and an API key that may publish. Shared with tests/status_page."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from adapters import registry as adapter_registry
from hub.access import Grant, KeyStore
from hub.broker import free_port
from hub.db import make_engine
from hub.up import UpOptions, run_up
from tests.ingest_runtime.harness import FeedServer, feed_server

SCHEMAS = Path(__file__).parent / "schemas"
ADAPTER = "test-docs-positions"
T0 = 1_700_000_000_000


@dataclass
class RunningHub:
    base: str
    positions: str  # public, fed by the feed "town-positions"
    sensors: str  # granted, fed by nothing
    key: str  # may publish to and read every town topic
    feeds: FeedServer
    bootstrap: str
    announced: list[str] = field(default_factory=list)

    async def get_json(self, session: aiohttp.ClientSession, path: str) -> Any:
        async with session.get(self.base + path) as response:
            assert response.status == 200, await response.text()
            return orjson.loads(await response.read())

    async def publish(
        self, session: aiohttp.ClientSession, topic: str, records: list[dict[str, Any]]
    ) -> aiohttp.ClientResponse:
        response = await session.post(
            f"{self.base}/v1/topics/{topic}/records",
            data=orjson.dumps(records),
            headers={"X-API-Key": self.key, "Content-Type": "application/json"},
        )
        await response.read()
        return response


@contextlib.contextmanager
def docs_adapter() -> Iterator[None]:
    adapter_registry.BUILTIN[ADAPTER] = "tests.gateway_docs.positions_adapter:PositionsAdapter"
    try:
        yield
    finally:
        del adapter_registry.BUILTIN[ADAPTER]


def feed_positions(*items: tuple[str, float, float, int]) -> bytes:
    return orjson.dumps([{"id": i, "lat": lat, "lon": lon, "t": t} for i, lat, lon, t in items])


@asynccontextmanager
async def running_hub(
    tmp: Path, bootstrap: str, unique: str, feed_body: bytes
) -> AsyncIterator[RunningHub]:
    """Start the hub, wait until every part runs, yield it, shut it down."""
    port = free_port()
    positions = f"town.mobility.vehicle-positions-{unique}.v1"
    sensors = f"town.city.sensors-{unique}.v1"
    store = tmp / "hub.db"
    async with feed_server({"positions.json": feed_body}) as feeds:
        config = tmp / "topics.yaml"
        config.write_text(
            f"""version: 1
hub:
  http: {{host: 127.0.0.1, port: {port}}}
  store: {{url: "sqlite:///{store}"}}
kafka: {{bootstrap_servers: "{bootstrap}"}}
areas:
  town: {{title: Test Town, id_namespace: town}}
topics:
  {positions}:
    area: town
    schema: test.docs.Position
    partitions: 2
    retention: 1d
    licence: CC-BY-4.0
    publisher: Test Town
    description: Where the town's buses are.
    update_frequency: 30s
    access: public
  {sensors}:
    area: town
    schema: test.docs.Position
    cleanup: compact
    licence: CC-BY-2.1-JP
    publisher: Test Prefecture
    update_frequency: 1h
    access: granted
feeds:
  town-positions:
    adapter: {ADAPTER}
    url: {feeds.url("positions.json")}
    schedule: {{interval: 1h}}
    topic: {positions}
"""
        )
        shutdown = asyncio.Event()
        announced: list[str] = []
        with docs_adapter():
            task = asyncio.create_task(
                run_up(UpOptions(config, SCHEMAS), shutdown, announce=announced.append)
            )
            try:
                deadline = time.monotonic() + 60
                while not any(line.startswith("Topics:") for line in announced):
                    if task.done():
                        task.result()  # raises what stopped the hub
                        raise AssertionError(f"the hub stopped early: {announced}")
                    assert time.monotonic() < deadline, f"hub not started: {announced}"
                    await asyncio.sleep(0.1)
                engine = make_engine(f"sqlite:///{store}")
                try:
                    issued = await KeyStore(engine).create(
                        "publisher", grants=(Grant("town.*", "publish"), Grant("town.*", "read"))
                    )
                finally:
                    await engine.dispose()
                yield RunningHub(
                    f"http://127.0.0.1:{port}",
                    positions,
                    sensors,
                    issued.plaintext,
                    feeds,
                    bootstrap,
                    announced,
                )
            finally:
                shutdown.set()
                await asyncio.wait_for(task, 60)


async def wait_for(check: Any, what: str, limit: float = 30.0) -> Any:
    """Poll the coroutine function ``check`` until it returns something truthy."""
    deadline = time.monotonic() + limit
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)
