"""Memory under attack: the hub's resident memory when clients try to make it grow.

``tsunagu up`` runs in its own process, so its RSS (from /proc) is its own; this process
produces records straight to Kafka and plays the clients. Three rows, each against a
budget stated here, added to the RSS the hub had before that phase began:

- many SSE subscribers of one topic, all connected and receiving;
- one subscriber that never reads (a raw socket with a tiny receive buffer) while a burst
  of records is published: its share must stay bounded by the slow-subscriber cut-off;
- ``/latest`` on the largest compacted topic (one record per key, 120,000 keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.hub_process import SCHEMA, running_hub
from bench.table import Row
from hub.access import Grant
from hub.codec import Encoder
from hub.kafka import Cluster, Outgoing, Producer, get_backend
from hub.registry.client import RegistryClient

STREAM_TOPIC = "bench.mobility.attack-positions.v1"
LATEST_TOPIC = "bench.mobility.attack-vehicles.v1"

MIB = 1024 * 1024
# What one connected subscriber may cost: its connection, task and an empty queue.
PER_SUBSCRIBER_BUDGET = 64 * 1024
# What a subscriber that never reads may hold before it is cut off, whatever is published.
NON_READER_BUDGET = 16 * MIB
# The latest state of one topic (and the /latest answer built from it).
LATEST_BUDGET = 64 * MIB


@dataclass(frozen=True)
class Sizes:
    """How hard each phase pushes."""

    subscribers: int
    burst: int
    keys: int


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in bytes."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            found[name] = int(value.split()[0]) * 1024
    return found


def rss(pid: int) -> int:
    """The resident memory of ``pid`` now, in bytes."""
    return _status(pid)["VmRSS"]


class PeakWatch:
    """The highest RSS of a process while the block runs: sampled every 20 ms, and its
    kernel high-water mark when that can be reset at the start (``clear_refs`` 5)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._hwm_reset = False

    @contextlib.contextmanager
    def watching(self) -> Iterator[PeakWatch]:
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            self._hwm_reset = True
        sampler = threading.Thread(target=self._sample, daemon=True)
        sampler.start()
        try:
            yield self
        finally:
            self._stop.set()
            sampler.join()
            status = _status(self.pid)
            self.peak = max(self.peak, status["VmRSS"])
            if self._hwm_reset:
                self.peak = max(self.peak, status["VmHWM"])

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss(self.pid))


class Positions:
    """Encodes position records of the bench schema for one topic."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    def record(self, key: str) -> Outgoing:
        now = int(time.time() * 1000)
        value = self.encoder.encode(
            {
                "id": key,
                "area": "bench",
                "source_feed": "bench-attack",
                "observed_at": now,
                "ingested_at": now,
                "latitude": 36.3,
                "longitude": 136.3,
            }
        )
        return Outgoing(key.encode(), value)

    async def deliver(self, producer: Producer, topic: str, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):
            await producer.deliver(topic, [self.record(k) for k in keys[i : i + 1000]])


async def _subscribers(
    base: str, key: str, count: int, producer: Producer, positions: Positions, pid: int
) -> int:
    """Hub RSS with ``count`` SSE subscribers connected and each past its first record."""
    url = f"{base}/v1/topics/{STREAM_TOPIC}/stream"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        responses = [
            await session.get(url, headers={"X-API-Key": key}, timeout=aiohttp.ClientTimeout())
            for _ in range(count)
        ]
        try:
            for response in responses:
                if response.status != 200:
                    raise RuntimeError(f"subscribing failed: {response.status}")
            await asyncio.sleep(1.0)  # every subscription registered with the live reader

            async def first_record(response: aiohttp.ClientResponse) -> None:
                async for line in response.content:
                    if line.startswith(b"data:"):
                        return

            await positions.deliver(producer, STREAM_TOPIC, ["warm-up"])
            await asyncio.wait_for(asyncio.gather(*map(first_record, responses)), 120)
            await asyncio.sleep(1.0)
            return rss(pid)
        finally:
            for response in responses:
                response.close()


async def _non_reader(
    base: str, key: str, burst: int, producer: Producer, positions: Positions, pid: int
) -> tuple[int, int]:
    """RSS before, and peak RSS while ``burst`` records go to a subscriber that never reads."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    await asyncio.sleep(1.0)  # the previous phase's connections are gone
    before = rss(pid)
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A tiny receive window, never read: the hub's sends stall almost at once.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect((host, int(port)))
    request = (
        f"GET /v1/topics/{STREAM_TOPIC}/stream HTTP/1.1\r\nHost: {host}\r\n"
        f"X-API-Key: {key}\r\nAccept: text/event-stream\r\n\r\n"
    )
    client.sendall(request.encode())
    watch = PeakWatch(pid)
    try:
        await asyncio.sleep(1.0)  # subscribed
        with watch.watching():
            await positions.deliver(producer, STREAM_TOPIC, [f"n{i}" for i in range(burst)])
            await asyncio.sleep(3.0)  # the hub reads and fans out what was just produced
        # Only now look (without reading it away): the stream was really being served.
        head = client.recv(16, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"the non-reading subscriber was not served: {head!r}")
    finally:
        client.close()
    return before, watch.peak


