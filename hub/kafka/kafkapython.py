"""The optional pure-Python Kafka backend, on kafka-python (``pip install tsunagu[kafka-python]``).

kafka-python's calls block (metadata look-ups, a full buffer), so every call
into it runs in a worker thread; its futures complete on its sender thread and
resolve one asyncio future per batch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

try:
    import kafka
    import kafka.errors
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.structs import OffsetAndMetadata
    from kafka.structs import TopicPartition as KTopicPartition
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the kafka-python backend needs the optional extra: pip install 'tsunagu[kafka-python]'"
    ) from exc

from hub.errors import DeliveryError, KafkaError, KafkaUnavailableError, TopicSetupError
from hub.kafka.offsets import RecordAt, first_offset_at_or_after
from hub.kafka.types import (
    Cluster,
    CreateTopicsResult,
    Delivery,
    Incoming,
    Outgoing,
    TopicPartition,
    TopicSpec,
)

# librdkafka property -> kafka-python keyword, for the settings a Cluster may carry.
_PROPERTY_NAMES = {
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "sasl_plain_username",
    "sasl.password": "sasl_plain_password",
    "ssl.ca.location": "ssl_cafile",
    "ssl.certificate.location": "ssl_certfile",
    "ssl.key.location": "ssl_keyfile",
}


def _base_config(cluster: Cluster, client_id: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap_servers": cluster.bootstrap_servers.split(","),
        "client_id": client_id,
    }
    for prop, value in cluster.properties.items():
        name = _PROPERTY_NAMES.get(prop)
        if name is None:
            raise KafkaError(f"kafka-python backend does not support the property {prop!r}")
        config[name] = value
    return config


def _incoming(polled: Mapping[Any, Sequence[Any]]) -> list[Incoming]:
    """kafka-python's poll result as Incoming records."""
    return [
        Incoming(
            r.topic,
            r.partition,
            r.offset,
            r.key,
            r.value,
            [(name, bytes(value)) for name, value in (r.headers or ())],
            r.timestamp if r.timestamp is not None and r.timestamp >= 0 else None,
        )
        for records in polled.values()
        for r in records
    ]


def _translate(exc: Exception) -> KafkaError:
    retriable = bool(getattr(exc, "retriable", False))
    return KafkaError(f"{type(exc).__name__}: {exc}", retriable=retriable, code=type(exc).__name__)


async def _require_reachable(cluster: Cluster, timeout: float = 5.0) -> None:
    """Fail fast when no bootstrap server accepts a TCP connection.

    kafka-python, given an unreachable cluster, retries in a background thread
    and leaks the refused sockets; checking first keeps that out of the process.
    """
    reasons: list[str] = []
    for server in cluster.bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            reasons.append(f"{server}: {exc or type(exc).__name__}")
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise KafkaUnavailableError(cluster.label, "; ".join(reasons))


# How long a measurement waits for the fetch responses that carry the high watermarks.
_MEASURE_TIMEOUT_S = 10.0


def _partition_ends(
    config: Mapping[str, Any], topic: str, partitions: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """Per partition, (first retained offset, end offset), blocking: run it in a thread.

    As in the confluent backend: ListOffsets(LATEST) is only a hint (the embedded broker
    answers one past the first offset of the last batch); one fetch from just before it
    brings the high watermark every broker gets right. A fresh client each time, so no
    high watermark cached from an earlier fetch stands in for the one measured now.
    """
    consumer = kafka.KafkaConsumer(
        **{
            **config,
            "group_id": None,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "max_partition_fetch_bytes": 1,
            "fetch_max_wait_ms": 10,
        }
    )
    try:
        tps = [KTopicPartition(topic, p) for p in partitions]
        lows = consumer.beginning_offsets(tps)
        highs = consumer.end_offsets(tps)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, max(lows[tp], highs[tp] - 1))
        ends: dict[int, tuple[int, int]] = {}
        deadline = time.monotonic() + _MEASURE_TIMEOUT_S
        while len(ends) < len(tps) and time.monotonic() < deadline:
            consumer.poll(timeout_ms=50, max_records=500)  # only the responses are wanted
            for tp in tps:
                fetched = consumer.highwater(tp)
                if tp.partition not in ends and fetched is not None:
                    ends[tp.partition] = (lows[tp], max(highs[tp], fetched))
        # A partition whose fetch never answered keeps the broker's ListOffsets figure.
        return {tp.partition: ends.get(tp.partition, (lows[tp], highs[tp])) for tp in tps}
    finally:
        consumer.close()


