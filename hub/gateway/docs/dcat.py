"""``GET /catalog.jsonld``: a DCAT-AP catalogue of the topics, which open-data portals
such as CKAN harvest."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from hub.config import Deployment
from hub.config.model import Topic
from hub.feed_status import FeedStatus
from hub.gateway.docs.common import (
    HubAddresses,
    iso_time,
    topic_freshness,
)
from hub.gateway.docs.vocabularies import accrual_periodicity, licence_uri

__all__ = ["JSON_LD", "dcat_document"]

JSON_LD = "application/ld+json"

_ACCESS_RIGHT = "http://publications.europa.eu/resource/authority/access-right/"
_IANA = "https://www.iana.org/assignments/media-types/"

_CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


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
        "dct:modified": {"@value": iso_time(now_ms), "@type": "xsd:dateTime"},
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
        dataset["dct:modified"] = {"@value": iso_time(freshness[0]), "@type": "xsd:dateTime"}
    return dataset
