"""The canonical schemas in schemas/avro/ and their examples in schemas/examples/: parseable by
fastavro and Apache Avro, documented field by field with units, every record starting with the
envelope, enums that can grow, shared nested types identical everywhere, and each example valid,
encodable through the hub's codec and keyed by a URN of its schema's NGSI-LD type."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import avro.schema
import fastavro
import pytest
from fastavro.validation import validate

from hub.codec import Decoder, Encoder
from hub.registry.compatibility import check
from hub.schemas import SchemaCatalogue

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas" / "avro"
EXAMPLE_DIR = SCHEMA_DIR.parent / "examples"
FILES = sorted(SCHEMA_DIR.glob("*.avsc"))
ENVELOPE = ["id", "area", "source_feed", "observed_at", "ingested_at"]
TIMESTAMP = {"type": "long", "logicalType": "timestamp-millis"}

#: Full name of every canonical record type -> the <Type> segment of its ids' URNs.
URN_TYPES = {
    "tsunagu.mobility.VehiclePosition": "Vehicle",
    "tsunagu.mobility.TripUpdate": "TripUpdate",
    "tsunagu.mobility.ServiceAlert": "Alert",
    "tsunagu.mobility.Stop": "GtfsStop",
    "tsunagu.mobility.Route": "GtfsRoute",
    "tsunagu.mobility.Trip": "GtfsTrip",
    "tsunagu.mobility.StopTime": "GtfsStopTime",
    "tsunagu.mobility.SharedMobilityStation": "BikeHireDockingStation",
    "tsunagu.mobility.SharedVehicle": "Vehicle",
    "tsunagu.mobility.VehicleType": "VehicleType",
    "tsunagu.city.Facility": "PointOfInterest",
    "tsunagu.city.SensorObservation": "Device",
    "tsunagu.city.ParkingAvailability": "OffStreetParking",
}

#: Words that name a unit (or say the number is a code, an order or a count of things).
UNIT_WORDS = (
    "degree",
    "metre",
    "second",
    "minute",
    "percent",
    "fraction",
    "km/h",
    "litre",
    "kilogram",
    "gram",
    "watt",
    "vehicle",
    "dock",
    "person",
    "count",
    "in unit",
    "units of",
    "gtfs",
    "order",
    "millisecond",
    "number",
    "wheel",
    "rider",
    "code",
)


def raw(path: Path) -> dict[str, Any]:
    """The JSON of one .avsc file."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def full_name(named: dict[str, Any]) -> str:
    return f"{named.get('namespace', '')}.{named['name']}"


def example(path: Path) -> dict[str, Any]:
    """The example record of the schema in ``path``."""
    data: dict[str, Any] = json.loads(
        (EXAMPLE_DIR / f"{path.stem}.json").read_text(encoding="utf-8")
    )
    return data


def named_types(schema: Any) -> list[dict[str, Any]]:
    """Every record and enum defined anywhere in ``schema``, the top level first."""
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


