"""What the hub offers, as documents clients and portals read: ``GET /v1/catalog`` (areas,
topics with their freshness now, feeds, bridges), ``GET /catalog.jsonld`` (a DCAT-AP
catalogue that open-data portals such as CKAN harvest), ``GET /asyncapi.json`` (AsyncAPI 3 of
the topics) and ``GET /openapi.json`` (the gateway's own API).

The documents are built from the deployment on every request, by pure functions of the
deployment, the hub's addresses and the feed statuses, so a test can read them without a
server and the answer always matches what the hub runs.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from aiohttp import web

from hub import __version__
from hub.config import Deployment
from hub.config.duration import format_duration
from hub.config.model import Topic
from hub.gateway.openapi import openapi_document
from hub.http.app import HubInfo
from hub.ingest.state import FeedStateStore, FeedStatus
from hub.registry.binding import value_subject
from hub.schemas.catalogue import SchemaCatalogue

__all__ = [
    "AVRO_SCHEMA_FORMAT",
    "CatalogDocs",
    "HubAddresses",
    "accrual_periodicity",
    "asyncapi_document",
    "catalog_document",
    "dcat_document",
    "licence_uri",
    "topic_freshness",
]

AVRO_SCHEMA_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
JSON_LD = "application/ld+json"

# --- vocabularies ----------------------------------------------------------------------

_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
_ACCESS_RIGHT = "http://publications.europa.eu/resource/authority/access-right/"
_IANA = "https://www.iana.org/assignments/media-types/"

_DAY = 86_400.0
# Codes of the EU frequency authority table that name a regular period, by that period.
# DAILY_2 (twice a day) is the same period as 12HRS, which is the more precise name.
_PERIODS: tuple[tuple[float, str], ...] = (
    (60, "1MIN"),
    (300, "5MIN"),
    (600, "10MIN"),
    (900, "15MIN"),
    (1800, "30MIN"),
    (3600, "HOURLY"),
    (7200, "BIHOURLY"),
    (10800, "TRIHOURLY"),
    (43200, "12HRS"),
    (_DAY, "DAILY"),
    (3.5 * _DAY, "WEEKLY_2"),
    (7 * _DAY, "WEEKLY"),
    (14 * _DAY, "BIWEEKLY"),
    (30 * _DAY, "MONTHLY"),
    (91 * _DAY, "QUARTERLY"),
    (182 * _DAY, "ANNUAL_2"),
    (365 * _DAY, "ANNUAL"),
    (730 * _DAY, "BIENNIAL"),
)
# A period further than this factor from every code's is not approximated by one.
_PERIOD_TOLERANCE = 1.5

_CC_LICENCE = re.compile(r"CC-(BY(?:-NC)?(?:-SA|-ND)?)-(\d\.\d)(?:-([A-Z]{2,3}))?", re.IGNORECASE)
_KNOWN_LICENCES = {
    "cc0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "pddl-1.0": "https://opendatacommons.org/licenses/pddl/1-0/",
    "odc-by-1.0": "https://opendatacommons.org/licenses/by/1-0/",
    "odbl-1.0": "https://opendatacommons.org/licenses/odbl/1-0/",
    "ogl-uk-3.0": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
}

_CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def accrual_periodicity(every: timedelta | None) -> str:
    """The EU frequency authority IRI for a topic's update frequency.

    Sub-minute updates are continuous (CONT); a period near one of the table's (within a
    factor 1.5) takes that code; anything else is OTHER, and no frequency is UNKNOWN.
    """
    if every is None:
        return _FREQUENCY + "UNKNOWN"
    seconds = every.total_seconds()
    if seconds < 60:
        return _FREQUENCY + "CONT"
    period, code = min(_PERIODS, key=lambda entry: abs(math.log(seconds / entry[0])))
    if max(seconds / period, period / seconds) > _PERIOD_TOLERANCE:
        return _FREQUENCY + "OTHER"
    return _FREQUENCY + code


def licence_uri(licence: str) -> str:
    """The licence as a URI: a URL as given; an SPDX id mapped to the licence's own page
    (Creative Commons, Open Data Commons, OGL), else to its SPDX page."""
    if licence.startswith(("http://", "https://")):
        return licence
    match = _CC_LICENCE.fullmatch(licence)
    if match is not None:
        kind, version, port = match[1].lower(), match[2], match[3]
        jurisdiction = f"{port.lower()}/" if port else ""
        return f"https://creativecommons.org/licenses/{kind}/{version}/{jurisdiction}"
    return _KNOWN_LICENCES.get(licence.lower(), f"https://spdx.org/licenses/{licence}.html")


# --- what the documents are built from -------------------------------------------------


@dataclass(frozen=True)
class HubAddresses:
    """Where clients reach the hub: the gateway, the default cluster and registry."""

    gateway_url: str
    kafka_bootstrap: str
    registry_url: str

    @classmethod
    def of(cls, info: HubInfo) -> HubAddresses:
        return cls(info.gateway_url.rstrip("/"), info.kafka_bootstrap, info.registry_url)

    def bootstrap_for(self, deployment: Deployment, area: str) -> str:
        cluster = deployment.kafka_for(area)
        return cluster.bootstrap_servers if cluster is not None else self.kafka_bootstrap

    def registry_for(self, deployment: Deployment, area: str) -> str:
        connection = deployment.registry_for(area)
        return (connection.url if connection is not None else self.registry_url).rstrip("/")

    def schema_url(self, deployment: Deployment, topic: str) -> str:
        """The registry URL of the latest version of the topic's value subject."""
        registry = self.registry_for(deployment, deployment.area_of(topic))
        return f"{registry}/subjects/{quote(value_subject(topic), safe='')}/versions/latest"

    def topic_url(self, topic: str, endpoint: str) -> str:
        return f"{self.gateway_url}/v1/topics/{quote(topic, safe='')}/{endpoint}"


