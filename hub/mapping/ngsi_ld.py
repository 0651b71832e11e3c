"""Mapped records as NGSI-LD entities (normalized JSON-LD), for a FIWARE-based city OS.

The mapping produces a record of the target topic's schema (its fields are the entity's
attribute names, as the area's Smart Data Models spell them); this turns it into::

    {"id": "urn:ngsi-ld:BusLocation:ishikawa:kaga-bus-7", "type": "BusLocation",
     "speed": {"type": "Property", "value": 36.0, "observedAt": "2023-11-14T22:13:32.345Z"},
     "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
     "refRoute": {"type": "Relationship", "object": "urn:ngsi-ld:Route:..."},
     "@context": [...]}

A latitude/longitude pair becomes the ``location`` GeoProperty (GeoJSON order: longitude
first); ids of other entities (``urn:ngsi-ld:`` values) become Relationships; timestamps
become ``DateTime`` values; the record's observation time becomes every attribute's
``observedAt``. Null fields are left out, as NGSI-LD has no null attribute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from hub.codec import Encoder
from hub.errors import EncodeError

__all__ = ["NgsiLdEncoder", "to_entity"]

_PAIRS = (("latitude", "longitude"), ("lat", "lon"), ("lat", "lng"))
_OBSERVED = ("observed_at", "observedAt")
_ENVELOPE = {"id", "type", *_OBSERVED}


def _iso(millis: int) -> str:
    return (
        datetime.fromtimestamp(millis / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _timestamp_fields(schema: Mapping[str, Any]) -> set[str]:
    out = set()
    for field in schema.get("fields", []):
        branches = field["type"] if isinstance(field["type"], list) else [field["type"]]
        if any(
            isinstance(b, dict) and b.get("logicalType") in {"timestamp-millis"} for b in branches
        ):
            out.add(field["name"])
    return out


def to_entity(
    record: Mapping[str, Any],
    *,
    context: Sequence[str] | str,
    entity_type: str | None = None,
    timestamps: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The NGSI-LD normalized entity for ``record`` (``id`` must be an NGSI-LD URN)."""
    entity_id = record["id"]
    if not isinstance(entity_id, str) or not entity_id.startswith("urn:ngsi-ld:"):
        raise ValueError(f"id {entity_id!r} is not an NGSI-LD URN (urn:ngsi-ld:<Type>:...)")
    kind = entity_type or entity_id.split(":")[2]
    observed = next((record[k] for k in _OBSERVED if record.get(k) is not None), None)
    observed_at = _iso(observed) if isinstance(observed, int) else None
    entity: dict[str, Any] = {"id": entity_id, "type": kind}
    taken: set[str] = set()
    for lat, lon in _PAIRS:
        if record.get(lat) is not None and record.get(lon) is not None:
            entity["location"] = _attribute(
                "GeoProperty",
                {"type": "Point", "coordinates": [record[lon], record[lat]]},
                observed_at,
            )
            taken |= {lat, lon}
            break
    for name, value in record.items():
        if name in _ENVELOPE or name in taken or value is None:
            continue
        if name in timestamps and isinstance(value, int):
            entity[name] = _attribute(
                "Property", {"@type": "DateTime", "@value": _iso(value)}, observed_at
            )
        elif isinstance(value, str) and value.startswith("urn:ngsi-ld:"):
            relationship: dict[str, Any] = {"type": "Relationship", "object": value}
            if observed_at:
                relationship["observedAt"] = observed_at
            entity[name] = relationship
        else:
            entity[name] = _attribute("Property", value, observed_at)
    entity["@context"] = [context] if isinstance(context, str) else list(context)
    return entity


def _attribute(kind: str, value: Any, observed_at: str | None) -> dict[str, Any]:
    attribute = {"type": kind, "value": value}
    if observed_at:
        attribute["observedAt"] = observed_at
    return attribute


class NgsiLdEncoder:
    """Encodes mapped records of one target schema as NGSI-LD JSON-LD documents."""

    def __init__(
        self, schema: Mapping[str, Any], context: Sequence[str], entity_type: str | None = None
    ) -> None:
        self.context = list(context)
        self.entity_type = entity_type
        self.timestamps = frozenset(_timestamp_fields(schema))

    def __call__(self, encoder: Encoder, record: dict[str, Any]) -> bytes:
        # The record must still fit the target schema (the entity's shape): encoding it is
        # the check, and a misfit goes to the dead-letter topic like any other.
        encoder.encode(record)
        try:
            entity = to_entity(
                record,
                context=self.context,
                entity_type=self.entity_type,
                timestamps=self.timestamps,
            )
            return orjson.dumps(entity)
        except (ValueError, TypeError, KeyError) as exc:  # orjson's errors are TypeErrors
            raise EncodeError(f"not an NGSI-LD entity: {exc}", record) from exc
