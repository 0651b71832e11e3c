"""The kafka-python group-less reader of one topic (assign and seek; nothing committed)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import kafka
import kafka.errors
from kafka.structs import TopicPartition as KTopicPartition

from hub.errors import KafkaError
from hub.kafka.kafkapython.common import base_config, incoming, require_reachable, translate
from hub.kafka.kafkapython.measure import offsets_at_time, partition_ends
from hub.kafka.types import (
    Cluster,
    Incoming,
)

__all__ = ["KafkaPythonReader"]


class KafkaPythonReader:
    """Group-less reader of one topic (assign and seek; nothing committed)."""

    def __init__(self, cluster: Cluster, topic: str, *, client_id: str = "tsunagu-reader") -> None:
        self.topic = topic
        self._cluster = cluster
        self._config = {
            **base_config(cluster, client_id),
            "group_id": None,
            "enable_auto_commit": False,
        }
        self._consumer: kafka.KafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def _client(self) -> kafka.KafkaConsumer:
        if self._consumer is None:
            await require_reachable(self._cluster)
            self._consumer = await asyncio.to_thread(kafka.KafkaConsumer, **self._config)
        return self._consumer

    async def _call(self, function: Any, *args: Any) -> Any:
        consumer = await self._client()
        try:
            async with self._lock:
                return await asyncio.to_thread(function, consumer, *args)
        except kafka.errors.KafkaError as exc:
            raise translate(exc) from exc

    async def partitions(self) -> list[int]:
        found = await self._call(lambda c: c.partitions_for_topic(self.topic))
        if not found:
            raise KafkaError(f"topic {self.topic} does not exist")
        return sorted(found)

    async def watermarks(self) -> dict[int, tuple[int, int]]:
        parts = await self.partitions()
        config = {**base_config(self._cluster, "tsunagu-measure")}
        try:
            # Measured by a client of its own: this reader's assignment stays as it is.
            return await asyncio.to_thread(partition_ends, config, self.topic, parts)
        except kafka.errors.KafkaError as exc:
            raise translate(exc) from exc

    async def offsets_for_time(self, timestamp_ms: int) -> dict[int, int]:
        tps = [KTopicPartition(self.topic, p) for p in await self.partitions()]
        found = await self._call(lambda c: c.offsets_for_times(dict.fromkeys(tps, timestamp_ms)))
        marks = await self.watermarks()
        # None: the broker knows no record that recent, so the end (checked like any answer).
        hints = {
            tp.partition: found[tp].offset if found.get(tp) is not None else marks[tp.partition][1]
            for tp in tps
        }
        config = base_config(self._cluster, "tsunagu-measure")
        try:
            return await asyncio.to_thread(
                offsets_at_time, config, self.topic, timestamp_ms, marks, hints
            )
        except kafka.errors.KafkaError as exc:
            raise translate(exc) from exc

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
        return incoming(polled)

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            async with self._lock:
                await asyncio.to_thread(consumer.close)
