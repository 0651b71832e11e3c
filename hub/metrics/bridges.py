"""Metrics of bridges (labels: bridge, kind, partition; never an entity id)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from hub.metrics import REGISTRY

RECORDS_IN = Counter(
    "tsunagu_bridge_records_in_total", "Source records consumed.", ["bridge"], registry=REGISTRY
)
RECORDS_OUT = Counter(
    "tsunagu_bridge_records_out_total",
    "Converted records acknowledged by the target cluster.",
    ["bridge"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "tsunagu_bridge_dead_letters_total",
    "Records sent to the dead-letter topic.",
    ["bridge"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "tsunagu_bridge_conversion_errors_total",
    "Conversion errors by kind (decode, mapping, schema).",
    ["bridge", "kind"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "tsunagu_bridge_latency_seconds",
    "From the source record's timestamp to the target's acknowledgement.",
    ["bridge"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
LAG = Gauge(
    "tsunagu_bridge_consumer_lag",
    "Source records not yet consumed, per owned partition.",
    ["bridge", "partition"],
    registry=REGISTRY,
)