def _offsets_at_time(
    config: Mapping[str, Any],
    topic: str,
    timestamp_ms: int,
    marks: Mapping[int, tuple[int, int]],
    hints: Mapping[int, int],
) -> dict[int, int]:
    """Per partition, the first offset at or after ``timestamp_ms``: the broker's answer
    (``hints``) checked, and searched for when wrong (blocking: run it in a thread)."""
    consumer = kafka.KafkaConsumer(
        **{
            **config,
            "group_id": None,
            "enable_auto_commit": False,
            "max_partition_fetch_bytes": 1,
            "fetch_max_wait_ms": 10,
        }
    )

    def probe(partition: int) -> RecordAt:
        tp = KTopicPartition(topic, partition)

        def record_at(offset: int) -> tuple[int, int] | None:
            consumer.assign([tp])
            consumer.seek(tp, offset)
            deadline = time.monotonic() + _MEASURE_TIMEOUT_S
            while time.monotonic() < deadline:
                for record in consumer.poll(timeout_ms=100, max_records=1).get(tp, []):
                    return int(record.offset), int(record.timestamp)
                end = consumer.highwater(tp)
                if end is not None and consumer.position(tp) >= end:
                    return None
            return None

        return record_at

    try:
        return {
            p: first_offset_at_or_after(probe(p), low, end, timestamp_ms, hints.get(p))
            for p, (low, end) in marks.items()
        }
    finally:
        consumer.close()


