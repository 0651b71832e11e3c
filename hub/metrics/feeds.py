"""Metrics of feed ingestion (labels: feed, topic, outcome; never an entity id)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from hub.metrics import REGISTRY

FETCHES = Counter(
    "tsunagu_feed_fetches_total",
    "Fetch attempts by outcome (ok, not_modified, error).",
    ["feed", "outcome"],
    registry=REGISTRY,
)
FETCH_SECONDS = Histogram(
    "tsunagu_feed_fetch_duration_seconds",
    "Duration of one fetch attempt.",
    ["feed"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
FETCH_BYTES = Counter(
    "tsunagu_feed_fetched_bytes_total", "Body bytes received.", ["feed"], registry=REGISTRY
)
RECORDS = Counter(
    "tsunagu_feed_records_total",
    "Records of a feed by outcome (produced, unchanged, dead_letter, retired: tombstones).",
    ["feed", "topic", "outcome"],
    registry=REGISTRY,
)
CYCLES = Counter(
    "tsunagu_feed_cycles_total",
    "Polling cycles by outcome (ok, not_modified, error).",
    ["feed", "outcome"],
    registry=REGISTRY,
)
UP = Gauge(
    "tsunagu_feed_up",
    "1 while the feed's last cycle succeeded, else 0.",
    ["feed"],
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "tsunagu_feed_last_success_timestamp_seconds",
    "When the feed last completed a cycle (Unix time).",
    ["feed"],
    registry=REGISTRY,
)
NEWEST_DATA = Gauge(
    "tsunagu_feed_newest_data_timestamp_seconds",
    "observed_at of the newest record the feed has published (Unix time).",
    ["feed"],
    registry=REGISTRY,
)
FRESHNESS = Gauge(
    "tsunagu_feed_data_age_seconds",
    "Age of the newest data the feed has published, at scrape time (alert on this).",
    ["feed"],
    registry=REGISTRY,
)
