"""The kafka-python producer: its futures complete on its sender thread and resolve one
asyncio future per batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import kafka
import kafka.errors

from hub.errors import DeliveryError, KafkaError, KafkaUnavailableError
from hub.kafka.kafkapython.common import base_config, require_reachable, translate
from hub.kafka.types import (
    Cluster,
    Delivery,
    Outgoing,
)

__all__ = ["KafkaPythonProducer"]


class _Batch:
    """Collects per-record results on kafka-python's sender thread."""

    __slots__ = ("deliveries", "failures", "future", "loop", "remaining")

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop) -> None:
        self.remaining = size
        self.deliveries: list[Delivery] = [Delivery(-1, -1)] * size
        self.failures: dict[int, str] = {}
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def ok(self, index: int, metadata: Any) -> None:
        self.deliveries[index] = Delivery(metadata.partition, metadata.offset)
        self._done()

    def failed(self, index: int, exc: Exception) -> None:
        self.failures[index] = f"{type(exc).__name__}: {exc}"
        self._done()

    def _done(self) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            self.loop.call_soon_threadsafe(self._finish)

    def _finish(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class KafkaPythonProducer:
    """Idempotent kafka-python producer behind the hub's Producer interface."""

    def __init__(self, cluster: Cluster, *, client_id: str = "tsunagu") -> None:
        self._config = {
            **base_config(cluster, client_id),
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 5,
            "max_block_ms": 30000,
        }
        self._producer: kafka.KafkaProducer | None = None
        self._cluster = cluster

    async def start(self) -> None:
        if self._producer is not None:
            return
        await require_reachable(self._cluster)
        try:
            self._producer = await asyncio.to_thread(kafka.KafkaProducer, **self._config)
        except (kafka.errors.KafkaTimeoutError, kafka.errors.KafkaConnectionError) as exc:
            raise KafkaUnavailableError(self._cluster.label, str(exc)) from exc
        except kafka.errors.KafkaError as exc:
            raise translate(exc) from exc

    async def stop(self, timeout: float = 10.0) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await asyncio.to_thread(producer.close, timeout)

    async def send_batch(
        self, topic: str, records: Sequence[Outgoing], *, partition: int | None = None
    ) -> list[Delivery]:
        producer = self._producer
        if producer is None:
            raise KafkaError("producer is not started")
        if not records:
            return []
        batch = _Batch(len(records), asyncio.get_running_loop())

        def enqueue() -> None:
            for index, (key, value, headers) in enumerate(records):
                future = producer.send(
                    topic, value=value, key=key, headers=headers, partition=partition
                )
                future.add_callback(batch.ok, index)
                future.add_errback(batch.failed, index)

        try:
            await asyncio.to_thread(enqueue)
        except kafka.errors.KafkaError as exc:
            raise translate(exc) from exc
        await batch.future
        if batch.failures:
            first = next(iter(batch.failures.values()))
            raise DeliveryError(
                f"{len(batch.failures)} of {len(records)} record(s) to {topic} not acknowledged: "
                f"{first}",
                retriable=True,
            )
        return batch.deliveries

    async def deliver(
        self, topic: str, records: Sequence[Outgoing], *, partition: int | None = None
    ) -> None:
        # kafka-python's futures carry the metadata anyway: nothing to save by skipping it.
        await self.send_batch(topic, records, partition=partition)
