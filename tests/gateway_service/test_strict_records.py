"""The strict JSON checker of published records (hub.gateway.strict): every canonical example
passes, and each way JSON could be coerced or dropped by the encoder is refused with the
dotted path of the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from hub.codec import Encoder
from hub.gateway.strict import FieldProblem, RecordChecker
from hub.schemas import SchemaCatalogue

REPO = Path(__file__).resolve().parents[2]
#: Each canonical schema by its file's name.
SCHEMAS = {e.path.stem: e for e in SchemaCatalogue.load(REPO / "schemas" / "avro")}
EXAMPLES = sorted(p for p in (REPO / "schemas" / "examples").glob("*.json") if p.stem in SCHEMAS)


def entry(name: str) -> Any:
    return SCHEMAS[name]


def example(name: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(
        (REPO / "schemas" / "examples" / f"{name}.json").read_bytes()
    )
    return value


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_canonical_example_passes_and_encodes(path: Path) -> None:
    schema = entry(path.stem).parsed
    record = orjson.loads(path.read_bytes())  # as a publisher's JSON arrives
    assert RecordChecker(schema).check(record) == []
    Encoder(1, schema).encode(record)


def test_nested_records_arrays_and_enums_are_named_by_path() -> None:
    checker = RecordChecker(entry("ServiceAlert").parsed)
    alert = example("ServiceAlert")
    alert["cause"] = "ALIENS"
    alert["active_periods"][0]["start"] = "2025-07-02T06:21:03Z"
    alert["informed_entities"][0]["route_type"] = True
    alert["informed_entities"][0]["colour"] = "red"
    alert["header_text"] = {"text": "x", "language": "en"}
    del alert["alert_id"]
    problems = {p.field: p.detail for p in checker.check(alert)}
    assert set(problems) == {
        "cause",
        "active_periods[0].start",
        "informed_entities[0].route_type",
        "informed_entities[0].colour",
        "header_text",
        "alert_id",
    }
    assert problems["cause"].startswith("'ALIENS' is not one of UNKNOWN_CAUSE, OTHER_CAUSE")
    assert problems["active_periods[0].start"] == (
        "expected an integer (milliseconds since the epoch), got a string"
    )
    assert problems["informed_entities[0].route_type"] == (
        "expected an integer (32-bit), got a boolean"
    )
    assert "unknown field" in problems["informed_entities[0].colour"]
    assert problems["header_text"] == "expected an array, got an object"
    assert problems["alert_id"] == "is required"


def test_fields_with_defaults_may_be_left_out() -> None:
    alert = example("ServiceAlert")
    for field in ("active_periods", "cause", "url"):
        del alert[field]
    assert RecordChecker(entry("ServiceAlert").parsed).check(alert) == []


SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Thing",
    "namespace": "test.strict",
    "fields": [
        {"name": "count", "type": "int"},
        {"name": "total", "type": "long"},
        {"name": "ratio", "type": "float"},
        {"name": "value", "type": "double"},
        {"name": "flag", "type": "boolean"},
        {"name": "tags", "type": {"type": "map", "values": "long"}, "default": {}},
        {"name": "either", "type": ["null", "long", "string"], "default": None},
        {"name": "blob", "type": ["null", "bytes"], "default": None},
        {
            "name": "child",
            "type": ["null", "Thing"],  # a reference relative to the namespace, recursive
            "default": None,
        },
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
        {"name": "again", "type": ["null", "Kind"], "default": None},
    ],
}
GOOD: dict[str, Any] = {
    "count": 1,
    "total": 2**40,
    "ratio": 0.5,
    "value": 3,  # a JSON integer is a number
    "flag": False,
    "tags": {"a": 1},
    "either": "text",
    "child": {"count": 2, "total": 0, "ratio": 1, "value": 1.5, "flag": True, "kind": "B"},
    "kind": "A",
    "again": "B",
}


@pytest.mark.parametrize(
    ("path", "value", "detail"),
    [
        ("count", 2**31, "2147483648 is out of range for an integer (32-bit)"),
        ("count", 1.0, "expected an integer (32-bit), got 1.0"),
        ("total", True, "expected an integer, got a boolean"),
        ("total", 2.5, "expected an integer, got 2.5"),
        ("ratio", 1e39, "1e+39 is out of range for a float"),
        ("value", False, "expected a number, got a boolean"),
        ("value", None, "expected a number, got null"),
        ("value", "1.5", "expected a number, got a string"),
        ("flag", 0, "expected a boolean, got 0"),
        ("tags", {"a": 1.5}, "expected an integer, got 1.5"),
        ("tags", [1], "expected an object, got an array"),
        ("either", True, "expected one of the types null, long, string; got a boolean"),
        ("blob", "AAEC", "bytes cannot be published as JSON"),
        ("child", {"count": "2"}, None),
        ("kind", "C", "'C' is not one of A, B"),
        ("again", 1, "expected one of A, B; got 1"),
    ],
)
def test_each_wrong_json_type_is_refused(path: str, value: Any, detail: str | None) -> None:
    checker = RecordChecker(SCHEMA)
    record = copy.deepcopy(GOOD)
    record[path] = value
    problems = checker.check(record)
    if detail is None:  # the nested record: every problem named under its field
        assert {p.field for p in problems} == {
            "child.count",
            "child.total",
            "child.ratio",
            "child.value",
            "child.flag",
            "child.kind",
        }
        assert FieldProblem("child.count", "expected an integer (32-bit), got a string") in problems
        return
    field = f"{path}.a" if path == "tags" and isinstance(value, dict) else path
    assert problems == [FieldProblem(field, detail)]


def test_a_good_record_passes_and_encodes_to_what_was_given() -> None:
    assert RecordChecker(SCHEMA).check(GOOD) == []
    Encoder(1, SCHEMA).encode(GOOD)


def test_unknown_fields_are_named_at_every_depth() -> None:
    record = copy.deepcopy(GOOD)
    record["extra"] = 1
    record["child"]["nested_extra"] = None
    problems = RecordChecker(SCHEMA).check(record)
    assert [p.field for p in problems] == ["child.nested_extra", "extra"]
    assert problems[1].detail == "unknown field: test.strict.Thing has no field 'extra'"


def test_a_schema_with_an_undefined_reference_is_refused_when_built() -> None:
    schema = {"type": "record", "name": "R", "fields": [{"name": "x", "type": "Nowhere"}]}
    with pytest.raises(ValueError, match="Nowhere"):
        RecordChecker(schema)


def test_checking_stops_at_the_limit_of_problems() -> None:
    """A record of 100,000 unknown fields yields the few problems anyone reads, not 100,000."""
    record = {**GOOD, **{f"f{i}": i for i in range(100_000)}}
    checker = RecordChecker(SCHEMA)
    assert [p.field for p in checker.check(record, limit=5)] == ["f0", "f1", "f2", "f3", "f4"]
    assert len(checker.check(record)) == 100
    # A union inside stops at its own first problem without stopping the record's check.
    record = copy.deepcopy(GOOD)
    record["either"], record["kind"] = [1], "Z"
    assert [p.field for p in checker.check(record, limit=2)] == ["either", "kind"]
