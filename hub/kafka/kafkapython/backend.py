"""The kafka-python backend's entry in the backend table."""

from __future__ import annotations

from collections.abc import Sequence

from hub.errors import KafkaError
from hub.kafka.api import TransactionalProducer
from hub.kafka.kafkapython.admin import KafkaPythonAdmin
from hub.kafka.kafkapython.consumer import KafkaPythonConsumer
from hub.kafka.kafkapython.producer import KafkaPythonProducer
from hub.kafka.kafkapython.reader import KafkaPythonReader
from hub.kafka.types import Cluster

__all__ = ["KafkaPythonBackend"]


class KafkaPythonBackend:
    """Factory for kafka-python clients."""

    name = "kafka-python"
    # Not wired up here: exactly-once bridges run on the confluent backend.
    transactions = False

    def producer(self, cluster: Cluster, *, client_id: str = "tsunagu") -> KafkaPythonProducer:
        return KafkaPythonProducer(cluster, client_id=client_id)

    def consumer(
        self,
        cluster: Cluster,
        group_id: str,
        topics: Sequence[str],
        *,
        from_beginning: bool = True,
        read_committed: bool = False,
        client_id: str = "tsunagu",
    ) -> KafkaPythonConsumer:
        return KafkaPythonConsumer(
            cluster,
            group_id,
            topics,
            from_beginning=from_beginning,
            read_committed=read_committed,
            client_id=client_id,
        )

    def reader(self, cluster: Cluster, topic: str) -> KafkaPythonReader:
        return KafkaPythonReader(cluster, topic)

    def admin(self, cluster: Cluster) -> KafkaPythonAdmin:
        return KafkaPythonAdmin(cluster)

    def transactional_producer(
        self, cluster: Cluster, transactional_id: str
    ) -> TransactionalProducer:
        raise KafkaError(
            "the kafka-python client does not offer transactions here; use kafka_client: confluent"
        )
