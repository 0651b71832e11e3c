"""Rules that relate one part of topics.yaml to another: references between areas, topics,
schemas, feeds and bridges, and the topic naming convention.

They run on whatever parts of the file are valid, so a typo in one topic does not hide a
dangling reference in another; names declared but invalid still count as declared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher, get_close_matches
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from hub.config.model import Deployment, Feed, KafkaCluster
from hub.config.routing import route_entities
from hub.config.yaml_source import KeyPath
from hub.schemas.catalogue import SchemaCatalogue

__all__ = ["Declared", "Finding", "check_deployment"]

_TOPIC_NAME = re.compile(
    r"([a-z][a-z0-9-]*)\.([a-z][a-z0-9-]*)\.([a-z][a-z0-9-]*)\.v(0|[1-9][0-9]*)"
)
_KAFKA_TOPIC = re.compile(r"[A-Za-z0-9._-]+")
_KAFKA_MAX_TOPIC_LENGTH = 249
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|inf|nan)", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """A problem at a key path, not yet placed on a line."""

    path: KeyPath
    message: str


@dataclass(frozen=True)
class Declared:
    """What the file declares, including entries that failed validation."""

    areas: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    #: Key paths of sections that failed validation (and so are missing from the model).
    invalid: set[KeyPath] = field(default_factory=set)


def check_deployment(
    deployment: Deployment,
    declared: Declared,
    catalogue: SchemaCatalogue | None,
    *,
    catalogue_complete: bool = True,
) -> list[Finding]:
    """Every cross-reference problem of `deployment`; schema rules are skipped without a
    catalogue, and an incomplete one (some files failed) softens "unknown schema"."""
    findings: list[Finding] = []
    findings += _check_topics(deployment, declared, catalogue, catalogue_complete)
    findings += _check_feeds(deployment, declared)
    findings += _check_bridges(deployment, declared)
    findings += _check_client_configs(deployment)
    return findings


_VERSION = re.compile(r"v[0-9]+")


def _near(name: str, candidate: str) -> bool:
    """True when every dot-separated part that differs is a near miss (or a version)."""
    parts, others = name.split("."), candidate.split(".")
    if len(parts) != len(others):
        return SequenceMatcher(None, name, candidate).ratio() >= 0.8
    return all(
        a == b
        or (_VERSION.fullmatch(a) and _VERSION.fullmatch(b))
        or SequenceMatcher(None, a, b).ratio() >= 0.6
        for a, b in zip(parts, others, strict=True)
    )


def _suggest(name: str, known: list[str]) -> str:
    # Dotted names share long prefixes, which makes any two look alike to difflib as a
    # whole; judging each differing part keeps "Route" from suggesting "VehiclePosition".
    close = [c for c in get_close_matches(name, known, n=5, cutoff=0.6) if _near(name, c)]
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown_topic(name: str, declared: Declared) -> str:
    return f"unknown topic {name!r}" + _suggest(name, declared.topics)


def _check_topics(
    deployment: Deployment,
    declared: Declared,
    catalogue: SchemaCatalogue | None,
    catalogue_complete: bool,
) -> list[Finding]:
    findings: list[Finding] = []
    for name, topic in deployment.topics.items():
        here: KeyPath = ("topics", name)
        match = _TOPIC_NAME.fullmatch(name)
        if match is None:
            example = topic.area if _TOPIC_NAME.match(f"{topic.area}.a.b.v1") else "kaga"
            findings.append(
                Finding(
                    here,
                    "topic name must be <area>.<domain>.<entity>.v<major> in lowercase, "
                    f"e.g. {example}.mobility.vehicle-positions.v1",
                )
            )
        elif match.group(1) != topic.area:
            findings.append(Finding(here, f"topic name must start with its area: {topic.area}."))
        if len(deployment.dead_letter_topic(name)) > _KAFKA_MAX_TOPIC_LENGTH:
            findings.append(
                Finding(here, f"topic name is too long for Kafka ({_KAFKA_MAX_TOPIC_LENGTH} max)")
            )
        if topic.area not in declared.areas:
            known = ", ".join(declared.areas) if declared.areas else "none declared"
            findings.append(
                Finding((*here, "area"), f"unknown area {topic.area!r} (known: {known})")
            )
        if catalogue is not None:
            findings += _check_schema(
                here, topic.schema_name, topic.key, catalogue, catalogue_complete
            )
        if topic.retention is not None and not topic.deletes:
            findings.append(
                Finding(
                    (*here, "retention"),
                    "retention applies only when cleanup includes delete "
                    "(a compacted topic keeps the latest record per key)",
                )
            )
        dlq = topic.dead_letter_topic
        if dlq is not None:
            if not _KAFKA_TOPIC.fullmatch(dlq) or dlq in {".", ".."}:
                findings.append(
                    Finding(
                        (*here, "dead_letter_topic"),
                        f"{dlq!r} is not a valid Kafka topic name (letters, digits, '.', '_', '-')",
                    )
                )
            elif dlq in declared.topics:
                findings.append(
                    Finding(
                        (*here, "dead_letter_topic"),
                        f"dead-letter topic {dlq!r} is declared as a data topic; use its own name",
                    )
                )
    return findings


def _check_schema(
    here: KeyPath, schema: str, key: str, catalogue: SchemaCatalogue, complete: bool
) -> list[Finding]:
    if schema not in catalogue:
        hint = _suggest(schema, catalogue.names())
        if not hint and not complete:
            hint = " (some schema files failed to load)"
        elif not hint and len(catalogue) == 0:
            hint = f" (no .avsc files in {catalogue.directory})"
        return [Finding((*here, "schema"), f"unknown schema {schema!r}{hint}")]
    entry = catalogue.get(schema)
    found = entry.field(key)
    if found is None:
        names = [f.get("name", "?") for f in entry.fields]
        listing = f" (fields: {', '.join(names)})" if names else ""
        return [Finding((*here, "key"), f"schema {schema} has no field {key!r}{listing}")]
    if not _is_string(found.get("type")):
        return [
            Finding(
                (*here, "key"),
                f"key field {key!r} must be a non-null string, but its type is "
                f"{_describe_type(found.get('type'))}",
            )
        ]
    return []


def _is_string(avro_type: Any) -> bool:
    if avro_type == "string":
        return True
    return isinstance(avro_type, dict) and avro_type.get("type") == "string"


def _describe_type(avro_type: Any) -> str:
    if isinstance(avro_type, list):
        return " | ".join(_describe_type(t) for t in avro_type)
    if isinstance(avro_type, dict):
        return str(avro_type.get("name") or avro_type.get("type"))
    return str(avro_type)


def _check_feeds(deployment: Deployment, declared: Declared) -> list[Finding]:
    findings: list[Finding] = []
    for feed_id, feed in deployment.feeds.items():
        here: KeyPath = ("feeds", feed_id)
        if feed.topic is not None and feed.topic not in declared.topics:
            findings.append(Finding((*here, "topic"), _unknown_topic(feed.topic, declared)))
        for entity, topic in (feed.topics or {}).items():
            if topic not in declared.topics:
                findings.append(Finding((*here, "topics", entity), _unknown_topic(topic, declared)))
        for topic_name in feed.target_topics:
            written = deployment.topics.get(topic_name)
            if written is not None and written.format != "avro":
                where = (
                    (*here, "topic")
                    if feed.topic is not None
                    else (*here, "topics", _entity_of(feed, topic_name))
                )
                findings.append(
                    Finding(
                        where,
                        f"adapters write Avro records, but {topic_name} is format: "
                        + written.format,
                    )
                )
        findings += _check_adapter(deployment, here, feed)
        findings += _check_demo_feed_urls(deployment, here, feed)
    return findings


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _check_demo_feed_urls(deployment: Deployment, here: KeyPath, feed: Feed) -> list[Finding]:
    """A feed of the hub's own demo files must point at this hub as it is configured: a
    URL written for port 8080 stays there when hub.http.port moves (write the path alone)."""
    urls = {(*here, "url"): feed.url} if feed.url is not None else {}
    urls |= {(*here, "urls", kind): url for kind, url in (feed.urls or {}).items()}
    findings = []
    http = deployment.hub.http
    for path, url in urls.items():
        parts = urlsplit(url)
        if parts.hostname not in _LOOPBACK or not parts.path.startswith("/demo/feeds/"):
            continue
        if not deployment.hub.demo_feeds:
            findings.append(
                Finding(path, "this hub serves no demo feeds (set hub.demo_feeds: true)")
            )
        elif (parts.port or 80) != http.port:
            findings.append(
                Finding(
                    path,
                    f"the demo feeds are served on this hub's port {http.port}, not "
                    f"{parts.port or 80}; write the path alone ({parts.path}) to follow hub.http",
                )
            )
    return findings


def _entity_of(feed: Feed, topic_name: str) -> str:
    return next(entity for entity, name in (feed.topics or {}).items() if name == topic_name)


def _check_adapter(deployment: Deployment, here: KeyPath, feed: Feed) -> list[Finding]:
    """The adapter exists, takes these options, and yields what the feed's topics hold."""
    from adapters.registry import (  # noqa: PLC0415 - adapters load only for feeds
        AdapterNotFoundError,
        adapter_class,
        adapter_names,
    )

    try:
        cls = adapter_class(feed.adapter)
    except AdapterNotFoundError as exc:
        message = str(exc) + _suggest(feed.adapter, adapter_names())
        return [Finding((*here, "adapter"), message)]
    findings: list[Finding] = []
    try:
        cls.Options.model_validate(feed.options)
    except ValidationError as exc:
        for error in exc.errors():
            where = tuple(str(part) for part in error["loc"])
            findings.append(Finding((*here, "options", *where), error["msg"]))
    routing = route_entities(feed, cls, deployment.topics)
    findings += [Finding((*here, *problem.key), problem.message) for problem in routing.problems]
    return findings


