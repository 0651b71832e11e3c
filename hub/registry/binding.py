"""A topic bound to its schema: the registry subject of its values and the ``Encoder`` that
writes them. The one home of encoding by the registry, beside ``decoding`` (its reading
half), used by ingestion, the gateway's publishing, the bridges, ``apply`` and the schema
checks, so each says the same about which subject a topic has and which id it writes with.

The rule follows the topic's format, as decoding does: an ``avro`` topic's values are
Confluent-framed and its schema lives under the subject ``<topic>-value`` (Confluent's
TopicNameStrategy) in its area's registry; an ``ngsi-ld`` topic's values are JSON
documents, so it has no subject, nothing is registered for it, and its encoder (used only
to check that a record fits the schema) frames with id 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hub.codec import Encoder
from hub.config import Deployment
from hub.errors import SchemaError
from hub.registry.client import RegistryClient
from hub.registry.decoding import TopicFormat
from hub.schemas.catalogue import SchemaCatalogue, SchemaEntry

__all__ = [
    "TopicBinding",
    "bind_topic",
    "bound_encoder",
    "subject_topics",
    "topic_subject",
    "value_subject",
]

# What the frame of an unregistered (NGSI-LD) value would carry: no registry has id 0.
_NO_SCHEMA_ID = 0


def value_subject(topic: str) -> str:
    """The registry subject of a topic's values (Confluent's TopicNameStrategy)."""
    return f"{topic}-value"


def topic_subject(topic: str, value_format: TopicFormat) -> str | None:
    """The value subject of ``topic``, or None for a topic whose values are not registered
    Avro (NGSI-LD JSON): advertising one would tell consumers to decode them as Avro."""
    return value_subject(topic) if value_format == "avro" else None


def subject_topics(deployment: Deployment) -> dict[str, str]:
    """Subject -> topic name, for every topic that has a subject (the Avro ones)."""
    return {
        value_subject(name): name
        for name, topic in deployment.topics.items()
        if topic.format == "avro"
    }


@dataclass(frozen=True)
class TopicBinding:
    """One topic of the deployment with its catalogue schema and the area it lives in."""

    topic: str
    area: str
    format: TopicFormat
    entry: SchemaEntry

    @property
    def subject(self) -> str | None:
        """The value subject, or None for a topic whose values are not registered Avro."""
        return topic_subject(self.topic, self.format)

    async def schema_id(self, registry: RegistryClient, *, may_register: bool = True) -> int:
        """The id the topic's values are framed with: that of the subject's version equal to
        the catalogue schema, registered first when it has none and ``may_register``
        (IncompatibleSchemaError when the subject refuses it; SchemaError when registering
        is not allowed). Looking up first means a part needs write credentials only when
        the subject does not hold the schema yet."""
        subject = self.subject
        if subject is None:
            return _NO_SCHEMA_ID
        schema_id = await registry.lookup(subject, self.entry.text)
        if schema_id is not None:
            return schema_id
        if not may_register:
            raise SchemaError(
                f"{subject} has no version equal to {self.entry.full_name} in "
                f"{registry.base_url}, and it may not be registered here"
            )
        return await registry.register(subject, self.entry.text)

    async def encoder(self, registry: RegistryClient, *, may_register: bool = True) -> Encoder:
        """An encoder of the topic's records, its schema registered as ``schema_id`` says."""
        return Encoder(await self.schema_id(registry, may_register=may_register), self.entry.parsed)


def bind_topic(deployment: Deployment, catalogue: SchemaCatalogue, topic: str) -> TopicBinding:
    """The binding of ``topic``, a topic of the (validated) deployment."""
    spec = deployment.topic(topic)
    return TopicBinding(topic, spec.area, spec.format, catalogue.get(spec.schema_name))


async def bound_encoder(
    deployment: Deployment,
    catalogue: SchemaCatalogue,
    topic: str,
    registry_for: Callable[[str], RegistryClient],
    *,
    may_register: bool = True,
) -> Encoder:
    """The ready encoder of ``topic``, its schema registered in its area's registry."""
    binding = bind_topic(deployment, catalogue, topic)
    return await binding.encoder(registry_for(binding.area), may_register=may_register)