def test_every_canonical_record_type_has_its_schema_and_example() -> None:
    catalogue = SchemaCatalogue.load(SCHEMA_DIR)
    assert set(catalogue.names()) >= set(URN_TYPES)
    assert {full_name(raw(p)) for p in FILES} == set(URN_TYPES)
    assert sorted(p.stem for p in EXAMPLE_DIR.glob("*.json")) == [p.stem for p in FILES]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_parses_in_fastavro_and_apache_avro_and_is_named_after_its_file(path: Path) -> None:
    schema = raw(path)
    parsed_by_fastavro: dict[str, Any] = fastavro.parse_schema(schema)  # type: ignore[assignment]
    assert parsed_by_fastavro["name"] == full_name(schema)
    parsed = avro.schema.parse(path.read_text(encoding="utf-8"))
    assert parsed.fullname == full_name(schema)  # type: ignore[attr-defined]
    assert schema["name"] == path.stem


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_starts_with_the_envelope(path: Path) -> None:
    schema = raw(path)
    fields = schema["fields"]
    assert [f["name"] for f in fields[:5]] == ENVELOPE
    assert [f["type"] for f in fields[:5]] == ["string", "string", "string", TIMESTAMP, TIMESTAMP]
    urn_type = URN_TYPES[full_name(schema)]
    assert f"urn:ngsi-ld:{urn_type}:<area id_namespace>:<local id>" in fields[0]["doc"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_everything_is_documented_and_enums_can_grow(path: Path) -> None:
    for named in named_types(raw(path)):
        assert named.get("doc", "").strip(), f"{named['name']} has no doc"
        if named["type"] == "enum":
            assert named.get("default") in named["symbols"], f"{named['name']} needs a default"
        for field in named.get("fields", []):
            where = f"{named['name']}.{field['name']}"
            assert field.get("doc", "").strip(), f"{where} has no doc"
            assert re.fullmatch(r"[a-z][a-z0-9_]*", field["name"]), f"{where}: not snake_case"
            kind = field["type"]
            if isinstance(kind, list):
                assert kind[0] == "null", f"{where}: optional means null first"
                assert "default" in field, f"{where}: needs default null"
                assert field["default"] is None, f"{where}: default must be null"
            if isinstance(kind, dict) and kind["type"] == "array":
                assert field.get("default") == [], f"{where}: arrays default to []"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_numeric_fields_name_their_unit(path: Path) -> None:
    for named in named_types(raw(path)):
        for field in named.get("fields", []):
            kind = field["type"][-1] if isinstance(field["type"], list) else field["type"]
            if isinstance(kind, dict) and kind.get("logicalType") == "timestamp-millis":
                assert "millisecond" in field["doc"] or field["name"] in ENVELOPE, field["name"]
            elif isinstance(kind, str) and kind in {"int", "long", "float", "double"}:
                doc = field["doc"].lower()
                assert any(u in doc for u in UNIT_WORDS), f"{named['name']}.{field['name']}: unit?"


def test_positions_are_degrees_wgs84() -> None:
    for path in FILES:
        for field in raw(path)["fields"]:
            if field["name"] in {"latitude", "longitude"}:
                assert "double" in json.dumps(field["type"]), f"{path.stem}.{field['name']}"
                assert "degrees WGS84" in field["doc"], f"{path.stem}.{field['name']}"


def shared_definitions() -> dict[str, list[tuple[str, str]]]:
    """Every nested named type -> (file, canonical JSON of its definition) per defining file."""
    out: dict[str, list[tuple[str, str]]] = {}
    for path in FILES:
        for named in named_types(raw(path))[1:]:
            out.setdefault(full_name(named), []).append(
                (path.name, json.dumps(named, sort_keys=True))
            )
    return out


def test_a_nested_type_is_defined_the_same_way_in_every_file() -> None:
    definitions = shared_definitions()
    # LocalizedText is used by most files: a wrong walk finding it nowhere must not pass.
    assert len(definitions["tsunagu.common.LocalizedText"]) >= 9
    for full, found in definitions.items():
        texts = {text for _, text in found}
        assert len(texts) == 1, f"{full} differs across {[name for name, _ in found]}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_the_example_is_complete_valid_and_keyed_by_its_urn(path: Path) -> None:
    schema = raw(path)
    record = example(path)
    assert list(record) == [f["name"] for f in schema["fields"]], "example field order/coverage"
    assert validate(record, fastavro.parse_schema(schema), raise_errors=True)
    urn_type = URN_TYPES[full_name(schema)]
    assert re.match(rf"^urn:ngsi-ld:{urn_type}:[^:]+:.+", record["id"]), record["id"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_the_example_round_trips_through_the_codec(path: Path) -> None:
    schema = raw(path)
    record = example(path)
    encoder = Encoder(7, schema)
    decoder = Decoder(schema)
    decoder.add_writer(7, schema)
    assert decoder.decode(encoder.encode(record)) == record


def minimal(schema: dict[str, Any]) -> dict[str, Any]:
    """A record with every required top-level field set and every optional one left out."""
    samples: dict[str, Any] = {"string": "x", "int": 3, "long": 3, "double": 36.3}
    samples.update({"float": 0.5, "boolean": True})
    values: dict[str, Any] = {}
    for field in schema["fields"]:
        if "default" in field:
            continue
        kind = field["type"]
        if kind == TIMESTAMP:
            values[field["name"]] = 1_700_000_000_000
        else:
            assert kind in samples, f"no sample for {field['name']}: {kind}"
            values[field["name"]] = samples[kind]
    return values


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_record_of_only_required_fields_gets_the_defaults(path: Path) -> None:
    schema = raw(path)
    record = minimal(schema)
    decoder = Decoder(schema)
    decoder.add_writer(1, schema)
    decoded = decoder.decode(Encoder(1, schema).encode(record))
    for field in schema["fields"]:
        expected = record[field["name"]] if field["name"] in record else field["default"]
        assert decoded[field["name"]] == expected, field["name"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_is_compatible_with_itself(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert check("FULL_TRANSITIVE", text, [text]) == []