def topic_freshness(
    deployment: Deployment, statuses: Iterable[FeedStatus], now_ms: int
) -> dict[str, tuple[int, float]]:
    """Per topic fed by some feed: (newest observed_at in ms, its age in seconds at now_ms),
    from the newest data among the feeds producing into it. Topics without known data
    are absent."""
    newest_by_feed = {s.feed: s.newest_observed_ms for s in statuses}
    freshness: dict[str, tuple[int, float]] = {}
    for feed_id, feed in deployment.feeds.items():
        newest = newest_by_feed.get(feed_id)
        if newest is None:
            continue
        for topic in feed.target_topics:
            if topic not in freshness or newest > freshness[topic][0]:
                freshness[topic] = (newest, max(0.0, (now_ms - newest) / 1000))
    return freshness


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def _duration(value: timedelta | None) -> str | None:
    return format_duration(value) if value is not None else None


# --- /v1/catalog -----------------------------------------------------------------------


def catalog_document(
    deployment: Deployment,
    catalogue: SchemaCatalogue,
    addresses: HubAddresses,
    statuses: list[FeedStatus],
    now_ms: int,
) -> dict[str, Any]:
    """The hub's own catalogue: every area, topic, feed and bridge, with freshness now."""
    freshness = topic_freshness(deployment, statuses, now_ms)
    by_feed = {s.feed: s for s in statuses}
    feeds_of: dict[str, list[str]] = {}
    for feed_id, feed in deployment.feeds.items():
        for topic in feed.target_topics:
            feeds_of.setdefault(topic, []).append(feed_id)
    return {
        "hub": {
            "version": __version__,
            "gateway_url": addresses.gateway_url,
            "kafka_bootstrap": addresses.kafka_bootstrap,
            "registry_url": addresses.registry_url,
            "generated_at": _iso(now_ms),
        },
        "documents": {
            "dcat": f"{addresses.gateway_url}/catalog.jsonld",
            "asyncapi": f"{addresses.gateway_url}/asyncapi.json",
            "openapi": f"{addresses.gateway_url}/openapi.json",
        },
        "areas": [
            {
                "name": name,
                "title": area.title,
                "timezone": area.timezone,
                "id_namespace": deployment.id_namespace(name),
                "kafka_bootstrap": addresses.bootstrap_for(deployment, name),
                "registry_url": addresses.registry_for(deployment, name),
            }
            for name, area in deployment.areas.items()
        ],
        "topics": [
            _catalog_topic(
                deployment,
                catalogue,
                addresses,
                name=name,
                topic=topic,
                feeds=feeds_of.get(name, []),
                freshness=freshness.get(name),
            )
            for name, topic in deployment.topics.items()
        ],
        "feeds": [
            _catalog_feed(feed_id, deployment, by_feed.get(feed_id), now_ms)
            for feed_id in deployment.feeds
        ],
        "bridges": [
            {
                "name": name,
                "source": bridge.source,
                "target": bridge.target,
                # The file name only: where the hub keeps its mappings is its own business.
                "mapping": bridge.mapping.name,
                "delivery": bridge.delivery,
            }
            for name, bridge in deployment.bridges.items()
        ],
    }


