"""Encode-and-produce through the hub's Kafka interface, against a raw confluent-kafka loop
of the same pre-encoded bytes and against the kafka-python backend, on the embedded broker.

Every producer is warmed up (connection, metadata, producer id) before its timed part, and
the hub is used as the ingest runner uses it: chunks of 5,000 records through
``deliver_chunks`` with a few chunks in flight."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import confluent_kafka

from bench.table import Row
from hub.broker import EmbeddedBroker
from hub.codec import Encoder
from hub.kafka import Cluster, Outgoing, TopicSpec, deliver_chunks, get_backend

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "VehiclePosition",
    "namespace": "bench",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "area", "type": "string"},
        {"name": "source_feed", "type": "string"},
        {"name": "observed_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "ingested_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "trip_id", "type": ["null", "string"], "default": None},
        {"name": "route_id", "type": ["null", "string"], "default": None},
        {"name": "latitude", "type": "double"},
        {"name": "longitude", "type": "double"},
        {"name": "bearing", "type": ["null", "float"], "default": None},
        {"name": "speed", "type": ["null", "float"], "default": None},
    ],
}
BATCH = 5000


def records(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"urn:ngsi-ld:Vehicle:kaga:bus-{i % 5000}",
            "area": "kaga",
            "source_feed": "bench",
            "observed_at": 1_700_000_000_000 + i,
            "ingested_at": 1_700_000_000_500 + i,
            "trip_id": f"trip-{i % 300}",
            "route_id": f"route-{i % 40}",
            "latitude": 36.3 + (i % 100) / 1000,
            "longitude": 136.3 + (i % 100) / 1000,
            "bearing": float(i % 360),
            "speed": 8.5,
        }
        for i in range(n)
    ]


def raw_loop(bootstrap: str, topic: str, items: list[tuple[bytes, bytes]]) -> float:
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "log_level": 3,
        }
    )
    # Warm up (metadata, connection, producer id) outside the timed part, as for the hub.
    producer.produce(topic, b"warm-up", b"warm-up")
    producer.flush(10)
    produce, poll = producer.produce, producer.poll
    start = time.perf_counter()
    for index, (key, value) in enumerate(items):
        while True:
            try:
                produce(topic, value, key)
                break
            except BufferError:
                poll(0.01)
        if index % 1000 == 0:
            poll(0)  # serve delivery reports now and then, as any long-running producer must
    producer.flush(60)
    return len(items) / (time.perf_counter() - start)


async def through_hub(
    backend_name: str, cluster: Cluster, topic: str, data: list[dict[str, Any]], encode: bool
) -> float:
    encoder = Encoder(1, SCHEMA)
    pre = [Outgoing(r["id"].encode(), encoder.encode(r)) for r in data]
    producer = get_backend(backend_name).producer(cluster)
    await producer.start()
    await producer.send_batch(topic, pre[:10])  # warm-up: connection, metadata, producer id

    def chunks() -> Iterator[list[Outgoing]]:
        for i in range(0, len(data), BATCH):
            if encode:
                yield [Outgoing(r["id"].encode(), encoder.encode(r)) for r in data[i : i + BATCH]]
            else:
                yield pre[i : i + BATCH]

    start = time.perf_counter()
    await deliver_chunks(producer, topic, chunks())
    rate = len(data) / (time.perf_counter() - start)
    await producer.stop()
    return rate


async def _run(quick: bool) -> list[Row]:
    n = 2_000 if quick else 50_000
    data = records(n)
    encoder = Encoder(1, SCHEMA)
    pre = [(r["id"].encode(), encoder.encode(r)) for r in data]
    with EmbeddedBroker() as broker:
        cluster = Cluster(broker.bootstrap_servers)
        admin = get_backend().admin(cluster)
        names = ["bench.raw.v1", "bench.hub.v1", "bench.hubenc.v1", "bench.kp.v1"]
        await admin.create_topics([TopicSpec(t, partitions=3) for t in names])
        raw = await asyncio.to_thread(raw_loop, broker.bootstrap_servers, names[0], pre)
        hub_pre = await through_hub("confluent", cluster, names[1], data, encode=False)
        hub_enc = await through_hub("confluent", cluster, names[2], data, encode=True)
        kp = await through_hub("kafka-python", cluster, names[3], data, encode=True)
        await admin.close()
    return [
        Row(
            "produce: hub interface, pre-encoded",
            "records/s",
            hub_pre,
            "raw confluent loop",
            raw,
            ">= 0.8",
        ),
        # Encoding is in this row only, so it cannot reach the raw loop of pre-encoded
        # bytes: it shows what Avro encoding costs on top of the interface.
        Row(
            "produce: hub encode+produce",
            "records/s",
            hub_enc,
            "raw confluent loop",
            raw,
            "info",
        ),
        Row(
            "produce: hub encode+produce", "records/s", hub_enc, "kafka-python backend", kp, "peer"
        ),
    ]


def run(quick: bool) -> list[Row]:
    """Run the benchmark and return its rows."""
    return asyncio.run(_run(quick))
