"""The status page: ``GET /status`` serves a self-contained page (no CDN, no map tiles, no
external fonts: hubs often run where there is no internet), ``GET /v1/status`` the JSON it
polls, aggregated from the hub's metric objects and the feed statuses.

Counters are reported as totals; the page turns two samples into rates, so the hub keeps
no history of its own.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import orjson
from aiohttp import web
from prometheus_client.metrics import MetricWrapperBase

from hub import metrics as hub_metrics
from hub.config import Deployment
from hub.feed_status import FeedStatus, FeedStatuses
from hub.gateway import metrics as gateway_metrics
from hub.gateway.docs.common import topic_freshness
from hub.metrics import bridges as bridge_metrics
from hub.metrics import feeds as feed_metrics

__all__ = ["MetricSnapshot", "StatusPage", "status_document"]

# The metric objects the page reads, at one moment each.
_SHOWN: tuple[MetricWrapperBase, ...] = (
    hub_metrics.READY,
    hub_metrics.RECORDS_PRODUCED,
    gateway_metrics.PUBLISHED,
    gateway_metrics.EVENTS,
    gateway_metrics.SUBSCRIBERS,
    feed_metrics.UP,
    feed_metrics.RECORDS,
    bridge_metrics.RECORDS_IN,
    bridge_metrics.RECORDS_OUT,
    bridge_metrics.DEAD_LETTERS,
    bridge_metrics.LAG,
)

_STATIC = "static"
# The page loads nothing from anywhere but the hub itself (it may run without internet).
_CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'"
_ASSETS = {
    "status.js": "text/javascript",
    "status.css": "text/css",
}


Samples = list[tuple[dict[str, str], float]]


def _samples(metric: MetricWrapperBase) -> Samples:
    """The metric's values by labels: a counter's totals (not its ``_created``), a gauge's
    values."""
    out: Samples = []
    for family in metric.collect():
        wanted = f"{family.name}_total" if family.type == "counter" else family.name
        out.extend((dict(s.labels), s.value) for s in family.samples if s.name == wanted)
    return out


@dataclass
class MetricSnapshot:
    """The values of the metrics the page shows, at one moment, by metric object."""

    samples: dict[MetricWrapperBase, Samples] = field(default_factory=dict)

    @classmethod
    def collect(cls, metrics: tuple[MetricWrapperBase, ...] = _SHOWN) -> MetricSnapshot:
        return cls({metric: _samples(metric) for metric in metrics})

    def by(self, metric: MetricWrapperBase, label: str, **where: str) -> dict[str, float]:
        """Values of ``metric`` summed per value of ``label``, among samples matching
        ``where``."""
        out: dict[str, float] = defaultdict(float)
        for labels, value in self.samples.get(metric, []):
            if all(labels.get(k) == v for k, v in where.items()) and label in labels:
                out[labels[label]] += value
        return dict(out)


def status_document(
    deployment: Deployment, snapshot: MetricSnapshot, statuses: list[FeedStatus], now_ms: int
) -> dict[str, Any]:
    """What the status page shows: feeds, topics, bridges and subscribers, now."""
    by_feed = {s.feed: s for s in statuses}
    freshness = topic_freshness(deployment, statuses, now_ms)
    up = snapshot.by(feed_metrics.UP, "feed")
    feed_records = {
        outcome: snapshot.by(feed_metrics.RECORDS, "feed", outcome=outcome)
        for outcome in ("produced", "unchanged", "dead_letter")
    }
    produced = snapshot.by(hub_metrics.RECORDS_PRODUCED, "topic")
    published = snapshot.by(gateway_metrics.PUBLISHED, "topic")
    sent = snapshot.by(gateway_metrics.EVENTS, "topic")
    subscribers = snapshot.by(gateway_metrics.SUBSCRIBERS, "topic")
    bridged_out = snapshot.by(bridge_metrics.RECORDS_OUT, "bridge")
    bridged_in = snapshot.by(bridge_metrics.RECORDS_IN, "bridge")
    dead = snapshot.by(bridge_metrics.DEAD_LETTERS, "bridge")
    lag = snapshot.by(bridge_metrics.LAG, "bridge")
    bridged_into: dict[str, float] = defaultdict(float)
    for name, bridge in deployment.bridges.items():
        bridged_into[bridge.target] += bridged_out.get(name, 0.0)

    feeds = []
    for feed_id, feed in deployment.feeds.items():
        status = by_feed.get(feed_id)
        newest = status.newest_observed_ms if status else None
        feeds.append(
            {
                "id": feed_id,
                "adapter": feed.adapter,
                "enabled": feed.enabled,
                "topics": feed.target_topics,
                "healthy": status.healthy if status else None,
                "up": up.get(feed_id),
                "last_success_ms": status.last_success_ms if status else None,
                "last_error": status.last_error if status else None,
                "consecutive_failures": status.consecutive_failures if status else 0,
                "newest_observed_ms": newest,
                "freshness_seconds": max(0.0, (now_ms - newest) / 1000) if newest else None,
                "records": {k: v.get(feed_id, 0.0) for k, v in feed_records.items()},
            }
        )
    topics = []
    for name, topic in deployment.topics.items():
        # The three ways records enter a topic are counted apart; their sum is the rate.
        sources = {
            "feeds": produced.get(name, 0.0),
            "http": published.get(name, 0.0),
            "bridges": bridged_into.get(name, 0.0),
        }
        fresh = freshness.get(name)
        topics.append(
            {
                "name": name,
                "area": topic.area,
                "access": topic.access,
                "records_total": sum(sources.values()),
                "records_by_source": sources,
                "events_sent_total": sent.get(name, 0.0),
                "subscribers": int(subscribers.get(name, 0.0)),
                "newest_observed_ms": fresh[0] if fresh else None,
                "freshness_seconds": fresh[1] if fresh else None,
            }
        )
    bridges = [
        {
            "name": name,
            "source": bridge.source,
            "target": bridge.target,
            "delivery": bridge.delivery,
            "lag": lag.get(name),
            "records_in_total": bridged_in.get(name, 0.0),
            "records_out_total": bridged_out.get(name, 0.0),
            "dead_letters_total": dead.get(name, 0.0),
        }
        for name, bridge in deployment.bridges.items()
    ]
    ready = snapshot.by(hub_metrics.READY, "component")
    return {
        "generated_at_ms": now_ms,
        "components": {name: value == 1.0 for name, value in sorted(ready.items())},
        "subscribers": int(sum(subscribers.values())),
        "feeds": feeds,
        "topics": topics,
        "bridges": bridges,
        "positions_topics": _position_topics(deployment),
    }


def _position_topics(deployment: Deployment) -> list[str]:
    """Public topics of vehicle positions, which the page can draw live."""
    return [
        name
        for name, topic in deployment.topics.items()
        if topic.access == "public" and "position" in name.lower()
    ]


class StatusPage:
    """Serves the page, its assets and ``/v1/status``."""

    def __init__(self, deployment: Deployment, feed_store: FeedStatuses | None) -> None:
        self.deployment = deployment
        self.feed_store = feed_store
        # A few small files shipped in the wheel, read once, never in the event loop.
        self._files = {name: _read(name) for name in ("status.html", *_ASSETS)}

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/status", self._page)
        app.router.add_get("/status/{asset}", self._asset)
        app.router.add_get("/v1/status", self._status)

    async def _page(self, _: web.Request) -> web.Response:
        return web.Response(
            body=self._files["status.html"],
            content_type="text/html",
            charset="utf-8",
            headers={"Content-Security-Policy": _CSP},
        )

    async def _asset(self, request: web.Request) -> web.Response:
        name = request.match_info["asset"]
        content_type = _ASSETS.get(name)
        if content_type is None:
            raise web.HTTPNotFound
        return web.Response(body=self._files[name], content_type=content_type, charset="utf-8")

    async def _status(self, _: web.Request) -> web.Response:
        statuses = await self.feed_store.all_statuses() if self.feed_store is not None else []
        document = status_document(
            self.deployment, MetricSnapshot.collect(), statuses, int(time.time() * 1000)
        )
        return web.Response(
            body=orjson.dumps(document),
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )


def _read(name: str) -> bytes:
    return resources.files("hub.gateway").joinpath(_STATIC, name).read_bytes()
