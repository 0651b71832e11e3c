"""Measuring a topic's partitions with kafka-python: where each ends, and where a time
falls (the logic shared with the confluent backend lives in ``hub.kafka.offsets``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import kafka
import kafka.errors
from kafka.structs import TopicPartition as KTopicPartition

from hub.kafka.offsets import MEASURE_TIMEOUT_S, RecordAt, measured_ends, offsets_at

__all__ = ["offsets_at_time", "partition_ends"]


class _EndProbe:
    """`hub.kafka.offsets.EndProbe` on a fresh kafka-python consumer."""

    def __init__(self, consumer: kafka.KafkaConsumer, topic: str) -> None:
        self.consumer = consumer
        self.topic = topic

    def listed(self, partitions: Sequence[int]) -> dict[int, tuple[int, int]]:
        tps = [KTopicPartition(self.topic, p) for p in partitions]
        lows = self.consumer.beginning_offsets(tps)
        highs = self.consumer.end_offsets(tps)
        return {tp.partition: (lows[tp], highs[tp]) for tp in tps}

    def fetch_from(self, positions: Mapping[int, int]) -> None:
        tps = {p: KTopicPartition(self.topic, p) for p in positions}
        self.consumer.assign(list(tps.values()))
        for p, at in positions.items():
            self.consumer.seek(tps[p], at)

    def poll(self) -> None:
        self.consumer.poll(timeout_ms=50, max_records=500)

    def high_watermark(self, partition: int) -> int | None:
        fetched: int | None = self.consumer.highwater(KTopicPartition(self.topic, partition))
        return fetched


def partition_ends(
    config: Mapping[str, Any], topic: str, partitions: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """Per partition, (first retained offset, end offset), blocking: run it in a thread."""
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
        return measured_ends(_EndProbe(consumer, topic), partitions)
    finally:
        consumer.close()


def offsets_at_time(
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
            deadline = time.monotonic() + MEASURE_TIMEOUT_S
            while time.monotonic() < deadline:
                for record in consumer.poll(timeout_ms=100, max_records=1).get(tp, []):
                    return int(record.offset), int(record.timestamp)
                end = consumer.highwater(tp)
                if end is not None and consumer.position(tp) >= end:
                    return None
            return None

        return record_at

    try:
        return offsets_at(probe, timestamp_ms, marks, hints)
    finally:
        consumer.close()