def _describe_cluster(cluster: KafkaCluster | None) -> str:
    return "the embedded broker" if cluster is None else cluster.bootstrap_servers


def _check_bridges(deployment: Deployment, declared: Declared) -> list[Finding]:
    findings: list[Finding] = []
    for name, bridge in deployment.bridges.items():
        here: KeyPath = ("bridges", name)
        for end in ("source", "target"):
            topic = getattr(bridge, end)
            if topic not in declared.topics:
                findings.append(Finding((*here, end), _unknown_topic(topic, declared)))
        if bridge.source == bridge.target:
            findings.append(Finding((*here, "target"), "target must differ from source"))
        if not bridge.mapping.exists():
            findings.append(
                Finding((*here, "mapping"), f"mapping file not found: {bridge.mapping}")
            )
        elif not bridge.mapping.is_file():
            findings.append(Finding((*here, "mapping"), f"mapping is not a file: {bridge.mapping}"))
        findings += _check_bridge_formats(deployment, here, bridge.source, bridge.target)
        given = bridge.format
        target_topic = deployment.topics.get(bridge.target)
        if given is not None and target_topic is not None and given != target_topic.format:
            findings.append(
                Finding(
                    (*here, "format"),
                    f"the bridge writes {given}, but its target topic {bridge.target} is "
                    f"format: {target_topic.format}; declare format: {given} on the topic "
                    "(the gateway and the registry go by the topic's format)",
                )
            )
        if bridge.delivery == "exactly-once":
            findings += _check_exactly_once(
                deployment, declared, here, bridge.source, bridge.target
            )
    return findings


