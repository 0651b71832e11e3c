"""A group-less reader: explicit partitions and offsets, for gateways that replay and tail.

Consumer groups share partitions between members; a gateway instead wants every
partition of a topic from positions it chooses (a subscriber's resume token, a
timestamp, the end), so it assigns them itself and commits nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

import confluent_kafka

from hub.errors import KafkaError
from hub.kafka.confluent_common import base_config, incoming, translate
from hub.kafka.offsets import RecordAt, first_offset_at_or_after
from hub.kafka.types import Cluster, Incoming

__all__ = ["ConfluentReader", "partition_ends"]

# How long a measurement waits for the fetch responses that carry the high watermarks.
_MEASURE_TIMEOUT_S = 10.0


def partition_ends(
    config: Mapping[str, Any], topic: str, partitions: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """Per partition, (first retained offset, end offset), blocking: run it in a thread.

    ListOffsets(LATEST) alone is not enough: the embedded broker (tansu 0.6) answers it
    with one past the first offset of the partition's last batch (1 for 650 records sent
    as one batch). Every broker gets the high watermark of its fetch responses right, so
    this takes ListOffsets as a hint and fetches once from just before it: from the last
    batch on tansu, from the end on Kafka (an empty answer carrying the high watermark).
    A fresh client each time, so a high watermark cached from an earlier fetch can never
    stand in for the one measured now.
    """
    consumer = _measuring_consumer(config)
    try:
        hints: dict[int, tuple[int, int]] = {}
        for p in partitions:
            tp = confluent_kafka.TopicPartition(topic, p)
            hints[p] = consumer.get_watermark_offsets(tp, timeout=10, cached=False)
        consumer.assign(
            [
                confluent_kafka.TopicPartition(topic, p, max(low, high - 1))
                for p, (low, high) in hints.items()
            ]
        )
        ends: dict[int, tuple[int, int]] = {}
        deadline = time.monotonic() + _MEASURE_TIMEOUT_S
        while len(ends) < len(hints) and time.monotonic() < deadline:
            consumer.consume(500, 0.05)  # the records are not wanted, only the responses
            for p, (low, high) in hints.items():
                if p in ends:
                    continue
                tp = confluent_kafka.TopicPartition(topic, p)
                _, fetched = consumer.get_watermark_offsets(tp, cached=True)
                if fetched >= 0:  # a fetch response for p has arrived
                    ends[p] = (low, max(high, fetched))
        # A partition whose fetch never answered keeps the broker's ListOffsets figure.
        return {p: ends.get(p, hints[p]) for p in partitions}
    finally:
        consumer.close()


def _measuring_consumer(config: Mapping[str, Any]) -> confluent_kafka.Consumer:
    return confluent_kafka.Consumer(
        {
            **config,
            "group.id": "tsunagu-measure-unused",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            # One batch per partition is all a measurement needs to receive.
            "max.partition.fetch.bytes": 1,
            "fetch.wait.max.ms": 10,
        }
    )


def _record_at(consumer: confluent_kafka.Consumer, topic: str, partition: int) -> RecordAt:
    """A probe: the first record of ``partition`` at or after an offset (blocking)."""

    def record_at(offset: int) -> tuple[int, int] | None:
        consumer.assign([confluent_kafka.TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + _MEASURE_TIMEOUT_S
        while time.monotonic() < deadline:
            for message in consumer.consume(1, 0.1):
                error = message.error()
                if error is None:
                    return cast(int, message.offset()), message.timestamp()[1]
                if error.code() == confluent_kafka.KafkaError._PARTITION_EOF:
                    return None
                raise confluent_kafka.KafkaException(error)
        return None

    return record_at


def offsets_at_time(
    config: Mapping[str, Any],
    topic: str,
    timestamp_ms: int,
    marks: Mapping[int, tuple[int, int]],
    hints: Mapping[int, int],
) -> dict[int, int]:
    """Per partition, the first offset at or after ``timestamp_ms``, the broker's answer
    (``hints``) checked and searched for when wrong (blocking: run it in a thread)."""
    consumer = _measuring_consumer(config)
    try:
        return {
            p: first_offset_at_or_after(
                _record_at(consumer, topic, p), low, end, timestamp_ms, hints.get(p)
            )
            for p, (low, end) in marks.items()
        }
    finally:
        consumer.close()


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
