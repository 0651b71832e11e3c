"""``GET /v1/catalog``: the areas, the topics with their freshness now, the feeds and the
bridges, as JSON."""

from __future__ import annotations

from typing import Any

from hub import __version__
from hub.config import Deployment
from hub.config.model import Topic
from hub.feed_status import FeedStatus
from hub.gateway.docs.common import (
    HubAddresses,
    duration_text,
    iso_time,
    topic_freshness,
    total_seconds,
)
from hub.gateway.docs.vocabularies import licence_uri
from hub.registry.binding import topic_subject
from hub.schemas.catalogue import SchemaCatalogue

__all__ = ["catalog_document"]


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
            "generated_at": iso_time(now_ms),
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
            "subject": topic_subject(name, topic.format),
            "url": addresses.schema_url(deployment, name) if topic.format == "avro" else None,
        },
        "key": topic.key,
        "partitions": topic.partitions,
        "cleanup": topic.cleanup,
        "retention": duration_text(topic.effective_retention),
        "licence": topic.licence,
        "licence_url": licence_uri(topic.licence),
        "publisher": topic.publisher,
        "update_frequency": duration_text(topic.update_frequency),
        "update_frequency_seconds": total_seconds(topic.update_frequency),
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
            "interval": duration_text(schedule.interval),
            "ttl": schedule.ttl,
            "min_interval": duration_text(schedule.min_interval),
            "max_interval": duration_text(schedule.max_interval),
        },
        "healthy": status.healthy if status else None,
        "last_success_ms": status.last_success_ms if status else None,
        "last_error": status.last_error if status else None,
        "consecutive_failures": status.consecutive_failures if status else 0,
        "newest_observed_ms": newest,
        "freshness_seconds": max(0.0, (now_ms - newest) / 1000) if newest is not None else None,
    }
