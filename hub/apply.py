"""``apply``: create a deployment's topics and register their schemas, refusing incompatible ones.

Only Avro topics' schemas are registered: a topic of NGSI-LD JSON has no subject.

Every schema is checked against its registry before anything is created, so an
incompatible change leaves the clusters untouched; a failure part-way through
topic creation names the topics already created. ``tsunagu up`` instead goes on without
the subjects that refuse their schema (`ApplyReport.incompatible`), so one damaged
subject cannot keep the whole hub, and the API that repairs it, from starting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hub.config import Deployment
from hub.errors import IncompatibleSchemaError
from hub.kafka import Admin, TopicSpec
from hub.registry.binding import bind_topic, subject_topics
from hub.registry.client import RegistryClient
from hub.schemas.catalogue import SchemaCatalogue


@dataclass
class ApplyReport:
    """What ``apply`` did."""

    created_topics: list[str] = field(default_factory=list)
    existing_topics: list[str] = field(default_factory=list)
    registered: dict[str, int] = field(default_factory=dict)
    #: Subjects left unregistered because the registry refuses their schema (by subject).
    incompatible: dict[str, IncompatibleSchemaError] = field(default_factory=dict)


def topic_specs(deployment: Deployment, name: str) -> list[TopicSpec]:
    """The topic and its dead-letter topic as Kafka should have them."""
    topic = deployment.topic(name)
    config: dict[str, str] = {"cleanup.policy": topic.cleanup}
    retention = topic.effective_retention
    if retention is not None:
        config["retention.ms"] = str(int(retention.total_seconds() * 1000))
    dead_letter = TopicSpec(
        deployment.dead_letter_topic(name),
        partitions=1,
        replication_factor=topic.replication_factor,
        config={"cleanup.policy": "delete", "retention.ms": str(14 * 24 * 3600 * 1000)},
    )
    main = TopicSpec(name, topic.partitions, topic.replication_factor, config)
    return [main, dead_letter]


async def apply(
    deployment: Deployment,
    catalogue: SchemaCatalogue,
    admin_for: Callable[[str], Admin],
    registry_for: Callable[[str], RegistryClient],
    *,
    skip_incompatible: bool = False,
) -> ApplyReport:
    """Check every schema, then create topics, then register schemas (per area).

    An incompatible schema raises IncompatibleSchemaError before anything is created; with
    `skip_incompatible` its topic is still created, its subject left as it is and named in
    the report.
    """
    report = ApplyReport()
    # Only Avro topics have a subject: advertising one for a JSON topic would tell
    # consumers to decode its values as Avro.
    bound = {s: bind_topic(deployment, catalogue, t) for s, t in subject_topics(deployment).items()}
    # 1. Compatibility first: nothing is created if any schema would be refused.
    for subject, binding in bound.items():
        registry = registry_for(binding.area)
        reasons = await registry.check_compatibility(subject, binding.entry.text, version=None)
        if reasons:
            level = await registry.get_compatibility(subject)
            refused = IncompatibleSchemaError(subject, str(level), reasons)
            if not skip_incompatible:
                raise refused
            report.incompatible[subject] = refused
    # 2. Topics, area by area (areas may live on different clusters).
    for name, topic in deployment.topics.items():
        result = await admin_for(topic.area).create_topics(topic_specs(deployment, name))
        report.created_topics += result.created
        report.existing_topics += result.existing
    # 3. Schemas.
    for subject, binding in bound.items():
        if subject not in report.incompatible:
            report.registered[subject] = await registry_for(binding.area).register(
                subject, binding.entry.text
            )
    return report