async def _latest(
    base: str, key: str, keys: int, producer: Producer, positions: Positions, pid: int
) -> tuple[int, int, int]:
    """RSS before, peak while loading and answering, and after ``/latest`` on a topic of
    ``keys`` keys (the hub loads its latest state on the first request)."""
    await positions.deliver(producer, LATEST_TOPIC, [f"v{i}" for i in range(keys)])
    await asyncio.sleep(1.0)
    before = rss(pid)
    url = f"{base}/v1/topics/{LATEST_TOPIC}/latest?limit=10000"
    watch = PeakWatch(pid)
    with watch.watching():
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 600
            while True:
                async with session.get(url, headers={"X-API-Key": key}) as response:
                    await response.read()
                    if response.status == 200:
                        break
                    if response.status != 503 or time.monotonic() > deadline:
                        raise RuntimeError(f"/latest answered {response.status}")
        await asyncio.sleep(1.0)
    return before, watch.peak, rss(pid)


async def _attack(base: str, info: dict[str, Any], key: str, pid: int, sizes: Sizes) -> list[Row]:
    async with RegistryClient(info["registry"]["url"]) as registry:
        schema_id = await registry.register(f"{STREAM_TOPIC}-value", json.dumps(SCHEMA))
        await registry.register(f"{LATEST_TOPIC}-value", json.dumps(SCHEMA))
    positions = Positions(Encoder(schema_id, SCHEMA))
    producer = get_backend().producer(Cluster(info["kafka"]["bootstrap_servers"]))
    await producer.start()
    try:
        idle = rss(pid)
        with_subscribers = await _subscribers(
            base, key, sizes.subscribers, producer, positions, pid
        )
        before_burst, burst_peak = await _non_reader(
            base, key, sizes.burst, producer, positions, pid
        )
        before_latest, latest_peak, after_latest = await _latest(
            base, key, sizes.keys, producer, positions, pid
        )
    finally:
        await producer.stop()
    subscriber_budget = sizes.subscribers * PER_SUBSCRIBER_BUDGET
    return [
        Row(
            f"attack: hub RSS with {sizes.subscribers} SSE subscribers (budget: "
            f"{idle / MIB:.0f} MB idle + {PER_SUBSCRIBER_BUDGET // 1024} KiB each)",
            "MB",
            with_subscribers / MIB,
            "budget",
            (idle + subscriber_budget) / MIB,
            "<= 1.0",
        ),
        Row(
            f"attack: hub peak RSS, one subscriber never reading while {sizes.burst:,} records "
            f"are published (budget: {before_burst / MIB:.0f} MB before + "
            f"{NON_READER_BUDGET // MIB} MB)",
            "MB",
            burst_peak / MIB,
            "budget",
            (before_burst + NON_READER_BUDGET) / MIB,
            "<= 1.0",
        ),
        Row(
            f"attack: hub RSS after /latest on a topic of {sizes.keys:,} keys (peak "
            f"{latest_peak / MIB:.0f} MB; budget: {before_latest / MIB:.0f} MB before + "
            f"{LATEST_BUDGET // MIB} MB)",
            "MB",
            after_latest / MIB,
            "budget",
            (before_latest + LATEST_BUDGET) / MIB,
            "<= 1.0",
        ),
    ]


def run(quick: bool) -> list[Row]:
    """Run the benchmark and return its rows."""
    sizes = Sizes(20, 2_000, 2_000) if quick else Sizes(200, 50_000, 120_000)
    topics = {STREAM_TOPIC: "", LATEST_TOPIC: "    cleanup: compact\n"}
    grants = (Grant(STREAM_TOPIC, "read"), Grant(LATEST_TOPIC, "read"))
    with (
        tempfile.TemporaryDirectory(prefix="tsunagu-bench-attack-") as tmp,
        running_hub(Path(tmp), topics, "attack", grants) as hub,
    ):
        return asyncio.run(_attack(hub.base, hub.info, hub.key, hub.process.pid, sizes))
