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
    "Subscribers closed for falling too far behind.",
    ["topic"],
    registry=REGISTRY,
)
PUBLISHED = Counter(
    "tsunagu_gateway_published_records_total",
    "Records published over HTTP and acknowledged by Kafka.",
    ["topic"],
    registry=REGISTRY,
)
PUBLISH_FAILURES = Counter(
    "tsunagu_gateway_publish_failures_total",
    "HTTP publish requests answered 503 because Kafka did not acknowledge, by reason "
    "(timeout: not within hub.publish_timeout; kafka: a delivery error).",
    ["topic", "reason"],
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