class _Batch:
    """Collects per-record results on kafka-python's sender thread."""

    __slots__ = ("deliveries", "failures", "future", "loop", "remaining")

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop) -> None:
        self.remaining = size
        self.deliveries: list[Delivery] = [Delivery(-1, -1)] * size
        self.failures: dict[int, str] = {}
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def ok(self, index: int, metadata: Any) -> None:
        self.deliveries[index] = Delivery(metadata.partition, metadata.offset)
        self._done()

    def failed(self, index: int, exc: Exception) -> None:
        self.failures[index] = f"{type(exc).__name__}: {exc}"
        self._done()

    def _done(self) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            self.loop.call_soon_threadsafe(self._finish)

    def _finish(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class KafkaPythonProducer:
    """Idempotent kafka-python producer behind the hub's Producer interface."""

    def __init__(self, cluster: Cluster, *, client_id: str = "tsunagu") -> None:
        self._config = {
            **_base_config(cluster, client_id),
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 5,
            "max_block_ms": 30000,
        }
        self._producer: kafka.KafkaProducer | None = None
        self._cluster = cluster

    async def start(self) -> None:
        if self._producer is not None:
            return
        await _require_reachable(self._cluster)
        try:
            self._producer = await asyncio.to_thread(kafka.KafkaProducer, **self._config)
        except (kafka.errors.KafkaTimeoutError, kafka.errors.KafkaConnectionError) as exc:
            raise KafkaUnavailableError(self._cluster.label, str(exc)) from exc
        except kafka.errors.KafkaError as exc:
            raise _translate(exc) from exc

    async def stop(self, timeout: float = 10.0) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await asyncio.to_thread(producer.close, timeout)

    async def send_batch(
        self, topic: str, records: Sequence[Outgoing], *, partition: int | None = None
    ) -> list[Delivery]:
        producer = self._producer
        if producer is None:
            raise KafkaError("producer is not started")
        if not records:
            return []
        batch = _Batch(len(records), asyncio.get_running_loop())

        def enqueue() -> None:
            for index, (key, value, headers) in enumerate(records):
                future = producer.send(
                    topic, value=value, key=key, headers=headers, partition=partition
                )
                future.add_callback(batch.ok, index)
                future.add_errback(batch.failed, index)

        try:
            await asyncio.to_thread(enqueue)
        except kafka.errors.KafkaError as exc:
            raise _translate(exc) from exc
        await batch.future
        if batch.failures:
            first = next(iter(batch.failures.values()))
            raise DeliveryError(
                f"{len(batch.failures)} of {len(records)} record(s) to {topic} not acknowledged: "
                f"{first}",
                retriable=True,
            )
        return batch.deliveries

    async def deliver(
        self, topic: str, records: Sequence[Outgoing], *, partition: int | None = None
    ) -> None:
        # kafka-python's futures carry the metadata anyway: nothing to save by skipping it.
        await self.send_batch(topic, records, partition=partition)


class KafkaPythonConsumer:
    """kafka-python group consumer with manual commits."""

    def __init__(
        self,
        cluster: Cluster,
        group_id: str,
        topics: Sequence[str],
        *,
        from_beginning: bool = True,
        read_committed: bool = False,
        client_id: str = "tsunagu",
    ) -> None:
        self._base = _base_config(cluster, client_id)
        self._config = {
            **self._base,
            "group_id": group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest" if from_beginning else "latest",
            "isolation_level": "read_committed" if read_committed else "read_uncommitted",
            "session_timeout_ms": 10000,
        }
        self._topics = list(topics)
        self._cluster = cluster
        self._consumer: kafka.KafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        if self._consumer is not None:
            return
        await _require_reachable(self._cluster)
        try:
            consumer = await asyncio.to_thread(kafka.KafkaConsumer, **self._config)
        except (kafka.errors.KafkaTimeoutError, kafka.errors.KafkaConnectionError) as exc:
            raise KafkaUnavailableError(self._cluster.label, str(exc)) from exc
        consumer.subscribe(self._topics)
        self._consumer = consumer

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            async with self._lock:
                await asyncio.to_thread(consumer.close)

    async def get_batch(self, max_records: int = 500, timeout: float = 1.0) -> list[Incoming]:
        consumer = self._consumer
        if consumer is None:
            raise KafkaError("consumer is not started")
        try:
            async with self._lock:
                polled = await asyncio.to_thread(
                    consumer.poll, timeout_ms=int(timeout * 1000), max_records=max_records
                )
        except kafka.errors.KafkaError as exc:
            raise _translate(exc) from exc
        return _incoming(polled)

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        consumer = self._consumer
        if consumer is None:
            raise KafkaError("consumer is not started")
        if not offsets:
            return
        payload = {
            KTopicPartition(tp.topic, tp.partition): OffsetAndMetadata(off, "", -1)
            for tp, off in offsets.items()
        }
        try:
            async with self._lock:
                await asyncio.to_thread(consumer.commit, payload)
        except kafka.errors.KafkaError as exc:
            raise _translate(exc) from exc

    def assignment(self) -> list[TopicPartition]:
        if self._consumer is None:
            return []
        return [TopicPartition(tp.topic, tp.partition) for tp in self._consumer.assignment()]

    async def lag(self) -> dict[TopicPartition, int]:
        consumer = self._consumer
        if consumer is None:
            return {}

        def measure() -> dict[TopicPartition, int]:
            assigned = list(consumer.assignment())
            by_topic: dict[str, list[int]] = {}
            for tp in assigned:
                by_topic.setdefault(tp.topic, []).append(tp.partition)
            ends = {
                topic: _partition_ends(self._base, topic, parts)
                for topic, parts in by_topic.items()
            }
            return {
                TopicPartition(tp.topic, tp.partition): max(
                    0, ends[tp.topic][tp.partition][1] - consumer.position(tp)
                )
                for tp in assigned
            }

        try:
            async with self._lock:
                return await asyncio.to_thread(measure)
        except kafka.errors.KafkaError as exc:
            raise _translate(exc) from exc


class KafkaPythonReader:
    """Group-less reader of one topic (assign and seek; nothing committed)."""

    def __init__(self, cluster: Cluster, topic: str, *, client_id: str = "tsunagu-reader") -> None:
        self.topic = topic
        self._cluster = cluster
        self._config = {
            **_base_config(cluster, client_id),
            "group_id": None,
            "enable_auto_commit": False,
        }
        self._consumer: kafka.KafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def _client(self) -> kafka.KafkaConsumer:
        if self._consumer is None:
            await _require_reachable(self._cluster)
            self._consumer = await asyncio.to_thread(kafka.KafkaConsumer, **self._config)
        return self._consumer

    async def _call(self, function: Any, *args: Any) -> Any:
        consumer = await self._client()
        try:
            async with self._lock:
                return await asyncio.to_thread(function, consumer, *args)
        except kafka.errors.KafkaError as exc:
            raise _translate(exc) from exc

    async def partitions(self) -> list[int]:
        found = await self._call(lambda c: c.partitions_for_topic(self.topic))
        if not found:
            raise KafkaError(f"topic {self.topic} does not exist")
        return sorted(found)

    async def watermarks(self) -> dict[int, tuple[int, int]]:
        parts = await self.partitions()
        config = {**_base_config(self._cluster, "tsunagu-measure")}
        try:
            # Measured by a client of its own: this reader's assignment stays as it is.
            return await asyncio.to_thread(_partition_ends, config, self.topic, parts)
        except kafka.errors.KafkaError as exc:
            raise _translate(exc) from exc

    async def offsets_for_time(self, timestamp_ms: int) -> dict[int, int]:
        tps = [KTopicPartition(self.topic, p) for p in await self.partitions()]
        found = await self._call(lambda c: c.offsets_for_times(dict.fromkeys(tps, timestamp_ms)))
        marks = await self.watermarks()
        # None: the broker knows no record that recent, so the end (checked like any answer).
        hints = {
            tp.partition: found[tp].offset if found.get(tp) is not None else marks[tp.partition][1]
            for tp in tps
        }
        config = _base_config(self._cluster, "tsunagu-measure")
        try:
            return await asyncio.to_thread(
                _offsets_at_time, config, self.topic, timestamp_ms, marks, hints
            )
        except kafka.errors.KafkaError as exc:
            raise _translate(exc) from exc

    async def assign(self, positions: Mapping[int, int]) -> None:
        def assign(consumer: kafka.KafkaConsumer) -> None:
            tps = [KTopicPartition(self.topic, p) for p in positions]
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, positions[tp.partition])

        await self._call(assign)

    async def get_batch(self, max_records: int = 500, timeout: float = 0.5) -> list[Incoming]:
        polled = await self._call(
            lambda c: c.poll(timeout_ms=int(timeout * 1000), max_records=max_records)
        )
        return _incoming(polled)

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            async with self._lock:
                await asyncio.to_thread(consumer.close)


