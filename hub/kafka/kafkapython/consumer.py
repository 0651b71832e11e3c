"""The kafka-python group consumer, with manual commits."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import kafka
import kafka.errors
from kafka.structs import OffsetAndMetadata
from kafka.structs import TopicPartition as KTopicPartition

from hub.errors import KafkaError, KafkaUnavailableError
from hub.kafka.kafkapython.common import base_config, incoming, require_reachable, translate
from hub.kafka.kafkapython.measure import partition_ends
from hub.kafka.types import (
    Cluster,
    Incoming,
    TopicPartition,
)

__all__ = ["KafkaPythonConsumer"]


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
        self._base = base_config(cluster, client_id)
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
        await require_reachable(self._cluster)
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
            raise translate(exc) from exc
        return incoming(polled)

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
            raise translate(exc) from exc

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
                topic: partition_ends(self._base, topic, parts) for topic, parts in by_topic.items()
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
            raise translate(exc) from exc

    def group_metadata(self) -> object:
        """No transactions on this backend (``KafkaPythonBackend.transactions``)."""
        raise KafkaError("the kafka-python client does not offer transactions here")
