"""Measuring a topic's partitions with kafka-python: where each ends, and where a time
falls (the logic shared with the confluent backend lives in ``hub.kafka.offsets``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import kafka
import kafka.errors
from kafka.structs import TopicPartition as KTopicPartition

from hub.kafka.offsets import RecordAt, first_offset_at_or_after

__all__ = ["offsets_at_time", "partition_ends"]


# How long a measurement waits for the fetch responses that carry the high watermarks.
_MEASURE_TIMEOUT_S = 10.0


def partition_ends(
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