def _catalog_topic(
    deployment: Deployment,
    catalogue: SchemaCatalogue,
    addresses: HubAddresses,
    *,
    name: str,
    topic: Topic,
    feeds: list[str],
    freshness: tuple[int, float] | None,
) -> dict[str, Any]:
    entry = catalogue.get(topic.schema_name) if topic.schema_name in catalogue else None
    return {
        "name": name,
        "area": topic.area,
        "description": topic.description,
        "schema": {
            "name": topic.schema_name,
            "doc": entry.raw.get("doc") if entry is not None else None,
            "format": topic.format,
            # Only an Avro topic has a subject in its registry.
            "subject": value_subject(name) if topic.format == "avro" else None,
            "url": addresses.schema_url(deployment, name) if topic.format == "avro" else None,
        },
        "key": topic.key,
        "partitions": topic.partitions,
        "cleanup": topic.cleanup,
        "retention": _duration(topic.effective_retention),
        "licence": topic.licence,
        "licence_url": licence_uri(topic.licence),
        "publisher": topic.publisher,
        "update_frequency": _duration(topic.update_frequency),
        "update_frequency_seconds": _seconds(topic.update_frequency),
        "access": topic.access,
        "feeds": feeds,
        "newest_observed_ms": freshness[0] if freshness else None,
        "freshness_seconds": freshness[1] if freshness else None,
        "endpoints": {
            "stream": addresses.topic_url(name, "stream"),
            "latest": addresses.topic_url(name, "latest"),
            "records": addresses.topic_url(name, "records"),
        },
    }


def _catalog_feed(
    feed_id: str, deployment: Deployment, status: FeedStatus | None, now_ms: int
) -> dict[str, Any]:
    feed = deployment.feeds[feed_id]
    schedule = feed.schedule
    newest = status.newest_observed_ms if status else None
    return {
        "id": feed_id,
        "adapter": feed.adapter,
        "enabled": feed.enabled,
        "topics": feed.target_topics,
        "schedule": None
        if schedule is None
        else {
            "interval": _duration(schedule.interval),
            "ttl": schedule.ttl,
            "min_interval": _duration(schedule.min_interval),
            "max_interval": _duration(schedule.max_interval),
        },
        "healthy": status.healthy if status else None,
        "last_success_ms": status.last_success_ms if status else None,
        "last_error": status.last_error if status else None,
        "consecutive_failures": status.consecutive_failures if status else 0,
        "newest_observed_ms": newest,
        "freshness_seconds": max(0.0, (now_ms - newest) / 1000) if newest is not None else None,
    }


# --- /catalog.jsonld (DCAT-AP) ---------------------------------------------------------


def _iri(value: str) -> dict[str, str]:
    return {"@id": value}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "agent"


def _agent(base: str, name: str) -> dict[str, Any]:
    return {"@id": f"{base}#publisher-{_slug(name)}", "@type": "foaf:Agent", "foaf:name": name}


