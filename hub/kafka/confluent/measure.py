"""Measuring a topic's partitions with confluent-kafka: where each ends, and where a time
falls (the logic shared with the kafka-python backend lives in ``hub.kafka.offsets``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

import confluent_kafka

from hub.kafka.offsets import RecordAt, first_offset_at_or_after

__all__ = ["offsets_at_time", "partition_ends"]


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
