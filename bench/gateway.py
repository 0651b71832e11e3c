"""Gateway fan-out: many WebSocket subscribers of one topic on one hub process.

``tsunagu up`` runs in its own process (so its CPU time can be read from /proc); this
process produces records straight to Kafka and holds the subscribers. Reported:
deliveries per second per core of the hub process (deliveries divided by the CPU
seconds it used), and p99 latency from the record's Kafka timestamp to receipt.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import queue
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.hub_process import SCHEMA, running_hub
from bench.table import Row
from hub.access import Grant
from hub.codec import Encoder
from hub.kafka import Cluster, Outgoing, get_backend
from hub.registry.client import RegistryClient

TOPIC = "bench.mobility.positions.v1"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


@dataclass
class FanOut:
    """What the fan-out phases measured."""

    delivered: int = 0
    expected: int = 0
    cpu_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    latency_rate: float = 0.0  # records/s offered during the latency phase


def _client_process(
    base: str, key: str, count: int, wanted: dict[str, int], out: Any, go: Any
) -> None:
    """``count`` WebSocket subscribers in their own process (so the clients' work does not
    queue behind the hub's on one event loop); reports phase by phase to ``out``."""

    async def main() -> None:
        received = {"w": 0, "t": 0, "l": 0}
        latencies: list[float] = []
        reported: set[str] = set()
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            url = f"{base}/v1/topics/{TOPIC}/stream"
            sockets = [
                await session.ws_connect(url, headers={"X-API-Key": key}) for _ in range(count)
            ]
            out.put(("connected", count))

            async def listen(ws: aiohttp.ClientWebSocketResponse) -> None:
                async for message in ws:
                    now = time.time() * 1000
                    event = orjson.loads(message.data)
                    kind = event["key"][0]
                    if kind == "l":
                        latencies.append(now - event["timestamp"])
                    received[kind] += 1
                    if received[kind] >= wanted[kind] and kind not in reported:
                        reported.add(kind)
                        out.put((kind, received[kind], latencies if kind == "l" else []))

            listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
            await asyncio.get_running_loop().run_in_executor(None, go.wait, 600)
            for task in listeners:
                task.cancel()
            for ws in sockets:
                await ws.close()

    asyncio.run(main())


async def _fan_out(
    base: str,
    bootstrap: str,
    registry: str,
    key: str,
    pid: int,
    sizes: tuple[int, int, int],
) -> FanOut:
    """Throughput: ``records`` produced in bursts, deliveries per hub CPU-second. Latency:
    then a steady trickle the hub can keep up with, append-to-receipt times. Subscribers
    run in two client processes."""
    subscribers, records, trickle = sizes
    result = FanOut(expected=subscribers * records)
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    go = context.Event()
    shares = [subscribers // 2, subscribers - subscribers // 2]
    clients = [
        context.Process(
            target=_client_process,
            args=(
                base,
                key,
                share,
                {"w": share, "t": share * records, "l": share * trickle},
                out,
                go,
            ),
            daemon=True,
        )
        for share in shares
    ]
    for client in clients:
        client.start()
    loop = asyncio.get_running_loop()

    async def wait_for(kind: str, limit: float) -> list[tuple[Any, ...]]:
        got: list[tuple[Any, ...]] = []
        deadline = loop.time() + limit
        while len(got) < len(clients) and loop.time() < deadline:
            try:
                message = await loop.run_in_executor(None, out.get, True, 1.0)
            except queue.Empty:
                continue
            if message[0] == kind:
                got.append(message)
        return got

    await wait_for("connected", 120)
    await asyncio.sleep(1.0)  # every subscription registered with the live reader
    async with RegistryClient(registry) as registry_client:
        schema_id = await registry_client.register(f"{TOPIC}-value", json.dumps(SCHEMA))
    encoder = Encoder(schema_id, SCHEMA)
    producer = get_backend().producer(Cluster(bootstrap))
    await producer.start()

    def position(key: str) -> Outgoing:
        now = int(time.time() * 1000)
        value = encoder.encode(
            {
                "id": key,
                "area": "bench",
                "source_feed": "bench",
                "observed_at": now,
                "ingested_at": now,
                "latitude": 36.3,
                "longitude": 136.3,
            }
        )
        return Outgoing(key.encode(), value)

    try:
        # One record every subscriber must see before timing starts.
        await producer.deliver(TOPIC, [position("w-warm-up")])
        await wait_for("w", 60)
        cpu = _cpu_seconds(pid)
        for i in range(0, records, 50):
            batch = [position(f"t{j}") for j in range(i, min(records, i + 50))]
            await producer.deliver(TOPIC, batch)
        done = await wait_for("t", 300)
        result.cpu_s = _cpu_seconds(pid) - cpu
        result.delivered = sum(m[1] for m in done)
        # Latency at a load the hub sustains: 5 records/s to every subscriber.
        result.latency_rate = 5.0
        for j in range(trickle):
            await producer.deliver(TOPIC, [position(f"l{j}")])
            await asyncio.sleep(1 / result.latency_rate)
        for message in await wait_for("l", 60):
            result.latencies += message[2]
    finally:
        await producer.stop()
        go.set()
        for client in clients:
            client.join(30)
    return result


async def _publish(base: str, key: str, seconds: float) -> tuple[int, list[float]]:
    """POST 10 records every 10 ms (1,000 records/s) for ``seconds``; request latencies."""
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    latencies: list[float] = []
    ok = 0
    async with aiohttp.ClientSession() as session:

        async def one(n: int) -> None:
            nonlocal ok
            now = int(time.time() * 1000)
            body = json.dumps(
                [
                    {"id": f"p{n}-{i}", "latitude": 36.3, "longitude": 136.3, "observed_at": now}
                    for i in range(10)
                ]
            )
            started = time.perf_counter()
            async with session.post(
                f"{base}/v1/topics/{TOPIC}/records", data=body, headers=headers
            ) as response:
                await response.read()
                if response.status == 200:
                    ok += 1
            latencies.append((time.perf_counter() - started) * 1000)

        await one(-1)  # warm-up: the hub's publishing producer and registry lookup
        latencies.clear()
        ok = 0
        tasks = []
        loop = asyncio.get_running_loop()
        begin = loop.time()
        n = 0
        while loop.time() - begin < seconds:
            tasks.append(asyncio.create_task(one(n)))
            n += 1
            await asyncio.sleep(max(0.0, begin + n * 0.01 - loop.time()))
        await asyncio.gather(*tasks)
    return ok, latencies


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)] if ordered else float("inf")


