"""The confluent-kafka backend's entry in the backend table."""

from __future__ import annotations

from collections.abc import Sequence

from hub.kafka.confluent.admin import ConfluentAdmin
from hub.kafka.confluent.consumer import ConfluentConsumer
from hub.kafka.confluent.producer import ConfluentProducer
from hub.kafka.confluent.reader import ConfluentReader
from hub.kafka.confluent.transactions import ConfluentTransactionalProducer
from hub.kafka.types import Cluster

__all__ = ["ConfluentBackend"]


class ConfluentBackend:
    """Factory for confluent-kafka clients."""

    name = "confluent"
    transactions = True

    def producer(self, cluster: Cluster, *, client_id: str = "tsunagu") -> ConfluentProducer:
        return ConfluentProducer(cluster, client_id=client_id)

    def consumer(
        self,
        cluster: Cluster,
        group_id: str,
        topics: Sequence[str],
        *,
        from_beginning: bool = True,
        read_committed: bool = False,
        client_id: str = "tsunagu",
    ) -> ConfluentConsumer:
        return ConfluentConsumer(
            cluster,
            group_id,
            topics,
            from_beginning=from_beginning,
            read_committed=read_committed,
            client_id=client_id,
        )

    def admin(self, cluster: Cluster) -> ConfluentAdmin:
        return ConfluentAdmin(cluster)

    def reader(self, cluster: Cluster, topic: str) -> ConfluentReader:
        return ConfluentReader(cluster, topic)

    def transactional_producer(
        self, cluster: Cluster, transactional_id: str
    ) -> ConfluentTransactionalProducer:
        return ConfluentTransactionalProducer(cluster, transactional_id)