def _check_bridge_formats(
    deployment: Deployment, here: KeyPath, source: str, target: str
) -> list[Finding]:
    source_topic = deployment.topics.get(source)
    if source_topic is not None and source_topic.format != "avro":
        return [
            Finding(
                (*here, "source"),
                f"a bridge reads Avro records, but {source} is format: {source_topic.format}",
            )
        ]
    return []


def _check_exactly_once(
    deployment: Deployment, declared: Declared, here: KeyPath, source: str, target: str
) -> list[Finding]:
    # Without a valid view of both ends' clusters the answer would be a guess.
    if ("kafka",) in declared.invalid:
        return []
    source_topic = deployment.topics.get(source)
    target_topic = deployment.topics.get(target)
    if source_topic is None or target_topic is None:
        return []
    areas = (source_topic.area, target_topic.area)
    if any(area not in deployment.areas for area in areas):
        return []
    if deployment.same_cluster(*areas):
        return []
    a, b = (_describe_cluster(deployment.kafka_for(area)) for area in areas)
    return [
        Finding(
            (*here, "delivery"),
            "exactly-once needs source and target on one Kafka cluster, but "
            f"{areas[0]} uses {a} and {areas[1]} uses {b}; use at-least-once",
        )
    ]


def _check_client_configs(deployment: Deployment) -> list[Finding]:
    """Numeric librdkafka properties in client_config, checked against librdkafka's own
    ranges (it refuses them only when a client is made, which would fail `up` later)."""
    clusters: list[tuple[KeyPath, KafkaCluster]] = []
    if deployment.kafka is not None:
        clusters.append((("kafka",), deployment.kafka))
    clusters += [(("areas", n, "kafka"), a.kafka) for n, a in deployment.areas.items() if a.kafka]
    if not any(cluster.client_config for _, cluster in clusters):
        return []
    from confluent_kafka import KafkaException, Producer  # noqa: PLC0415 - only when needed

    findings: list[Finding] = []
    for here, cluster in clusters:
        for key, value in cluster.client_config.items():
            # Numbers only: any other property could name a file or a plugin library to
            # load, and validating a file must not run anything.
            if not _NUMBER.fullmatch(value.strip()):
                continue
            try:
                # One property per client, so one bad value cannot hide another; no
                # bootstrap servers, so nothing connects. log_level 0: no chatter.
                Producer({key: value, "log_level": 0})
            except KafkaException as exc:
                message = exc.args[0].str().strip() if exc.args else str(exc)
                findings.append(Finding((*here, "client_config", key), message))
    return findings