def _p99(values: list[float]) -> float:
    return _percentile(values, 0.99)


def run(quick: bool) -> list[Row]:
    """Run the benchmark and return its rows."""
    sizes = (20, 100, 5) if quick else (1000, 300, 50)  # subscribers, burst, trickle
    publish_seconds = 2.0 if quick else 20.0
    topics = {TOPIC: "    partitions: 3\n    access: public\n"}
    grants = (Grant(TOPIC, "publish"), Grant(TOPIC, "read"))
    with (
        tempfile.TemporaryDirectory(prefix="tsunagu-bench-") as tmp,
        running_hub(Path(tmp), topics, "bench", grants) as hub,
    ):
        fan = asyncio.run(
            _fan_out(
                hub.base,
                hub.info["kafka"]["bootstrap_servers"],
                hub.info["registry"]["url"],
                hub.key,
                hub.process.pid,
                sizes,
            )
        )
        published, publish_latencies = asyncio.run(_publish(hub.base, hub.key, publish_seconds))
    per_core = fan.delivered / fan.cpu_s if fan.cpu_s > 0 else 0.0
    subscribers = sizes[0]
    return [
        Row(
            f"gateway fan-out: {subscribers} WebSocket subscribers "
            f"({fan.delivered:,} of {fan.expected:,} delivered)",
            "deliveries/s per core",
            per_core,
            "target",
            20_000,
            ">= 1.0",
        ),
        Row(
            f"gateway fan-out: p99 latency at {fan.latency_rate:g} records/s to each of "
            f"{subscribers} (p50 {_percentile(fan.latencies, 0.5):.0f} ms)",
            "ms",
            _p99(fan.latencies),
            "limit",
            250,
            "<= 1.0",
        ),
        Row(
            f"gateway publish at 1,000 records/s: p99 request to ack ({published:,} requests)",
            "ms",
            _p99(publish_latencies),
            "limit",
            50,
            "<= 1.0",
        ),
    ]
