"""Every Prometheus metric the hub exports: the hub's own here, the feeds' in
`hub.metrics.feeds`, the bridges' in `hub.metrics.bridges` (below the gateway, whose status
page reads them as objects), the gateway's own in `hub.gateway.metrics`.

Other modules call these objects (or the small hooks below); names follow
Prometheus conventions: a ``tsunagu_`` prefix, base units, ``_total`` counters,
and labels of bounded cardinality (feed, topic, area; never an entity id).
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    gc_collector,
    platform_collector,
    process_collector,
)

from hub import __version__

#: The registry /metrics serves: process and platform metrics plus the hub's own.
REGISTRY = CollectorRegistry(auto_describe=True)
process_collector.ProcessCollector(registry=REGISTRY)
platform_collector.PlatformCollector(registry=REGISTRY)
gc_collector.GCCollector(registry=REGISTRY)

BUILD = Info("tsunagu_build", "Version of the running hub.", registry=REGISTRY)
BUILD.info({"version": __version__})

READY = Gauge(
    "tsunagu_component_ready",
    "1 when a component (broker, registry, store, http) is ready, else 0.",
    ["component"],
    registry=REGISTRY,
)

HTTP_REQUESTS = Counter(
    "tsunagu_http_requests_total",
    "HTTP requests answered, by route template and status class.",
    ["route", "status"],
    registry=REGISTRY,
)

HTTP_DURATION = Histogram(
    "tsunagu_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["route"],
    registry=REGISTRY,
)

RECORDS_PRODUCED = Counter(
    "tsunagu_records_produced_total",
    "Records acknowledged by Kafka, by topic.",
    ["topic"],
    registry=REGISTRY,
)

REGISTRY_WRITES_REFUSED = Counter(
    "tsunagu_registry_writes_refused_total",
    "Writes to the embedded schema registry refused, by HTTP status (401, 403, 429).",
    ["status"],
    registry=REGISTRY,
)

AUDIT_COMMITS = Counter(
    "tsunagu_audit_commits_total",
    "Audit log commits; each writes a burst of entries (entries / commits = batching).",
    registry=REGISTRY,
)

AUDIT_ENTRIES = Counter(
    "tsunagu_audit_entries_total", "Audit log entries committed.", registry=REGISTRY
)

AUDIT_FAILURES = Counter(
    "tsunagu_audit_write_failures_total",
    "Audit batches the store refused; the accepted publishes waiting on them failed.",
    registry=REGISTRY,
)

AUDIT_CHECKPOINT_FAILURES = Counter(
    "tsunagu_audit_checkpoint_publish_failures_total",
    "Audit checkpoints that could not be published to Kafka (the next commit retries).",
    registry=REGISTRY,
)

UNDECODABLE = Counter(
    "tsunagu_undecodable_records_total",
    "Records skipped (gateway) or dead-lettered (bridges) because their bytes are not a "
    "record of their topic's format, by topic and reason.",
    ["topic", "reason"],
    registry=REGISTRY,
)


def set_ready(component: str, ready: bool) -> None:
    """Record whether ``component`` is ready (drives /readyz and an alertable gauge)."""
    READY.labels(component).set(1 if ready else 0)
