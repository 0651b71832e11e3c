"""Metrics of the gateway (labels: topic; never a key or a client address)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from hub.metrics import REGISTRY

SUBSCRIBERS = Gauge(
    "tsunagu_gateway_subscribers", "Connected stream subscribers.", ["topic"], registry=REGISTRY
)
EVENTS = Counter(
    "tsunagu_gateway_events_sent_total",
    "Records sent to stream subscribers.",
    ["topic"],
    registry=REGISTRY,
)
OVERFLOWS = Counter(
    "tsunagu_gateway_overflows_total",
    "Subscribers closed for falling too far behind or leaving too much unread.",
    ["topic"],
    registry=REGISTRY,
)
STREAMS_ENDED = Counter(
    "tsunagu_gateway_streams_ended_total",
    "Streams the gateway ended itself, by reason: overflow, revoked-key, invalid-key,"
    " grant-expired, no-grant.",
    ["topic", "reason"],
    registry=REGISTRY,
)
PUBLISHED = Counter(
    "tsunagu_gateway_published_records_total",
    "Records published over HTTP and acknowledged by Kafka.",
    ["topic"],
    registry=REGISTRY,
)
IDEMPOTENCY_TAKEOVERS = Counter(
    "tsunagu_gateway_idempotency_takeovers_total",
    "Retries that took over the placeholder of a request whose process crashed or ran out "
    "of time (that request may have reached Kafka: its records carry the same "
    "idempotency-key header).",
    ["topic"],
    registry=REGISTRY,
)
PUBLISH_REFUSED = Counter(
    "tsunagu_gateway_publish_refused_total",
    "Authorised publish requests answered with a problem (bad or incomplete body, too large, "
    "invalid records, Kafka unavailable), by topic and HTTP status; nothing of them was "
    "published.",
    ["topic", "status"],
    registry=REGISTRY,
)
LATEST_BYTES = Gauge(
    "tsunagu_gateway_latest_state_bytes",
    "Memory accounted to a topic's latest state (encoded values, keys and overhead).",
    ["topic"],
    registry=REGISTRY,
)
LATEST_OVER_BUDGET = Counter(
    "tsunagu_gateway_latest_over_budget_total",
    "Latest states stopped and freed for passing their topic's or the total memory budget.",
    ["topic"],
    registry=REGISTRY,
)
