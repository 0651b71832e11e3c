"""Exactly-once within one cluster: records and the consumer's offsets in one Kafka transaction.

Used by bridges whose source and target topics live on the same cluster: either the
converted records become visible to read_committed consumers together with the
source offsets, or neither does. The consumer group's metadata fences a zombie
process that lost its partitions (KIP-447), so a random transactional id per
process is enough.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, cast

import confluent_kafka

from hub.errors import DeliveryError
from hub.kafka.confluent.common import base_config, translate
from hub.kafka.types import Cluster, Outgoing, TopicPartition

__all__ = ["ConfluentTransactionalProducer"]

_TRANSACTION_TIMEOUT_MS = 10_000


class ConfluentTransactionalProducer:
    """Produces batches inside transactions that also commit consumer offsets."""

    def __init__(self, cluster: Cluster, transactional_id: str, *, timeout: float = 30.0) -> None:
        self._config = {
            **base_config(cluster, transactional_id),
            "transactional.id": transactional_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            # A process killed inside a transaction leaves it open, and read_committed
            # consumers wait at it until the broker aborts it after this long (default 60 s);
            # a bridge's transactions take milliseconds.
            "transaction.timeout.ms": _TRANSACTION_TIMEOUT_MS,
        }
        self._timeout = timeout
        self._producer: confluent_kafka.Producer | None = None

    async def start(self) -> None:
        if self._producer is not None:
            return
        producer = confluent_kafka.Producer(self._config)
        try:
            await asyncio.to_thread(producer.init_transactions, self._timeout)
        except confluent_kafka.KafkaException as exc:
            raise translate(exc) from exc
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await asyncio.to_thread(producer.flush, self._timeout)

    async def send_with_offsets(
        self,
        batches: Sequence[tuple[str, Sequence[Outgoing]]],
        offsets: Mapping[TopicPartition, int],
        group_metadata: object,
    ) -> None:
        """Produce every (topic, records) batch and commit ``offsets`` atomically."""
        producer = self._producer
        if producer is None:
            raise DeliveryError("transactional producer is not started")
        await asyncio.to_thread(self._transaction, producer, batches, offsets, group_metadata)

    def _transaction(
        self,
        producer: confluent_kafka.Producer,
        batches: Sequence[tuple[str, Sequence[Outgoing]]],
        offsets: Mapping[TopicPartition, int],
        group_metadata: object,
    ) -> None:
        failures: list[str] = []

        def report(err: confluent_kafka.KafkaError | None, _msg: Any) -> None:
            if err is not None:
                failures.append(err.str())

        producer.begin_transaction()
        try:
            for topic, records in batches:
                for key, value, headers in records:
                    while True:
                        try:
                            producer.produce(
                                topic, value, key, headers=cast(Any, headers), on_delivery=report
                            )
                            break
                        except BufferError:
                            producer.poll(0.05)
            producer.send_offsets_to_transaction(
                [
                    confluent_kafka.TopicPartition(tp.topic, tp.partition, offset)
                    for tp, offset in offsets.items()
                ],
                group_metadata,
                self._timeout,
            )
            producer.commit_transaction(self._timeout)
            producer.poll(0)  # serve the delivery reports the commit flushed
        except confluent_kafka.KafkaException as exc:
            error = exc.args[0]
            if isinstance(error, confluent_kafka.KafkaError) and error.txn_requires_abort():
                producer.abort_transaction(self._timeout)
            raise translate(exc) from exc
        if failures:
            raise DeliveryError(f"transaction committed with failed records: {failures[0]}")
