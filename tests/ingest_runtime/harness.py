"""Real parts for ingest tests: a feed server on loopback whose faults a test switches on, the
embedded registry served over HTTP, the session's Kafka broker, and a reader that decodes
what landed on a topic through the registry."""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any

import aiohttp
import confluent_kafka
from aiohttp import web

from hub.apply import apply
from hub.codec import Decoder, schema_id_of
from hub.config import Deployment, load_config
from hub.connections import Connections, EmbeddedEndpoints
from hub.db import create_schema, make_engine
from hub.ingest.build import build_feed_runner
from hub.ingest.runner import FeedRunner
from hub.ingest.state import FeedStateStore
from hub.registry import RegistryStore
from hub.registry.client import RegistryClient
from hub.schemas.catalogue import SchemaCatalogue
from tests.hub_registry import HUB_AUTH, hub_registry_app


@dataclass
class Fault:
    """What the feed server does wrong on its next requests."""

    status: int | None = None  # answer with this status ...
    times: int = 0  # ... this many times
    retry_after: str | None = None
    delay_s: float = 0.0  # sleep before answering (time-outs)
    truncate: bool = False  # promise more bytes than sent, then close


@dataclass
class FeedServer:
    """Serves ``files`` (path -> bytes) with ETag/304, and the faults a test sets."""

    files: dict[str, bytes] = field(default_factory=dict)
    fault: Fault = field(default_factory=Fault)
    requests: list[str] = field(default_factory=list)
    honour_conditional: bool = True
    base_url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path.lstrip("/")
        self.requests.append(path)
        fault = self.fault
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.times > 0 and fault.status is not None:
            fault.times -= 1
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return web.Response(status=fault.status, headers=headers, text="unavailable")
        body = self.files.get(path)
        if body is None:
            return web.Response(status=404, text="not found")
        etag = '"' + sha256(body).hexdigest()[:16] + '"'
        if self.honour_conditional and request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        if fault.truncate:
            response = web.StreamResponse(headers={"Content-Length": str(len(body) + 1000)})
            await response.prepare(request)
            await response.write(body[: len(body) // 2])
            request.transport.close()  # type: ignore[union-attr]
            return response
        return web.Response(body=body, headers={"ETag": etag})

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def feed_server(files: dict[str, bytes] | None = None) -> AsyncIterator[FeedServer]:
    server = FeedServer(dict(files or {}))
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", server.handle)
    async with serve(app) as base:
        server.base_url = base
        yield server


@dataclass
class IngestEnv:
    """A deployment with the real registry, broker and store, ready to build feed runners."""

    deployment: Deployment
    catalogue: SchemaCatalogue
    connections: Connections
    store: FeedStateStore
    session: aiohttp.ClientSession
    registry_url: str
    bootstrap: str
    tmp: Path

    async def runner(self, feed_id: str) -> FeedRunner:
        runner = await build_feed_runner(
            feed_id,
            self.deployment,
            self.catalogue,
            self.connections,
            self.store,
            session=self.session,
            download_dir=self.tmp,
        )
        await runner.load_status()
        return runner

    async def read(self, topic: str, *, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Every record on ``topic`` now, decoded through the registry (no consumer group);
        tombstones are left out (``tombstones`` lists them)."""
        messages = await self.read_raw(topic, timeout=timeout)
        decoder = Decoder()
        out = []
        async with RegistryClient(self.registry_url) as registry:
            for message in messages:
                value = message.value()
                if value is None:
                    continue
                schema_id = schema_id_of(value)
                if not decoder.knows(schema_id):
                    decoder.add_writer(schema_id, json.loads(await registry.get_schema(schema_id)))
                out.append(decoder.decode(value))
        return out

    async def tombstones(self, topic: str, *, timeout: float = 20.0) -> list[str]:
        """The keys of the tombstones (null values) on ``topic`` now, in offset order."""
        messages = await self.read_raw(topic, timeout=timeout)
        return [m.key().decode() for m in messages if m.value() is None]

    async def read_raw(self, topic: str, *, timeout: float = 20.0) -> list[Any]:
        """Every message on ``topic`` now (confluent Message objects)."""
        return await asyncio.to_thread(_read_messages, self.bootstrap, topic, timeout)


def _read_messages(bootstrap: str, topic: str, timeout: float, idle: float = 1.5) -> list[Any]:
    """Read a topic from the beginning until nothing new comes for ``idle`` seconds.

    Watermarks cannot say where the end is: tansu 0.6 reports the last offset, not the
    next one, as the high watermark.
    """
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "unused",
            "enable.auto.commit": False,
            "log_level": 3,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = list(metadata.topics[topic].partitions)
        consumer.assign(
            [
                confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                for p in partitions
            ]
        )
        got: list[Any] = []
        deadline = time.monotonic() + timeout
        last_seen = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - last_seen < idle:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                got.append(message)
                last_seen = time.monotonic()
        return got
    finally:
        consumer.close()


@asynccontextmanager
async def ingest_env(
    tmp: Path, bootstrap: str, schema_dir: Path, deployment_yaml: str
) -> AsyncIterator[IngestEnv]:
    """Write the deployment, serve the embedded registry, create topics, yield the env."""
    config = tmp / "topics.yaml"
    config.write_text(textwrap.dedent(deployment_yaml))
    catalogue = SchemaCatalogue.load(schema_dir)
    deployment = load_config(config, catalogue)
    engine = make_engine(f"sqlite:///{tmp / 'runtime.db'}")
    await create_schema(engine)
    async with serve(hub_registry_app(RegistryStore(engine))) as registry_url:
        connections = Connections(
            deployment, EmbeddedEndpoints(bootstrap, registry_url, registry_auth=HUB_AUTH)
        )
        await apply(deployment, catalogue, connections.admin_for, connections.registry_for)
        async with aiohttp.ClientSession() as session:
            try:
                yield IngestEnv(
                    deployment,
                    catalogue,
                    connections,
                    FeedStateStore(engine),
                    session,
                    registry_url,
                    bootstrap,
                    tmp,
                )
            finally:
                await connections.close()
    await engine.dispose()
