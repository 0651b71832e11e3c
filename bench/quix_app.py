"""The peer of the bridge benchmark: a Quix Streams application doing the bridge's mapping by
hand (run with the interpreter of a virtualenv that has quixstreams and fastavro).

Usage: python quix_app.py BOOTSTRAP SOURCE TARGET COUNT SOURCE_SCHEMA TARGET_SCHEMA TARGET_ID
"""

from __future__ import annotations

import io
import json
import struct
import sys
import uuid
from typing import Any

import fastavro
from quixstreams import Application


def plain(schema: Any) -> Any:
    """The schema without logical types, so times read as the integers on the wire (as the
    hub's decoder reads them)."""
    if isinstance(schema, dict):
        return {k: plain(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [plain(s) for s in schema]
    return schema


def main() -> None:
    bootstrap, source, target, count_text, source_schema, target_schema, target_id = sys.argv[1:]
    count = int(count_text)
    with open(source_schema) as file:
        reader = fastavro.parse_schema(plain(json.load(file)))
    with open(target_schema) as file:
        writer = fastavro.parse_schema(json.load(file))
    frame = struct.pack(">bI", 0, int(target_id))
    app = Application(
        broker_address=bootstrap,
        consumer_group=f"quix-bench-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        loglevel="WARNING",
    )
    source_topic = app.topic(source, value_deserializer="bytes", key_deserializer="bytes")
    target_topic = app.topic(target, value_serializer="bytes", key_serializer="bytes")
    seen = 0

    def convert(value: bytes) -> bytes:
        nonlocal seen
        record: dict[str, Any] = fastavro.schemaless_reader(io.BytesIO(value[5:]), reader, reader)  # type: ignore[assignment]
        _, namespace, local = record["id"].split(":", 4)[2:]
        speed = record["speed"]
        observed = record["observed_at"]
        out = {
            "id": f"urn:ngsi-ld:BusLocation:ishikawa:{namespace}-{local}",
            "area": "ishikawa",
            "source_feed": record["source_feed"],
            "observed_at": observed - observed % 60_000,
            "ingested_at": record["ingested_at"],
            "busNumber": record["vehicle_label"],
            "routeCode": record["route_id"],
            "lat": record["latitude"],
            "lon": record["longitude"],
            "speedKmh": None if speed is None else speed * 3.6,
            "city": "Kaga",
        }
        buffer = io.BytesIO()
        buffer.write(frame)
        fastavro.schemaless_writer(buffer, writer, out)
        seen += 1
        if seen >= count:
            app.stop()
        return buffer.getvalue()

    app.dataframe(source_topic).apply(convert).to_topic(target_topic)
    app.run()


if __name__ == "__main__":
    main()
