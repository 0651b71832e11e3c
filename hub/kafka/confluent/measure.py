"""Measuring a topic's partitions with confluent-kafka: where each ends, and where a time
falls (the logic, shared with the kafka-python backend, is ``hub.kafka.offsets``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

import confluent_kafka

from hub.kafka.offsets import MEASURE_TIMEOUT_S, RecordAt, measured_ends, offsets_at

__all__ = ["offsets_at_time", "partition_ends"]


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


class _EndProbe:
    """`hub.kafka.offsets.EndProbe` on a fresh librdkafka consumer."""

    def __init__(self, consumer: confluent_kafka.Consumer, topic: str) -> None:
        self.consumer = consumer
        self.topic = topic

    def listed(self, partitions: Sequence[int]) -> dict[int, tuple[int, int]]:
        return {
            p: self.consumer.get_watermark_offsets(
                confluent_kafka.TopicPartition(self.topic, p), timeout=10, cached=False
            )
            for p in partitions
        }

    def fetch_from(self, positions: Mapping[int, int]) -> None:
        self.consumer.assign(
            [confluent_kafka.TopicPartition(self.topic, p, at) for p, at in positions.items()]
        )

    def poll(self) -> None:
        self.consumer.consume(500, 0.05)

    def high_watermark(self, partition: int) -> int | None:
        tp = confluent_kafka.TopicPartition(self.topic, partition)
        _, fetched = self.consumer.get_watermark_offsets(tp, cached=True)
        return fetched if fetched >= 0 else None


def partition_ends(
    config: Mapping[str, Any], topic: str, partitions: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """Per partition, (first retained offset, end offset), blocking: run it in a thread."""
    consumer = _measuring_consumer(config)
    try:
        return measured_ends(_EndProbe(consumer, topic), partitions)
    finally:
        consumer.close()


def _record_at(consumer: confluent_kafka.Consumer, topic: str, partition: int) -> RecordAt:
    """A probe: the first record of ``partition`` at or after an offset (blocking)."""

    def record_at(offset: int) -> tuple[int, int] | None:
        consumer.assign([confluent_kafka.TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + MEASURE_TIMEOUT_S
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
        return offsets_at(lambda p: _record_at(consumer, topic, p), timestamp_ms, marks, hints)
    finally:
        consumer.close()
