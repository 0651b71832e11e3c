"""Kafka headers the hub writes: their names and the builders of each set, one place, so
producers and readers agree.

Provenance travels with every record (``Provenance``); dead-letter records add why they
failed (``dead_letter``); bridges add where a record came from and which mapping
converted it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Provenance", "dead_letter"]

# provenance of every record the hub produces
SOURCE_FEED = "tsunagu-source-feed"
AREA = "tsunagu-area"
INGESTED_AT = "tsunagu-ingested-at"  # milliseconds since the epoch, decimal text
CONTENT_HASH = "tsunagu-content-hash"  # hex digest of the record without its ingestion time

# dead-letter records
ERROR_KIND = "tsunagu-error-kind"  # e.g. "schema", "mapping", "decode"
ERROR_STAGE = "tsunagu-error-stage"  # e.g. "encode", "map", "decode"
ERROR_MESSAGE = "tsunagu-error-message"
INTENDED_TOPIC = "tsunagu-intended-topic"

# bridges
ORIGIN_AREA = "tsunagu-origin-area"
ORIGIN_TOPIC = "tsunagu-origin-topic"
ORIGIN_PARTITION = "tsunagu-origin-partition"
ORIGIN_OFFSET = "tsunagu-origin-offset"
MAPPING = "tsunagu-mapping"  # name@version
IDEMPOTENCY_KEY = "tsunagu-idempotency-key"


Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Provenance:
    """Where a batch of records came from, written into every record's headers."""

    source: str  # the feed id, or "http:<key name>"
    area: str
    ingested_at_ms: int

    def headers(self) -> Headers:
        return [
            (SOURCE_FEED, self.source.encode()),
            (AREA, self.area.encode()),
            (INGESTED_AT, str(self.ingested_at_ms).encode()),
        ]


def dead_letter(base: Headers, intended_topic: str, kind: str, stage: str, message: str) -> Headers:
    """The headers of a dead-letter record: ``base`` (its provenance or origin), then the
    topic it was meant for, what kind of failure, at which stage, and why."""
    return [
        *base,
        (INTENDED_TOPIC, intended_topic.encode()),
        (ERROR_KIND, kind.encode()),
        (ERROR_STAGE, stage.encode()),
        (ERROR_MESSAGE, message.encode()),
    ]
