"""The confluent-kafka admin client: topics and liveness."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from hub.errors import KafkaUnavailableError, TopicSetupError
from hub.kafka.confluent.common import base_config, translate
from hub.kafka.types import (
    Cluster,
    CreateTopicsResult,
    TopicSpec,
)

__all__ = ["ConfluentAdmin"]


class ConfluentAdmin:
    """Topic administration through librdkafka's AdminClient."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._client = AdminClient(base_config(cluster, "tsunagu-admin"))

    async def ping(self, timeout: float = 5.0) -> None:
        try:
            await asyncio.to_thread(self._client.list_topics, timeout=timeout)
        except confluent_kafka.KafkaException as exc:
            raise KafkaUnavailableError(self._cluster.label, translate(exc).args[0]) from exc

    async def list_topics(self) -> dict[str, int]:
        try:
            meta = await asyncio.to_thread(self._client.list_topics, timeout=10)
        except confluent_kafka.KafkaException as exc:
            raise KafkaUnavailableError(self._cluster.label, translate(exc).args[0]) from exc
        return {name: len(t.partitions) for name, t in meta.topics.items()}

    async def create_topics(self, specs: Sequence[TopicSpec]) -> CreateTopicsResult:
        if not specs:
            return CreateTopicsResult([], [])
        new = [
            NewTopic(s.name, s.partitions, s.replication_factor, config=dict(s.config))
            for s in specs
        ]
        futures = self._client.create_topics(new, request_timeout=15)
        created: list[str] = []
        existing: list[str] = []
        failures: list[str] = []
        for spec in specs:
            try:
                await asyncio.wrap_future(futures[spec.name])
                created.append(spec.name)
            except confluent_kafka.KafkaException as exc:
                err = exc.args[0]
                if err.code() == confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS:
                    existing.append(spec.name)
                else:
                    failures.append(f"{spec.name}: {err.str()}")
        if failures:
            raise TopicSetupError("cannot create topics: " + "; ".join(failures), created)
        return CreateTopicsResult(created, existing)

    async def close(self) -> None:
        # AdminClient has no close(); dropping the reference releases it.
        return None