def dcat_document(
    deployment: Deployment,
    addresses: HubAddresses,
    statuses: list[FeedStatus],
    now_ms: int,
) -> dict[str, Any]:
    """A DCAT-AP catalogue in JSON-LD: one dcat:Dataset per topic, with distributions for
    the SSE stream, the latest state and the Kafka topic, and the services behind them."""
    gateway = addresses.gateway_url
    base = f"{gateway}/catalog.jsonld"
    freshness = topic_freshness(deployment, statuses, now_ms)
    gateway_service = f"{base}#gateway"
    kafka_services: dict[str, dict[str, Any]] = {}
    datasets = []
    for name, topic in deployment.topics.items():
        dataset_id = f"{base}#{name}"
        bootstrap = addresses.bootstrap_for(deployment, topic.area).split(",")[0]
        kafka_id = f"{base}#kafka-{_slug(bootstrap)}"
        service = kafka_services.setdefault(
            kafka_id,
            {
                "@id": kafka_id,
                "@type": "dcat:DataService",
                "dct:title": f"Kafka cluster {bootstrap}",
                "dcat:endpointURL": _iri(f"kafka://{bootstrap}"),
                "dcat:endpointDescription": _iri(f"{gateway}/asyncapi.json"),
                "dcat:servesDataset": [],
            },
        )
        service["dcat:servesDataset"].append(_iri(dataset_id))
        datasets.append(
            _dataset(
                deployment,
                addresses,
                name=name,
                topic=topic,
                dataset_id=dataset_id,
                kafka_service=kafka_id,
                freshness=freshness.get(name),
            )
        )
    publishers = {t.publisher for t in deployment.topics.values()}
    operator = publishers.pop() if len(publishers) == 1 else f"Operator of the hub at {gateway}"
    return {
        "@context": _CONTEXT,
        "@id": base,
        "@type": "dcat:Catalog",
        "dct:title": "Tsunagu data-linkage hub",
        "dct:description": (
            "Topics of the data areas linked by this hub: live streams, latest state and "
            "Kafka topics with Avro schemas from the registry."
        ),
        "dct:publisher": _agent(base, operator),
        "foaf:homepage": _iri(f"{gateway}/status"),
        "dct:modified": {"@value": _iso(now_ms), "@type": "xsd:dateTime"},
        "dcat:service": [
            {
                "@id": gateway_service,
                "@type": "dcat:DataService",
                "dct:title": "Tsunagu gateway (HTTP, Server-Sent Events, WebSocket)",
                "dcat:endpointURL": _iri(gateway),
                "dcat:endpointDescription": _iri(f"{gateway}/openapi.json"),
                "dcat:servesDataset": [_iri(d["@id"]) for d in datasets],
            },
            *kafka_services.values(),
        ],
        "dcat:dataset": datasets,
    }


def _dataset(
    deployment: Deployment,
    addresses: HubAddresses,
    *,
    name: str,
    topic: Topic,
    dataset_id: str,
    kafka_service: str,
    freshness: tuple[int, float] | None,
) -> dict[str, Any]:
    base = dataset_id.partition("#")[0]
    area = deployment.areas.get(topic.area)
    area_title = area.title if area is not None and area.title else topic.area
    parts = name.split(".")
    entity = parts[2] if len(parts) >= 3 else name
    licence = _iri(licence_uri(topic.licence))
    schema = {
        "@id": addresses.schema_url(deployment, name),
        "@type": "dct:Standard",
        "dct:title": f"Avro schema {topic.schema_name}",
    }
    gateway_service = _iri(f"{base}#gateway")
    bootstrap = addresses.bootstrap_for(deployment, topic.area).split(",")[0]
    distributions = [
        {
            "@id": f"{dataset_id}/stream",
            "@type": "dcat:Distribution",
            "dct:title": "Live stream (Server-Sent Events, or WebSocket on upgrade), JSON",
            "dcat:accessURL": _iri(addresses.topic_url(name, "stream")),
            "dcat:mediaType": _iri(_IANA + "text/event-stream"),
            "dcat:accessService": gateway_service,
            "dct:conformsTo": _iri(schema["@id"]),
            "dct:license": licence,
        },
        {
            "@id": f"{dataset_id}/latest",
            "@type": "dcat:Distribution",
            "dct:title": "Latest record per key, JSON",
            "dcat:accessURL": _iri(addresses.topic_url(name, "latest")),
            "dcat:mediaType": _iri(_IANA + "application/json"),
            "dcat:accessService": gateway_service,
            "dct:conformsTo": _iri(schema["@id"]),
            "dct:license": licence,
        },
        {
            "@id": f"{dataset_id}/kafka",
            "@type": "dcat:Distribution",
            "dct:title": f"Kafka topic {name}",
            "dct:description": (
                (
                    "Avro values in the Confluent wire format (schema id from the registry), "
                    if topic.format == "avro"
                    else "NGSI-LD entities (normalized JSON-LD), "
                )
                + f"keyed by the {topic.key!r} field."
            ),
            "dct:identifier": name,
            "dcat:accessURL": _iri(f"kafka://{bootstrap}/{quote(name, safe='')}"),
            "dcat:accessService": _iri(kafka_service),
            "dct:conformsTo": _iri(schema["@id"]),
            "dct:license": licence,
        },
    ]
    dataset: dict[str, Any] = {
        "@id": dataset_id,
        "@type": "dcat:Dataset",
        "dct:identifier": name,
        "dct:title": f"{entity.replace('-', ' ')} ({area_title})",
        "dct:description": topic.description or f"Records of the Kafka topic {name}.",
        "dcat:keyword": [p for p in parts[:3] if p],
        "dct:publisher": _agent(base, topic.publisher),
        "dcat:contactPoint": {"@type": "vcard:Organization", "vcard:fn": topic.publisher},
        "dct:license": licence,
        "dct:accessRights": _iri(
            _ACCESS_RIGHT + ("PUBLIC" if topic.access == "public" else "RESTRICTED")
        ),
        "dct:accrualPeriodicity": _iri(accrual_periodicity(topic.update_frequency)),
        "dct:conformsTo": schema,
        "dcat:distribution": distributions,
    }
    if freshness is not None:
        dataset["dct:modified"] = {"@value": _iso(freshness[0]), "@type": "xsd:dateTime"}
    return dataset


