"""The confluent-kafka group consumer, with manual commits."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import confluent_kafka

from hub.errors import KafkaError
from hub.kafka.confluent.common import base_config, incoming, translate
from hub.kafka.confluent.measure import partition_ends
from hub.kafka.types import (
    Cluster,
    Incoming,
    TopicPartition,
)

__all__ = ["ConfluentConsumer"]


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
        self._base = base_config(cluster, client_id)
        self._config = {
            **self._base,
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
            raise translate(exc) from exc
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
        return incoming(messages)

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
            raise translate(exc) from exc

    def assignment(self) -> list[TopicPartition]:
        if self._consumer is None:
            return []
        return [TopicPartition(tp.topic, tp.partition) for tp in self._consumer.assignment()]

    async def lag(self) -> dict[TopicPartition, int]:
        consumer = self._consumer
        if consumer is None:
            return {}

        def positions() -> list[confluent_kafka.TopicPartition]:
            assigned = consumer.assignment()
            return consumer.position(assigned) if assigned else []

        try:
            async with self._lock:
                held = await asyncio.to_thread(positions)
            by_topic: dict[str, list[int]] = {}
            for tp in held:
                by_topic.setdefault(tp.topic, []).append(tp.partition)
            ends = {
                topic: await asyncio.to_thread(partition_ends, self._base, topic, parts)
                for topic, parts in by_topic.items()
            }
        except confluent_kafka.KafkaException as exc:
            raise translate(exc) from exc
        out: dict[TopicPartition, int] = {}
        for tp in held:
            # Before the first fetch the position is unknown: all of the log is lag.
            position = tp.offset if tp.offset >= 0 else 0
            high = ends[tp.topic][tp.partition][1]
            out[TopicPartition(tp.topic, tp.partition)] = max(0, high - position)
        return out

    def group_metadata(self) -> object:
        """The group's metadata, for committing offsets inside a producer transaction."""
        if self._consumer is None:
            raise KafkaError("consumer is not started")
        return self._consumer.consumer_group_metadata()
