"""The canonical schemas in schemas/avro/: parseable by fastavro and Apache Avro, documented field
by field, every record starting with the envelope, enums that can grow, and each schema
registrable, encodable and compatible with itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import avro.schema
import fastavro
import pytest

from hub.codec import Decoder, Encoder
from hub.registry.compatibility import check
from hub.schemas import SchemaCatalogue

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas" / "avro"
FILES = sorted(SCHEMA_DIR.glob("*.avsc"))
ENVELOPE = ["id", "area", "source_feed", "observed_at", "ingested_at"]
REQUIRED_NAMES = {
    "tsunagu.mobility.VehiclePosition",
    "tsunagu.mobility.TripUpdate",
    "tsunagu.mobility.ServiceAlert",
    "tsunagu.mobility.Stop",
    "tsunagu.mobility.Route",
    "tsunagu.mobility.Trip",
    "tsunagu.mobility.StopTime",
    "tsunagu.mobility.SharedMobilityStation",
    "tsunagu.mobility.SharedVehicle",
    "tsunagu.mobility.VehicleType",
    "tsunagu.city.Facility",
    "tsunagu.city.SensorObservation",
    "tsunagu.city.ParkingAvailability",
}


def raw(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def named_types(schema: Any) -> list[dict[str, Any]]:
    """Every record and enum defined anywhere in ``schema``."""
    found: list[dict[str, Any]] = []
    if isinstance(schema, dict):
        if schema.get("type") in {"record", "enum"}:
            found.append(schema)
        for field in schema.get("fields", []):
            found += named_types(field["type"])
        if schema.get("type") == "array":
            found += named_types(schema["items"])
        if schema.get("type") == "map":
            found += named_types(schema["values"])
    elif isinstance(schema, list):
        for branch in schema:
            found += named_types(branch)
    return found


def test_every_required_record_type_has_its_schema() -> None:
    catalogue = SchemaCatalogue.load(SCHEMA_DIR)
    assert set(catalogue.names()) >= REQUIRED_NAMES


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_parses_in_fastavro_and_apache_avro_and_is_named_after_its_file(path: Path) -> None:
    schema = raw(path)
    fastavro.parse_schema(schema)
    parsed = avro.schema.parse(path.read_text())
    assert parsed.name == path.stem  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_starts_with_the_envelope(path: Path) -> None:
    fields = raw(path)["fields"]
    assert [f["name"] for f in fields[:5]] == ENVELOPE
    assert fields[0]["type"] == "string"
    assert "urn:ngsi-ld:" in fields[0]["doc"]
    for field in fields[3:5]:
        assert field["type"] == {"type": "long", "logicalType": "timestamp-millis"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_everything_is_documented_and_enums_can_grow(path: Path) -> None:
    for named in named_types(raw(path)):
        assert named.get("doc"), f"{named['name']} has no doc"
        if named["type"] == "enum":
            assert named.get("default") in named["symbols"], f"{named['name']} needs a default"
        for field in named.get("fields", []):
            assert field.get("doc"), f"{named['name']}.{field['name']} has no doc"
            if isinstance(field["type"], list) and field["type"][0] == "null":
                assert "default" in field, f"{named['name']}.{field['name']}: default null"
                assert field["default"] is None


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_numeric_fields_name_their_unit(path: Path) -> None:
    units = (
        "degree",
        "metre",
        "second",
        "percent",
        "fraction",
        "km/h",
        "vehicle",
        "dock",
        "person",
        "count",
        "unit",
        "gtfs",
        "order",
        "millisecond",
        "number",
        "wheel",
        "rider",
        "0-1",
    )
    for named in named_types(raw(path)):
        for field in named.get("fields", []):
            kind = field["type"][-1] if isinstance(field["type"], list) else field["type"]
            if isinstance(kind, str) and kind in {"int", "long", "float", "double"}:
                doc = field["doc"].lower()
                assert any(u in doc for u in units), f"{named['name']}.{field['name']}: unit?"


def shared_definitions() -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for path in FILES:
        for named in named_types(raw(path))[1:]:
            full = named.get("namespace", "") + "." + named["name"]
            out.setdefault(full, []).append((path.name, json.dumps(named, sort_keys=True)))
    return out


def test_a_nested_type_is_defined_the_same_way_in_every_file() -> None:
    for full, definitions in shared_definitions().items():
        assert len({text for _, text in definitions}) == 1, f"{full} differs across files"


def minimal(schema: dict[str, Any]) -> dict[str, Any]:
    """A record with every required field set to a plain value and optionals defaulted."""
    values: dict[str, Any] = {}
    for field in schema["fields"]:
        if "default" in field:
            continue
        kind = field["type"]
        if isinstance(kind, dict) and kind.get("logicalType") == "timestamp-millis":
            values[field["name"]] = 1_700_000_000_000
        elif kind == "string":
            values[field["name"]] = f"urn:ngsi-ld:X:kaga:{field['name']}"
        elif kind in {"int", "long"}:
            values[field["name"]] = 3
        elif kind in {"float", "double"}:
            values[field["name"]] = 36.3
        elif kind == "boolean":
            values[field["name"]] = True
        else:
            raise AssertionError(f"no sample for {field['name']}: {kind}")
    return values


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_round_trips_through_the_codec_and_is_compatible_with_itself(path: Path) -> None:
    schema = raw(path)
    record = minimal(schema)
    encoder = Encoder(7, schema)
    decoder = Decoder(schema)
    decoder.add_writer(7, schema)
    decoded = decoder.decode(encoder.encode(record))
    assert {k: decoded[k] for k in record} == record
    text = path.read_text()
    assert check("FULL_TRANSITIVE", text, [text]) == []
