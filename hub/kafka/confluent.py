"""The default Kafka backend, on confluent-kafka (librdkafka).

Delivery reports arrive on a dedicated poll thread; each batch resolves one
asyncio future when its last record is acknowledged, so the event loop is woken
once per batch instead of once per record.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, cast

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from hub.errors import DeliveryError, KafkaError, KafkaUnavailableError, TopicSetupError
from hub.kafka.types import (
    Cluster,
    CreateTopicsResult,
    Delivery,
    Headers,
    Incoming,
    Outgoing,
    TopicPartition,
    TopicSpec,
)

# librdkafka is chatty on stderr about every dropped connection; errors that
# matter reach us through callbacks and exceptions instead.
_QUIET = {"log_level": 3}


def _base_config(cluster: Cluster, client_id: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": cluster.bootstrap_servers,
        "client.id": client_id,
        **_QUIET,
        **dict(cluster.properties),
    }


def _translate(exc: confluent_kafka.KafkaException | confluent_kafka.KafkaError) -> KafkaError:
    err = exc.args[0] if isinstance(exc, confluent_kafka.KafkaException) else exc
    if isinstance(err, confluent_kafka.KafkaError):
        return KafkaError(err.str(), retriable=bool(err.retriable()), code=err.name())
    return KafkaError(str(exc))


class _Batch:
    """Collects the delivery reports of one batch on the poll thread."""

    __slots__ = ("deliveries", "failures", "future", "loop", "remaining")

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop) -> None:
        self.remaining = size
        self.deliveries: list[Delivery] = [Delivery(-1, -1)] * size
        self.failures: dict[int, str] = {}
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def report(self, index: int, err: confluent_kafka.KafkaError | None, msg: Any) -> None:
        if err is None:
            self.deliveries[index] = Delivery(msg.partition(), msg.offset())
        else:
            self.failures[index] = err.str()
        self.remaining -= 1
        if self.remaining == 0:
            self.loop.call_soon_threadsafe(self._finish)

    def _finish(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class ConfluentProducer:
    """Idempotent producer; ``send_batch`` awaits one future per batch."""

    def __init__(self, cluster: Cluster, *, client_id: str = "tsunagu") -> None:
        self._config = {
            **_base_config(cluster, client_id),
            "enable.idempotence": True,
            "acks": "all",
            # A short linger lets librdkafka fill request batches while Python
            # is still handing it records; 5 ms is invisible next to feed latency.
            "linger.ms": 5,
            "compression.type": "lz4",
        }
        self._producer: confluent_kafka.Producer | None = None
        self._poller: threading.Thread | None = None
        self._running = threading.Event()
        self._pending: set[_Batch] = set()

    async def start(self) -> None:
        if self._producer is not None:
            return
        try:
            self._producer = confluent_kafka.Producer(self._config)
        except confluent_kafka.KafkaException as exc:
            raise _translate(exc) from exc
        self._running.set()
        self._poller = threading.Thread(
            target=self._poll_loop, name="tsunagu-producer-poll", daemon=True
        )
        self._poller.start()

    def _poll_loop(self) -> None:
        producer = self._producer
        assert producer is not None
        while self._running.is_set():
            producer.poll(0.05)

    async def stop(self, timeout: float = 10.0) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        self._running.clear()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join)
            self._poller = None
        remaining = await asyncio.to_thread(producer.flush, timeout)
        # Anything still undelivered is failed explicitly so no caller hangs.
        for batch in list(self._pending):
            if not batch.future.done():
                batch.future.set_exception(
                    DeliveryError(f"producer stopped with {remaining} record(s) undelivered")
                )

    async def send_batch(
        self, topic: str, records: Sequence[Outgoing], *, partition: int | None = None
    ) -> list[Delivery]:
        producer = self._producer
        if producer is None:
            raise KafkaError("producer is not started")
        if not records:
            return []
        batch = _Batch(len(records), asyncio.get_running_loop())
        self._pending.add(batch)
        report = batch.report
        produce = producer.produce
        part = -1 if partition is None else partition
        try:
            for index, (key, value, headers) in enumerate(records):
                while True:
                    try:
                        produce(
                            topic,
                            value,
                            key,
                            partition=part,
                            headers=cast(Any, headers),
                            on_delivery=partial(report, index),
                        )
                        break
                    except BufferError:
                        # Local queue full: let the poll thread drain it.
                        await asyncio.sleep(0.005)
            await batch.future
        except confluent_kafka.KafkaException as exc:
            raise _translate(exc) from exc
        finally:
            self._pending.discard(batch)
        if batch.failures:
            first = next(iter(batch.failures.values()))
            raise DeliveryError(
                f"{len(batch.failures)} of {len(records)} record(s) to {topic} not acknowledged: "
                f"{first}",
                retriable=True,
            )
        return batch.deliveries


class ConfluentConsumer:
    """Group consumer with manual commits; blocking calls run in a worker thread."""

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
        self._config = {
            **_base_config(cluster, client_id),
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "isolation.level": "read_committed" if read_committed else "read_uncommitted",
            "session.timeout.ms": 10000,
            "max.poll.interval.ms": 300000,
        }
        self._topics = list(topics)
        self._consumer: confluent_kafka.Consumer | None = None
        # confluent's Consumer is not safe for concurrent calls from two threads.
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        if self._consumer is not None:
            return
        try:
            consumer = confluent_kafka.Consumer(self._config)
            consumer.subscribe(self._topics)
        except confluent_kafka.KafkaException as exc:
            raise _translate(exc) from exc
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
        async with self._lock:
            messages = await asyncio.to_thread(consumer.consume, max_records, timeout)
        out: list[Incoming] = []
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() == confluent_kafka.KafkaError._PARTITION_EOF:
                    continue
                raise _translate(err)
            _, ts = msg.timestamp()
            out.append(
                Incoming(
                    cast(str, msg.topic()),
                    cast(int, msg.partition()),
                    cast(int, msg.offset()),
                    msg.key(),
                    msg.value(),
                    cast(Headers, msg.headers() or []),
                    ts if ts > 0 else None,
                )
            )
        return out

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        consumer = self._consumer
        if consumer is None:
            raise KafkaError("consumer is not started")
        if not offsets:
            return
        parts = [
            confluent_kafka.TopicPartition(tp.topic, tp.partition, off)
            for tp, off in offsets.items()
        ]
        try:
            async with self._lock:
                await asyncio.to_thread(consumer.commit, offsets=parts, asynchronous=False)
        except confluent_kafka.KafkaException as exc:
            raise _translate(exc) from exc

    def assignment(self) -> list[TopicPartition]:
        if self._consumer is None:
            return []
        return [TopicPartition(tp.topic, tp.partition) for tp in self._consumer.assignment()]


class ConfluentAdmin:
    """Topic administration through librdkafka's AdminClient."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._client = AdminClient(_base_config(cluster, "tsunagu-admin"))

    async def ping(self, timeout: float = 5.0) -> None:
        try:
            await asyncio.to_thread(self._client.list_topics, timeout=timeout)
        except confluent_kafka.KafkaException as exc:
            raise KafkaUnavailableError(self._cluster.label, _translate(exc).args[0]) from exc

    async def list_topics(self) -> dict[str, int]:
        try:
            meta = await asyncio.to_thread(self._client.list_topics, timeout=10)
        except confluent_kafka.KafkaException as exc:
            raise KafkaUnavailableError(self._cluster.label, _translate(exc).args[0]) from exc
        return {name: len(t.partitions) for name, t in meta.topics.items()}

    async def create_topics(self, specs: Sequence[TopicSpec]) -> CreateTopicsResult:
        if not specs:
            return CreateTopicsResult([], [])
        new = [
            NewTopic(s.name, s.partitions, s.replication_factor, config=dict(s.config))
            for s in specs
        ]
        futures = self._client.create_topics(new, request_timeout=15)
        created: list[str] = []
        existing: list[str] = []
        failures: list[str] = []
        for spec in specs:
            try:
                await asyncio.wrap_future(futures[spec.name])
                created.append(spec.name)
            except confluent_kafka.KafkaException as exc:
                err = exc.args[0]
                if err.code() == confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS:
                    existing.append(spec.name)
                else:
                    failures.append(f"{spec.name}: {err.str()}")
        if failures:
            raise TopicSetupError("cannot create topics: " + "; ".join(failures), created)
        return CreateTopicsResult(created, existing)

    async def close(self) -> None:
        # AdminClient has no close(); dropping the reference releases it.
        return None


class ConfluentBackend:
    """Factory for confluent-kafka clients."""

    name = "confluent"

    def producer(self, cluster: Cluster, *, client_id: str = "tsunagu") -> ConfluentProducer:
        return ConfluentProducer(cluster, client_id=client_id)

    def consumer(
        self,
        cluster: Cluster,
        group_id: str,
        topics: Sequence[str],
        *,
        from_beginning: bool = True,
        read_committed: bool = False,
        client_id: str = "tsunagu",
    ) -> ConfluentConsumer:
        return ConfluentConsumer(
            cluster,
            group_id,
            topics,
            from_beginning=from_beginning,
            read_committed=read_committed,
            client_id=client_id,
        )

    def admin(self, cluster: Cluster) -> ConfluentAdmin:
        return ConfluentAdmin(cluster)