class KafkaPythonAdmin:
    """Topic administration through kafka-python's KafkaAdminClient."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._client: KafkaAdminClient | None = None

    async def _admin(self) -> KafkaAdminClient:
        if self._client is None:
            await _require_reachable(self._cluster)
            try:
                self._client = await asyncio.to_thread(
                    KafkaAdminClient, **_base_config(self._cluster, "tsunagu-admin")
                )
            except kafka.errors.KafkaError as exc:
                raise KafkaUnavailableError(self._cluster.label, str(exc)) from exc
        return self._client

    async def ping(self, timeout: float = 5.0) -> None:
        client = await self._admin()
        try:
            await asyncio.wait_for(asyncio.to_thread(client.list_topics), timeout)
        except (TimeoutError, kafka.errors.KafkaError) as exc:
            raise KafkaUnavailableError(self._cluster.label, repr(exc)) from exc

    async def list_topics(self) -> dict[str, int]:
        client = await self._admin()
        described = await asyncio.to_thread(client.describe_topics)
        return {t.get("name") or t["topic"]: len(t["partitions"]) for t in described}

    async def create_topics(self, specs: Sequence[TopicSpec]) -> CreateTopicsResult:
        client = await self._admin()
        created: list[str] = []
        existing: list[str] = []
        for spec in specs:
            topic = NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=spec.replication_factor,
                topic_configs=dict(spec.config),
            )
            try:
                await asyncio.to_thread(client.create_topics, [topic], timeout_ms=15000)
                created.append(spec.name)
            except kafka.errors.TopicAlreadyExistsError:
                existing.append(spec.name)
            except kafka.errors.KafkaError as exc:
                raise TopicSetupError(f"cannot create topic {spec.name}: {exc}", created) from exc
        return CreateTopicsResult(created, existing)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)


class KafkaPythonBackend:
    """Factory for kafka-python clients."""

    name = "kafka-python"

    def producer(self, cluster: Cluster, *, client_id: str = "tsunagu") -> KafkaPythonProducer:
        return KafkaPythonProducer(cluster, client_id=client_id)

    def consumer(
        self,
        cluster: Cluster,
        group_id: str,
        topics: Sequence[str],
        *,
        from_beginning: bool = True,
        read_committed: bool = False,
        client_id: str = "tsunagu",
    ) -> KafkaPythonConsumer:
        return KafkaPythonConsumer(
            cluster,
            group_id,
            topics,
            from_beginning=from_beginning,
            read_committed=read_committed,
            client_id=client_id,
        )

    def reader(self, cluster: Cluster, topic: str) -> KafkaPythonReader:
        return KafkaPythonReader(cluster, topic)

    def admin(self, cluster: Cluster) -> KafkaPythonAdmin:
        return KafkaPythonAdmin(cluster)
