"""One contract for every Kafka backend, run against the real embedded broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hub.broker import free_port
from hub.errors import KafkaError, KafkaUnavailableError
from hub.kafka import (
    Backend,
    Cluster,
    Consumer,
    Incoming,
    Outgoing,
    TopicPartition,
    TopicSpec,
    backend_names,
    get_backend,
)


@pytest.fixture(params=backend_names())
def backend(request: pytest.FixtureRequest) -> Backend:
    return get_backend(request.param)


async def drain(consumer: Consumer, want: int, limit: float = 30.0) -> list[Incoming]:
    """Read until ``want`` records arrived or ``limit`` seconds passed."""
    got: list[Incoming] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while len(got) < want and loop.time() < deadline:
        got.extend(await consumer.get_batch(500, 0.5))
    return got


async def settle(consumer: Consumer, seconds: float = 3.0) -> list[Incoming]:
    """Read for ``seconds`` and return whatever came (used to prove nothing comes)."""
    got: list[Incoming] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        got.extend(await consumer.get_batch(500, 0.3))
    return got


def next_offsets(records: list[Incoming]) -> dict[TopicPartition, int]:
    out: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        out[tp] = max(out.get(tp, 0), r.offset + 1)
    return out


@pytest.fixture
async def topic(backend: Backend, cluster: Cluster, unique: str) -> AsyncIterator[str]:
    name = f"contract.{backend.name}.t{unique}.v1"
    admin = backend.admin(cluster)
    await admin.create_topics([TopicSpec(name, partitions=3)])
    yield name
    await admin.close()


async def test_create_topics_is_idempotent_and_keeps_settings(
    backend: Backend, cluster: Cluster, unique: str
) -> None:
    admin = backend.admin(cluster)
    specs = [
        TopicSpec(f"adm.a{unique}.x.v1", partitions=4, config={"cleanup.policy": "compact"}),
        TopicSpec(f"adm.b{unique}.x.v1", partitions=1, config={"retention.ms": "3600000"}),
    ]
    first = await admin.create_topics(specs)
    assert sorted(first.created) == sorted(s.name for s in specs)
    assert first.existing == []
    second = await admin.create_topics(specs)
    assert second.created == []
    assert sorted(second.existing) == sorted(s.name for s in specs)
    topics = await admin.list_topics()
    assert topics[specs[0].name] == 4
    assert topics[specs[1].name] == 1
    await admin.close()


async def test_produce_then_consume_in_group_with_commit(
    backend: Backend, cluster: Cluster, topic: str, unique: str
) -> None:
    producer = backend.producer(cluster)
    await producer.start()
    await producer.start()  # idempotent
    records = [
        Outgoing(
            f"k{i}".encode(), f"value-{i}".encode(), [("feed", b"demo"), ("n", str(i).encode())]
        )
        for i in range(200)
    ]
    deliveries = await producer.send_batch(topic, records)
    assert len(deliveries) == 200
    assert all(d.offset >= 0 and 0 <= d.partition < 3 for d in deliveries)
    # Per partition, offsets are distinct: every record has its own place.
    assert len({(d.partition, d.offset) for d in deliveries}) == 200
    assert await producer.send_batch(topic, []) == []

    group = f"g-{unique}"
    consumer = backend.consumer(cluster, group, [topic])
    await consumer.start()
    got = await drain(consumer, 200)
    assert sorted(r.value or b"" for r in got) == sorted(r.value or b"" for r in records)
    by_key = {r.key: r for r in got}
    sample = by_key[b"k7"]
    assert sample.value == b"value-7"
    assert sample.headers == [("feed", b"demo"), ("n", b"7")]
    assert sample.timestamp_ms is not None
    assert sample.topic == topic
    assert {TopicPartition(r.topic, r.partition) for r in got} <= set(consumer.assignment())
    await consumer.commit(next_offsets(got))
    await consumer.stop()
    await consumer.stop()  # idempotent

    # A new member of the same group starts after the committed offsets.
    await producer.send_batch(topic, [Outgoing(b"late", b"after-commit")])
    again = backend.consumer(cluster, group, [topic])
    await again.start()
    rest = await drain(again, 1)
    rest += await settle(again, 2.0)
    assert [r.value for r in rest] == [b"after-commit"]
    await again.stop()
    await producer.stop()
    await producer.stop()  # idempotent


async def test_uncommitted_records_are_delivered_again(
    backend: Backend, cluster: Cluster, topic: str, unique: str
) -> None:
    producer = backend.producer(cluster)
    await producer.start()
    await producer.send_batch(topic, [Outgoing(None, f"r{i}".encode()) for i in range(10)])
    await producer.stop()
    group = f"g-{unique}"
    first = backend.consumer(cluster, group, [topic])
    await first.start()
    got = await drain(first, 10)
    assert len(got) == 10
    await first.stop()  # stops without committing: nothing was processed
    second = backend.consumer(cluster, group, [topic])
    await second.start()
    again = await drain(second, 10)
    assert sorted(r.value or b"" for r in again) == sorted(r.value or b"" for r in got)
    await second.stop()


async def test_backends_interoperate_on_the_wire(cluster: Cluster, unique: str) -> None:
    """What one client writes, the other reads identically (keys, values, headers)."""
    confluent, pure = get_backend("confluent"), get_backend("kafka-python")
    name = f"interop.t{unique}.x.v1"
    admin = confluent.admin(cluster)
    await admin.create_topics([TopicSpec(name)])
    for writer in (confluent, pure):
        producer = writer.producer(cluster)
        await producer.start()
        await producer.send_batch(
            name, [Outgoing(writer.name.encode(), b"\x00\x01binary", [("origin", b"x")])]
        )
        await producer.stop()
    for reader in (confluent, pure):
        consumer = reader.consumer(cluster, f"g-{reader.name}-{unique}", [name])
        await consumer.start()
        got = await drain(consumer, 2)
        await consumer.stop()
        assert sorted((r.key, r.value, tuple(r.headers)) for r in got) == sorted(
            (w.encode(), b"\x00\x01binary", (("origin", b"x"),))
            for w in ("confluent", "kafka-python")
        )


async def test_unreachable_cluster_is_reported(backend: Backend) -> None:
    dead = Cluster(f"127.0.0.1:{free_port()}")
    admin = backend.admin(dead)
    with pytest.raises(KafkaUnavailableError, match="unreachable"):
        await admin.ping(timeout=2.0)
    await admin.close()


async def test_concurrent_delivers_are_all_acknowledged_and_readable(
    backend: Backend, cluster: Cluster, topic: str, unique: str
) -> None:
    producer = backend.producer(cluster)
    await producer.start()

    def chunk(sender: int) -> list[Outgoing]:
        headers = [("sender", str(sender).encode())] if sender % 2 else None
        return [Outgoing(f"s{sender}-{i}".encode(), b"v", headers) for i in range(300)]

    # Concurrent callers share acknowledgement groups; every one must still be waited for.
    await asyncio.gather(*(producer.deliver(topic, chunk(s)) for s in range(6)))
    await producer.deliver(topic, [])
    consumer = backend.consumer(cluster, f"g-{unique}", [topic])
    await consumer.start()
    got = await drain(consumer, 1800)
    assert sorted(r.key or b"" for r in got) == sorted(
        o.key or b"" for s in range(6) for o in chunk(s)
    )
    assert all(r.headers == [("sender", b"1")] for r in got if (r.key or b"").startswith(b"s1-"))
    await consumer.stop()
    await producer.stop()


async def test_a_rejected_record_fails_its_deliver_and_the_next_one_works(
    backend: Backend, cluster: Cluster, topic: str
) -> None:
    producer = backend.producer(cluster)
    await producer.start()
    too_big = b"x" * (2 * 1024 * 1024)  # over the default 1 MiB message.max.bytes
    with pytest.raises(KafkaError):
        await producer.deliver(topic, [Outgoing(b"ok", b"small"), Outgoing(b"big", too_big)])
    await asyncio.wait_for(producer.deliver(topic, [Outgoing(b"after", b"fine")]), 30)
    await producer.stop()


async def test_a_reader_replays_from_chosen_offsets_without_a_group(
    backend: Backend, cluster: Cluster, topic: str
) -> None:
    producer = backend.producer(cluster)
    await producer.start()
    deliveries = await producer.send_batch(
        topic, [Outgoing(f"k{i}".encode(), f"v{i}".encode()) for i in range(30)]
    )
    await producer.stop()
    reader = backend.reader(cluster, topic)
    assert await reader.partitions() == [0, 1, 2]
    marks = await reader.watermarks()
    assert all(low == 0 for low, _ in marks.values())

    async def read_all(positions: dict[int, int], want: int) -> list[Incoming]:
        await reader.assign(positions)
        got: list[Incoming] = []
        for _ in range(40):
            got += await reader.get_batch(100, 0.25)
            if len(got) >= want:
                break
        return got

    everything = await read_all(dict.fromkeys(marks, 0), 30)
    assert sorted(r.value or b"" for r in everything) == sorted(f"v{i}".encode() for i in range(30))
    # From the second record of each partition on: exactly what the deliveries say is there.
    later = await read_all(dict.fromkeys(marks, 1), 27)
    expected = {(d.partition, d.offset) for d in deliveries if d.offset >= 1}
    assert {(r.partition, r.offset) for r in later} == expected
    first_ts = min(r.timestamp_ms or 0 for r in everything)
    from_time = await reader.offsets_for_time(first_ts)
    assert set(from_time) == {0, 1, 2}
    await reader.close()


async def test_watermarks_report_the_true_end_of_a_partition(
    backend: Backend, cluster: Cluster, topic: str
) -> None:
    """The end of a partition is where the next record will land, on every broker.

    The embedded broker answers ListOffsets(LATEST) with one past the first offset of the
    partition's last batch (1 for 650 records sent in one batch): an end taken from it made
    ``start=latest`` replay old records.
    """
    producer = backend.producer(cluster)
    await producer.start()
    counts = {0: 650, 1: 7, 2: 0}
    for partition, count in counts.items():
        for first in range(0, count, 325):  # a few large batches, as a busy topic gets
            size = min(325, count - first)
            await producer.deliver(
                topic, [Outgoing(None, b"x" * 50) for _ in range(size)], partition=partition
            )
    await producer.deliver(topic, [Outgoing(None, b"single")], partition=1)
    await producer.stop()
    reader = backend.reader(cluster, topic)
    try:
        marks = await reader.watermarks()
        assert marks == {0: (0, 650), 1: (0, 8), 2: (0, 0)}
    finally:
        await reader.close()


async def test_a_consumers_lag_counts_from_the_true_end(
    backend: Backend, cluster: Cluster, topic: str, unique: str
) -> None:
    """The bridges' lag metric: records not yet consumed, against the partition's real end
    (an end from the embedded broker's ListOffsets made a backlog read as no lag)."""
    producer = backend.producer(cluster)
    await producer.start()
    await producer.deliver(topic, [Outgoing(None, b"x" * 50) for _ in range(650)], partition=0)
    await producer.stop()
    consumer = backend.consumer(cluster, f"g-{unique}", [topic])
    await consumer.start()
    try:
        got: list[Incoming] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not got and loop.time() < deadline:
            got = await consumer.get_batch(10, 0.5)
        assert got, "nothing consumed"
        position = max(r.offset for r in got if r.partition == 0) + 1
        lags = await consumer.lag()
        assert lags[TopicPartition(topic, 0)] == 650 - position
    finally:
        await consumer.stop()


async def test_offsets_for_time_find_the_first_record_at_or_after_the_time(
    backend: Backend, cluster: Cluster, topic: str
) -> None:
    """``start=<time>`` of a stream: the embedded broker answers ListOffsets by time with the
    partition's first offset whatever the time, so a late start replayed the whole log."""
    producer = backend.producer(cluster)
    await producer.start()
    for _ in range(4):  # four batches a few milliseconds apart
        await producer.deliver(topic, [Outgoing(None, b"x") for _ in range(50)], partition=0)
        await asyncio.sleep(0.05)
    await producer.stop()
    reader = backend.reader(cluster, topic)
    try:
        await reader.assign({0: 0})
        got: list[Incoming] = []
        for _ in range(40):
            got += await reader.get_batch(500, 0.25)
            if len(got) >= 200:
                break
        stamps = {r.offset: r.timestamp_ms or 0 for r in got}
        assert len(stamps) == 200
        for offset in (0, 50, 120, 199):
            wanted = stamps[offset]
            first = min(o for o, ts in stamps.items() if ts >= wanted)
            assert (await reader.offsets_for_time(wanted))[0] == first, offset
        later = await reader.offsets_for_time(max(stamps.values()) + 3_600_000)
        assert later == {0: 200, 1: 0, 2: 0}  # nothing that recent: the ends
    finally:
        await reader.close()
