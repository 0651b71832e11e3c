"""What the catalogue documents are built from: where clients reach the hub, how fresh
each topic is, and the time formats they share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from hub.config import Deployment
from hub.config.duration import format_duration
from hub.feed_status import FeedStatus
from hub.http.app import HubInfo
from hub.registry.binding import value_subject

__all__ = ["HubAddresses", "duration_text", "iso_time", "topic_freshness", "total_seconds"]

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


def iso_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def total_seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def duration_text(value: timedelta | None) -> str | None:
    return format_duration(value) if value is not None else None
