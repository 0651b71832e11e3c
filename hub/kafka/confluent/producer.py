"""The confluent-kafka producer behind the hub's ``Producer`` interface.

Two librdkafka producers share the work, because the price of a delivery report
is a Python call per record:

- ``deliver`` (ingest, bridges: acknowledgement needed, offsets not) uses *group
  commit*. Successful deliveries raise no Python callback at all
  (``delivery.report.only.error``); every caller that produces while no group is
  in flight joins the open group, the group is then sealed, and it is complete
  when librdkafka's outstanding-message count drops to zero. Callers produce
  only while no group is in flight, so the count reaching zero means exactly
  "this group is acknowledged", and every error report belongs to that group.
  Concurrent callers share one wait instead of queueing behind each other.
- ``send_batch`` (HTTP publish: the caller answers with offsets) keeps a
  per-record delivery callback on a second producer, started on first use.

Each has a module of its own (``group_commit``, ``per_record``); this one puts them
behind the interface.

Both are idempotent with acks=all. Delivery reports are served by one poll
thread per librdkafka producer; the event loop is woken once per group or batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from hub.errors import KafkaError
from hub.kafka.confluent.common import base_config
from hub.kafka.confluent.group_commit import GroupCommitProducer
from hub.kafka.confluent.per_record import PerRecordProducer
from hub.kafka.types import Cluster, Delivery, Outgoing

__all__ = ["ConfluentProducer"]


def _producer_config(cluster: Cluster, client_id: str) -> dict[str, Any]:
    return {
        **base_config(cluster, client_id),
        "enable.idempotence": True,
        "acks": "all",
        # A short linger lets librdkafka fill request batches while Python is still
        # handing it records; 5 ms is invisible next to feed latency.
        "linger.ms": 5,
        "compression.type": "lz4",
        # Java's partitioner, so keys land where every other Kafka client puts them and
        # compaction keeps one latest value per key whoever produced it.
        "partitioner": "murmur2_random",
    }


class ConfluentProducer:
    """Idempotent producer: ``deliver`` by group commit, ``send_batch`` with offsets."""

    def __init__(self, cluster: Cluster, *, client_id: str = "tsunagu") -> None:
        config = _producer_config(cluster, client_id)
        self._groups = GroupCommitProducer(config)
        # send_batch answers a waiting HTTP client: a 1 ms linger trades a little batching
        # for latency (ingestion's group commit keeps 5 ms).
        self._offsets = PerRecordProducer({**config, "linger.ms": 1})
        self._started = False

    async def start(self) -> None:
        await self._groups.start()
        self._started = True

    async def stop(self, timeout: float = 10.0) -> None:
        self._started = False
        await asyncio.gather(self._groups.stop(timeout), self._offsets.stop(timeout))

    async def deliver(
        self, topic: str, records: Sequence[Outgoing], *, partition: int | None = None
    ) -> None:
        if records:
            await self._groups.deliver(topic, records, partition)

    async def send_batch(
        self, topic: str, records: Sequence[Outgoing], *, partition: int | None = None
    ) -> list[Delivery]:
        if not self._started:
            raise KafkaError("producer is not started")
        if not records:
            return []
        await self._offsets.start()  # on first use: ingest-only processes never open it
        return await self._offsets.send_batch(topic, records, partition)
