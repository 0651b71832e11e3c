"""The gateway on loopback that the gateway tests share, and the clients they talk to it with:
a deployment of Test Town, a served `Gateway` with a publisher key, HTTP publish, an SSE
parser and a raw Kafka producer. Each test module only says which topics it needs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import confluent_kafka
import orjson
from aiohttp import web

from hub.access import AccessControl, Grant, KeyStore
from hub.gateway.service import Gateway
from hub.kafka import Cluster
from tests.ingest_runtime.harness import IngestEnv, ingest_env, serve

SCHEMAS = Path(__file__).parent / "schemas"

# What every topic of Test Town has unless a test says otherwise.
TOPIC_DEFAULTS = {
    "area": "town",
    "schema": "test.gateway.Position",
    "licence": "CC-BY-4.0",
    "publisher": "Test Town",
    "access": "public",
}


def town_deployment(topics: Mapping[str, Mapping[str, object]], hub: str = "") -> str:
    """topics.yaml of Test Town: each topic is `TOPIC_DEFAULTS` with its own settings over them;
    `hub` is a `hub:` section's YAML, indented under it, when the test needs one."""
    lines = ["version: 1"]
    if hub:
        lines += ["hub:", hub.rstrip()]
    lines += ["areas:", "  town: {title: Test Town}", "topics:"]
    for name, settings in topics.items():
        lines.append(f"  {name}:")
        lines += [f"    {k}: {v}" for k, v in {**TOPIC_DEFAULTS, **settings}.items()]
    return "\n".join(lines) + "\n"


@dataclass
class ServedGateway:
    """A gateway served on loopback over the test's broker and registry."""

    env: IngestEnv
    gateway: Gateway
    base: str
    key: str  # may publish to and read every town topic
    keys: KeyStore
    access: AccessControl
    topics: dict[str, str] = field(default_factory=dict)  # the test's role -> topic name


Served = TypeVar("Served", bound=ServedGateway)


@asynccontextmanager
async def served_gateway(
    kind: type[Served],
    tmp_path: Path,
    cluster: Cluster,
    topics: Mapping[str, Mapping[str, object]],
    unique: str,
    *,
    hub: str = "",
    **options: Any,
) -> AsyncIterator[Served]:
    """A `kind` of `ServedGateway` whose topics are `town.test.{role}-{unique}.v1`, one per role
    in `topics` (with its settings); `options` go to the `Gateway`."""
    names = {role: f"town.test.{role}-{unique}.v1" for role in topics}
    yaml = town_deployment({names[role]: settings for role, settings in topics.items()}, hub)
    async with ingest_env(tmp_path, cluster.bootstrap_servers, SCHEMAS, yaml) as env:
        engine = env.store.engine
        access = AccessControl.from_deployment(engine, env.deployment)
        keys = KeyStore(engine)
        issued = await keys.create(
            "publisher", grants=(Grant("town.*", "publish"), Grant("town.*", "read"))
        )
        gateway = Gateway(
            env.deployment, env.catalogue, env.connections, engine, access=access, **options
        )
        app = web.Application()
        gateway.routes(app)
        async with serve(app) as base:
            yield kind(env, gateway, base, issued.plaintext, keys, access, names)
        await gateway.close()


def position(i: int, *, lat: float = 36.3, lon: float = 136.3, route: str = "r1") -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Vehicle:town:bus-{i}",
        "route_id": route,
        "latitude": lat,
        "longitude": lon,
        "observed_at": 1_700_000_000_000 + i,
    }


async def publish(
    session: aiohttp.ClientSession,
    gw: ServedGateway,
    topic: str,
    records: list[dict[str, Any]],
    **headers: str,
) -> aiohttp.ClientResponse:
    """POST `records` with the publisher key; the response, its body read."""
    response = await session.post(
        f"{gw.base}/v1/topics/{topic}/records",
        data=orjson.dumps(records),
        headers={"X-API-Key": gw.key, "Content-Type": "application/json", **headers},
    )
    await response.read()
    return response


async def publish_ok(
    session: aiohttp.ClientSession, gw: ServedGateway, topic: str, records: list[dict[str, Any]]
) -> None:
    """Publish what a test needs on the topic; anything but a 200 fails the test there."""
    response = await publish(session, gw, topic, records)
    assert response.status == 200, await response.text()


async def sse_frames(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, str]]:
    """The fields of each event of an SSE body as it arrives; a comment's text is the field
    named "" (so ``: subscribed`` is ``{"": "subscribed"}``)."""
    event: dict[str, str] = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if not line:
            yield event
            event = {}
            continue
        name, _, value = line.partition(": ")
        event[name] = value


async def sse_events(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(id, data) of each record event of an SSE stream."""
    async with session.get(url, headers=headers or {}) as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"] == "text/event-stream"
        async for event in sse_frames(response):
            if event.get("event") == "record":
                yield event["id"], orjson.loads(event["data"])


async def collect(stream: AsyncIterator[Any], count: int, timeout: float = 30.0) -> list[Any]:
    got: list[Any] = []

    async def run() -> None:
        async for item in stream:
            got.append(item)
            if len(got) >= count:
                return

    await asyncio.wait_for(run(), timeout)
    return got


def produce_raw(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Write bytes as they are, as a bridge or a foreign producer would."""
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "log_level": 3})
    for i, (key, value) in enumerate(records):
        producer.produce(topic, key=key, value=value)
        if i % 1000 == 999:
            producer.poll(0)  # serve delivery reports so the local queue never fills
    assert producer.flush(30) == 0