# --- /asyncapi.json --------------------------------------------------------------------


def asyncapi_document(
    deployment: Deployment, catalogue: SchemaCatalogue, addresses: HubAddresses
) -> dict[str, Any]:
    """AsyncAPI 3.0.0: the Kafka clusters and the gateway as servers, one channel per topic
    on its cluster (Avro payload) and one on the gateway (JSON events), receive operations."""
    servers: dict[str, Any] = {}
    security_schemes: dict[str, Any] = {}
    server_of_area: dict[str, str] = {}
    for area in sorted({t.area for t in deployment.topics.values()}):
        server_of_area[area] = _kafka_server(deployment, addresses, area, servers, security_schemes)
    gateway = urlsplit(addresses.gateway_url)
    secure = gateway.scheme == "https"
    for server_id, protocol, title in (
        ("gateway-sse", "https" if secure else "http", "Server-Sent Events"),
        ("gateway-ws", "wss" if secure else "ws", "WebSocket"),
    ):
        servers[server_id] = {
            "host": gateway.netloc,
            "protocol": protocol,
            "pathname": gateway.path or "/",
            "title": f"Gateway ({title})",
            "description": "Records as JSON; public topics need no key, others an API key "
            "(Authorization: Bearer or X-API-Key).",
        }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, topic in deployment.topics.items():
        entry = catalogue.get(topic.schema_name) if topic.schema_name in catalogue else None
        avro = entry.raw if entry is not None else {"type": "record", "name": "Unknown"}
        kafka_message = _kafka_message(topic, avro)
        channels[name] = {
            "address": name,
            "title": name,
            "description": topic.description or f"Kafka topic {name}.",
            "servers": [{"$ref": f"#/servers/{server_of_area[topic.area]}"}],
            "messages": {"record": kafka_message},
        }
        stream = f"stream.{name}"
        channels[stream] = {
            "address": f"/v1/topics/{name}/stream",
            "title": f"{name} over the gateway",
            "description": (
                f"Records of {name} as JSON events. Query: start, resume, bbox, ids, where."
            ),
            "servers": [{"$ref": "#/servers/gateway-sse"}, {"$ref": "#/servers/gateway-ws"}],
            "messages": {"event": _stream_message(topic)},
        }
        for channel, message in ((name, "record"), (stream, "event")):
            operations[f"receive.{channel}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{message}"}],
            }
    document: dict[str, Any] = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Tsunagu hub topics",
            "version": __version__,
            "description": "Every topic of the hub: on its Kafka cluster, values in Avro with "
            "the Confluent wire format; on the gateway, as JSON over SSE or WebSocket.",
        },
        "defaultContentType": "application/json",
        "servers": servers,
        "channels": channels,
        "operations": operations,
    }
    if security_schemes:
        document["components"] = {"securitySchemes": security_schemes}
    return document


def _kafka_message(topic: Topic, avro: dict[str, Any]) -> dict[str, Any]:
    """The AsyncAPI message of a Kafka topic's records, as its format writes them."""
    key = {"type": "string", "description": f"the {topic.key!r} field"}
    if topic.format != "avro":
        return {
            "name": topic.schema_name,
            "title": f"{topic.schema_name} as an NGSI-LD entity",
            "contentType": "application/ld+json",
            "payload": {
                "type": "object",
                "description": f"An NGSI-LD entity (normalized) of {topic.schema_name}'s shape",
            },
            "bindings": {"kafka": {"key": key, "bindingVersion": "0.5.0"}},
        }
    return {
        "name": topic.schema_name,
        "title": f"{topic.schema_name} record",
        "contentType": "application/octet-stream",
        "payload": {"schemaFormat": AVRO_SCHEMA_FORMAT, "schema": avro},
        "bindings": {
            "kafka": {
                "key": key,
                "schemaIdLocation": "payload",
                "schemaIdPayloadEncoding": "confluent",
                "schemaLookupStrategy": "TopicIdStrategy",
                "bindingVersion": "0.5.0",
            }
        },
    }


