"""The small interface the rest of the hub uses for Kafka, whatever the client library.

Backends (confluent-kafka by default, kafka-python optionally) implement these
protocols and translate their library's exceptions into ``hub.errors`` types.
Producing is awaited per batch, not per record: that is what keeps asyncio
callers within a small factor of a raw librdkafka loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from hub.kafka.types import (
    Cluster,
    CreateTopicsResult,
    Delivery,
    Incoming,
    Outgoing,
    TopicPartition,
    TopicSpec,
)


class Producer(Protocol):
    """An idempotent producer whose sends complete when Kafka acknowledged them."""

    async def start(self) -> None:
        """Connect; idempotent."""

    async def stop(self, timeout: float = 10.0) -> None:
        """Deliver what is in flight (bounded by ``timeout``) and disconnect; idempotent."""

    async def send_batch(
        self, topic: str, records: Sequence[Outgoing], *, partition: int | None = None
    ) -> list[Delivery]:
        """Produce ``records`` to ``topic`` and wait until all are acknowledged.

        Returns one Delivery per record, in input order. Raises
        ``hub.errors.DeliveryError`` naming the failed indices when any record
        was not acknowledged (the others may have been).
        """
        ...

    async def deliver(
        self, topic: str, records: Sequence[Outgoing], *, partition: int | None = None
    ) -> None:
        """Produce ``records`` and wait until all are acknowledged, without their offsets.

        The path for ingest and bridges, which need the acknowledgement but not where each
        record landed: skipping the per-record bookkeeping is what keeps the interface
        close to a raw librdkafka loop. Raises ``DeliveryError`` like ``send_batch``.
        """


class Consumer(Protocol):
    """A group member that commits only what the caller says it has processed."""

    async def start(self) -> None:
        """Join the group and subscribe; idempotent."""

    async def stop(self) -> None:
        """Leave the group; idempotent. Uncommitted records will be re-delivered."""

    async def get_batch(self, max_records: int = 500, timeout: float = 1.0) -> list[Incoming]:
        """Wait up to ``timeout`` seconds for records; an empty list when none came."""
        ...

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit ``offsets`` (the next offset to read per partition), synchronously."""

    def assignment(self) -> list[TopicPartition]:
        """The partitions this member currently owns."""
        ...

    async def lag(self) -> dict[TopicPartition, int]:
        """Records not yet consumed, per owned partition (high watermark minus position)."""
        ...

    def group_metadata(self) -> object:
        """What a transaction commits this member's offsets under (the group's generation,
        so a zombie that lost its partitions is fenced, KIP-447). ``KafkaError`` when the
        backend offers no transactions."""
        ...


class TransactionalProducer(Protocol):
    """Records and a consumer's offsets committed together, within one cluster: either the
    records become visible to read_committed consumers with the offsets, or neither does."""

    async def start(self) -> None:
        """Connect and initialise transactions (fencing an earlier holder of the id)."""

    async def stop(self) -> None:
        """Deliver what is in flight and disconnect; idempotent."""

    async def send_with_offsets(
        self,
        batches: Sequence[tuple[str, Sequence[Outgoing]]],
        offsets: Mapping[TopicPartition, int],
        group_metadata: object,
    ) -> None:
        """Produce every (topic, records) batch and commit ``offsets`` (the next offset to
        read per partition, for the group of ``group_metadata``) in one transaction."""


class Reader(Protocol):
    """A group-less reader of one topic: explicit partitions and offsets, nothing committed."""

    topic: str

    async def partitions(self) -> list[int]:
        """The topic's partition numbers."""
        ...

    async def watermarks(self) -> dict[int, tuple[int, int]]:
        """Per partition, (first retained offset, end offset).

        The end is the offset the next record produced will get, as the high watermark of
        a fetch response says: some brokers (the embedded one) answer ListOffsets(LATEST)
        wrongly, so backends must not take the end from it alone.
        """
        ...

    async def offsets_for_time(self, timestamp_ms: int) -> dict[int, int]:
        """Per partition, the first offset at or after ``timestamp_ms``."""
        ...

    async def assign(self, positions: Mapping[int, int]) -> None:
        """Read partition p from offset positions[p]."""

    async def get_batch(self, max_records: int = 500, timeout: float = 0.5) -> list[Incoming]:
        """Records of the assigned partitions, [] after ``timeout`` seconds."""
        ...

    async def close(self) -> None:
        """Release the connection."""


class Admin(Protocol):
    """Cluster administration the hub needs: topics and liveness."""

    async def ping(self, timeout: float = 5.0) -> None:
        """Raise ``KafkaUnavailableError`` unless a broker answers within ``timeout``."""

    async def create_topics(self, specs: Sequence[TopicSpec]) -> CreateTopicsResult:
        """Create what does not exist yet; existing topics are reported, not errors."""
        ...

    async def list_topics(self) -> dict[str, int]:
        """Topic name to partition count."""
        ...

    async def close(self) -> None:
        """Release connections."""


class Backend(Protocol):
    """A Kafka client library behind the hub's interface."""

    name: str
    #: Whether `transactional_producer` and `Consumer.group_metadata` work here.
    transactions: bool

    def producer(self, cluster: Cluster, *, client_id: str = "tsunagu") -> Producer:
        """A new, unstarted idempotent producer."""
        ...

    def consumer(
        self,
        cluster: Cluster,
        group_id: str,
        topics: Sequence[str],
        *,
        from_beginning: bool = True,
        read_committed: bool = False,
        client_id: str = "tsunagu",
    ) -> Consumer:
        """A new, unstarted consumer subscribed to ``topics`` in ``group_id``."""
        ...

    def admin(self, cluster: Cluster) -> Admin:
        """An admin client."""
        ...

    def reader(self, cluster: Cluster, topic: str) -> Reader:
        """A group-less reader of ``topic``."""
        ...

    def transactional_producer(
        self, cluster: Cluster, transactional_id: str
    ) -> TransactionalProducer:
        """A new, unstarted transactional producer; ``KafkaError`` when the client offers
        no transactions (``transactions`` is false)."""
        ...
