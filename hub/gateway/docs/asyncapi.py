"""``GET /asyncapi.json``: an AsyncAPI 3 document of the topics, over Kafka and over the
gateway's streams."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from hub import __version__
from hub.config import Deployment
from hub.config.model import Topic
from hub.gateway.docs.common import (
    HubAddresses,
)
from hub.schemas.catalogue import SchemaCatalogue

__all__ = ["AVRO_SCHEMA_FORMAT", "asyncapi_document"]

AVRO_SCHEMA_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"


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