def _kafka_server(
    deployment: Deployment,
    addresses: HubAddresses,
    area: str,
    servers: dict[str, Any],
    security_schemes: dict[str, Any],
) -> str:
    """The id of the server holding ``area``'s topics, adding it when new."""
    bootstrap = addresses.bootstrap_for(deployment, area)
    registry = addresses.registry_for(deployment, area)
    for server_id, known in servers.items():
        if known["x-bootstrap-servers"] == bootstrap and (
            known["bindings"]["kafka"]["schemaRegistryUrl"] == registry
        ):
            return server_id
    server_id = "kafka" if not servers else f"kafka-{area}"
    cluster = deployment.kafka_for(area)
    protocol = "kafka"
    server: dict[str, Any] = {
        # AsyncAPI has one host per server; the full bootstrap list follows as an extension.
        "host": bootstrap.split(",")[0],
        "protocol": protocol,
        "title": f"Kafka cluster of {area}",
        "x-bootstrap-servers": bootstrap,
        "bindings": {
            "kafka": {
                "schemaRegistryUrl": registry,
                "schemaRegistryVendor": "confluent",
                "bindingVersion": "0.5.0",
            }
        },
    }
    if cluster is not None and cluster.security_protocol.endswith("SSL"):
        server["protocol"] = "kafka-secure"
    if cluster is not None and cluster.sasl_mechanism is not None:
        scheme = {"PLAIN": "plain", "SCRAM-SHA-256": "scramSha256", "SCRAM-SHA-512": "scramSha512"}
        scheme_id = f"sasl-{server_id}"
        security_schemes[scheme_id] = {"type": scheme[cluster.sasl_mechanism]}
        server["security"] = [{"$ref": f"#/components/securitySchemes/{scheme_id}"}]
    servers[server_id] = server
    return server_id


def _stream_message(topic: Topic) -> dict[str, Any]:
    return {
        "name": "event",
        "title": "A record with its position",
        "contentType": "application/json",
        "payload": {
            "type": "object",
            "required": ["position", "partition", "offset", "key", "timestamp", "record"],
            "properties": {
                "position": {
                    "type": "string",
                    "description": "Resume token (SSE id); reconnect with ?resume= or "
                    "Last-Event-ID to continue right after this event.",
                },
                "partition": {"type": "integer"},
                "offset": {"type": "integer"},
                "key": {"type": ["string", "null"]},
                "timestamp": {"type": ["integer", "null"], "description": "Kafka time, ms"},
                "record": {
                    "type": "object",
                    "description": f"The record, with the fields of {topic.schema_name}.",
                },
            },
        },
    }


# --- routes ----------------------------------------------------------------------------


class CatalogDocs:
    """Serves the four catalogue documents of a deployment."""

    def __init__(
        self,
        deployment: Deployment,
        catalogue: SchemaCatalogue,
        info: HubInfo,
        feed_store: FeedStateStore | None,
    ) -> None:
        self.deployment = deployment
        self.catalogue = catalogue
        self.addresses = HubAddresses.of(info)
        self.feed_store = feed_store
        # Read from the package once, here, rather than in the event loop.
        self._openapi_body = orjson.dumps(openapi_document(self.addresses.gateway_url))

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/catalog", self._catalog)
        app.router.add_get("/catalog.jsonld", self._dcat)
        app.router.add_get("/asyncapi.json", self._asyncapi)
        app.router.add_get("/openapi.json", self._openapi)

    async def _statuses(self) -> list[FeedStatus]:
        return await self.feed_store.all_statuses() if self.feed_store is not None else []

    async def _catalog(self, _: web.Request) -> web.Response:
        document = catalog_document(
            self.deployment, self.catalogue, self.addresses, await self._statuses(), _now_ms()
        )
        return _json(document)

    async def _dcat(self, _: web.Request) -> web.Response:
        document = dcat_document(self.deployment, self.addresses, await self._statuses(), _now_ms())
        return _json(document, JSON_LD)

    async def _asyncapi(self, _: web.Request) -> web.Response:
        return _json(asyncapi_document(self.deployment, self.catalogue, self.addresses))

    async def _openapi(self, _: web.Request) -> web.Response:
        return web.Response(body=self._openapi_body, content_type="application/json")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _json(document: object, content_type: str = "application/json") -> web.Response:
    return web.Response(body=orjson.dumps(document), content_type=content_type)
