"""Stock Python Kafka clients read what the hub produces (lz4-compressed batches), installed
as the README says: `kafka-python[lz4]`, `aiokafka[lz4]`. Real embedded broker, no hub code
on the reading side."""

from __future__ import annotations

import asyncio
import time

import aiokafka
import kafka

from hub.kafka import Cluster, Outgoing, TopicSpec, get_backend

RECORDS = 60


async def produce(cluster: Cluster, topic: str) -> set[bytes]:
    backend = get_backend("confluent")
    admin = backend.admin(cluster)
    await admin.create_topics([TopicSpec(topic, partitions=2)])
    await admin.close()
    producer = backend.producer(cluster)
    await producer.start()
    values = [b"tsunagu record %d " % i + b"x" * 200 for i in range(RECORDS)]
    await producer.send_batch(topic, [Outgoing(b"k%d" % i, v, []) for i, v in enumerate(values)])
    await producer.stop()
    return set(values)


def read_with_kafka_python(bootstrap: str, topic: str) -> set[bytes]:
    consumer = kafka.KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [kafka.TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        got: set[bytes] = set()
        deadline = time.monotonic() + 30
        while len(got) < RECORDS and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got.update(r.value for r in records)
        return got
    finally:
        consumer.close()


async def test_kafka_python_reads_the_hubs_records(cluster: Cluster, unique: str) -> None:
    topic = f"stock.kp{unique}.x.v1"
    sent = await produce(cluster, topic)
    got = await asyncio.to_thread(read_with_kafka_python, cluster.bootstrap_servers, topic)
    assert got == sent


async def test_aiokafka_reads_the_hubs_records(cluster: Cluster, unique: str) -> None:
    topic = f"stock.aio{unique}.x.v1"
    sent = await produce(cluster, topic)
    consumer = aiokafka.AIOKafkaConsumer(
        bootstrap_servers=cluster.bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = [aiokafka.TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        got: set[bytes] = set()
        deadline = time.monotonic() + 30
        while len(got) < RECORDS and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                got.update(r.value for r in records)
    finally:
        await consumer.stop()
    assert got == sent
