"""The kafka-python admin client: topics and liveness."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import kafka
import kafka.errors
from kafka.admin import KafkaAdminClient, NewTopic

from hub.errors import KafkaUnavailableError, TopicSetupError
from hub.kafka.kafkapython.common import base_config, require_reachable
from hub.kafka.types import (
    Cluster,
    CreateTopicsResult,
    TopicSpec,
)

__all__ = ["KafkaPythonAdmin"]


class KafkaPythonAdmin:
    """Topic administration through kafka-python's KafkaAdminClient."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._client: KafkaAdminClient | None = None

    async def _admin(self) -> KafkaAdminClient:
        if self._client is None:
            await require_reachable(self._cluster)
            try:
                self._client = await asyncio.to_thread(
                    KafkaAdminClient, **base_config(self._cluster, "tsunagu-admin")
                )
            except kafka.errors.KafkaError as exc:
                raise KafkaUnavailableError(self._cluster.label, str(exc)) from exc
        return self._client

    async def ping(self, timeout: float = 5.0) -> None:
        client = await self._admin()
        try:
            await asyncio.wait_for(asyncio.to_thread(client.list_topics), timeout)
        except (TimeoutError, kafka.errors.KafkaError) as exc:
            raise KafkaUnavailableError(self._cluster.label, repr(exc)) from exc

    async def list_topics(self) -> dict[str, int]:
        client = await self._admin()
        described = await asyncio.to_thread(client.describe_topics)
        return {t.get("name") or t["topic"]: len(t["partitions"]) for t in described}

    async def create_topics(self, specs: Sequence[TopicSpec]) -> CreateTopicsResult:
        client = await self._admin()
        created: list[str] = []
        existing: list[str] = []
        for spec in specs:
            topic = NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=spec.replication_factor,
                topic_configs=dict(spec.config),
            )
            try:
                await asyncio.to_thread(client.create_topics, [topic], timeout_ms=15000)
                created.append(spec.name)
            except kafka.errors.TopicAlreadyExistsError:
                existing.append(spec.name)
            except kafka.errors.KafkaError as exc:
                raise TopicSetupError(f"cannot create topic {spec.name}: {exc}", created) from exc
        return CreateTopicsResult(created, existing)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)
