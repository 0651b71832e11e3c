"""The shared vocabulary of Kafka access: clusters, records, deliveries, topic specs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

#: Kafka headers as the hub passes them around: ordered (name, bytes) pairs.
Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Cluster:
    """How to reach one Kafka cluster, in librdkafka property names.

    ``properties`` holds security settings already resolved from environment
    variables (``security.protocol``, ``sasl.*``, ``ssl.*``); backends translate
    them into their own option names.
    """

    bootstrap_servers: str
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """A short name for logs and metrics (never contains secrets)."""
        return self.bootstrap_servers


class Outgoing(NamedTuple):
    """One record to produce; the topic is given per batch."""

    key: bytes | None
    value: bytes | None
    headers: Headers | None = None


class Delivery(NamedTuple):
    """Where Kafka stored an acknowledged record."""

    partition: int
    offset: int


class Incoming(NamedTuple):
    """One consumed record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp_ms: int | None


class TopicPartition(NamedTuple):
    """A partition of a topic."""

    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic as ``apply`` wants it: partitions, replication and topic configs."""

    name: str
    partitions: int = 1
    replication_factor: int = 1
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CreateTopicsResult:
    """What ``create_topics`` did; existing topics are not an error (idempotent)."""

    created: list[str]
    existing: list[str]
