"""A group-less reader: explicit partitions and offsets, for gateways that replay and tail.

Consumer groups share partitions between members; a gateway instead wants every
partition of a topic from positions it chooses (a subscriber's resume token, a
timestamp, the end), so it assigns them itself and commits nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import confluent_kafka

from hub.errors import KafkaError
from hub.kafka.confluent.common import base_config, incoming, translate
from hub.kafka.confluent.measure import offsets_at_time, partition_ends
from hub.kafka.types import Cluster, Incoming

__all__ = ["ConfluentReader"]


class ConfluentReader:
    """Reads chosen partitions of one topic from chosen offsets."""

    def __init__(self, cluster: Cluster, topic: str, *, client_id: str = "tsunagu-reader") -> None:
        self.topic = topic
        self._config = base_config(cluster, client_id)
        self._consumer = confluent_kafka.Consumer(
            {
                **base_config(cluster, client_id),
                # A group id is required by librdkafka, but nothing joins or commits.
                "group.id": f"{client_id}-unused",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                # Readers feed live subscribers: ask the broker not to sit on a fetch
                # waiting for more data (the default is half a second; 10 ms keeps the
                # fan-out's p99 under 250 ms at the cost of more idle fetches).
                "fetch.wait.max.ms": 10,
                # Prefetch at most 8 MiB and 10,000 messages per partition (librdkafka's
                # defaults are 64 MiB and 100,000, and each queued message costs a few
                # hundred bytes beyond its payload): a gateway holds a reader per topic it
                # serves, and the latest state's budget is meant to bound what a topic costs.
                "queued.max.messages.kbytes": 8192,
                "queued.min.messages": 10_000,
                # One fetch answer of at most 4 MiB (librdkafka's default is 50 MiB).
                "fetch.max.bytes": 4 * 1024 * 1024,
            }
        )
        self._lock = asyncio.Lock()

    async def partitions(self) -> list[int]:
        """The topic's partition numbers."""
        try:
            async with self._lock:
                metadata = await asyncio.to_thread(self._consumer.list_topics, self.topic, 10)
        except confluent_kafka.KafkaException as exc:
            raise translate(exc) from exc
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None:
            raise KafkaError(f"topic {self.topic} does not exist")
        return sorted(topic.partitions)

    async def watermarks(self) -> dict[int, tuple[int, int]]:
        """Per partition, (first retained offset, end offset)."""
        parts = await self.partitions()
        try:
            # Measured by a client of its own: this reader's assignment stays as it is.
            return await asyncio.to_thread(partition_ends, self._config, self.topic, parts)
        except confluent_kafka.KafkaException as exc:
            raise translate(exc) from exc

    async def offsets_for_time(self, timestamp_ms: int) -> dict[int, int]:
        """Per partition, the first offset at or after ``timestamp_ms`` (the end if none)."""
        parts = await self.partitions()
        query = [confluent_kafka.TopicPartition(self.topic, p, timestamp_ms) for p in parts]
        try:
            async with self._lock:
                found = await asyncio.to_thread(self._consumer.offsets_for_times, query, 10)
        except confluent_kafka.KafkaException as exc:
            raise translate(exc) from exc
        marks = await self.watermarks()
        # -1: the broker knows no record that recent, so the end (checked like any answer).
        hints = {
            tp.partition: tp.offset if tp.offset >= 0 else marks[tp.partition][1] for tp in found
        }
        try:
            return await asyncio.to_thread(
                offsets_at_time, self._config, self.topic, timestamp_ms, marks, hints
            )
        except confluent_kafka.KafkaException as exc:
            raise translate(exc) from exc

    async def assign(self, positions: Mapping[int, int]) -> None:
        """Read partition p from offset positions[p] (replacing any earlier assignment)."""
        parts = [confluent_kafka.TopicPartition(self.topic, p, o) for p, o in positions.items()]
        async with self._lock:
            await asyncio.to_thread(self._consumer.assign, parts)

    async def get_batch(self, max_records: int = 500, timeout: float = 0.5) -> list[Incoming]:
        """Records from the assigned partitions, or [] after ``timeout`` seconds."""
        async with self._lock:
            messages = await asyncio.to_thread(self._consumer.consume, max_records, timeout)
        return incoming(messages)

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._consumer.close)
