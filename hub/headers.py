"""Kafka header names the hub writes: one place, so producers and readers agree.

Provenance travels with every record; dead-letter records add why they failed;
bridges add where a record came from and which mapping converted it.
"""

from __future__ import annotations

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
