"""Compatibility levels on real schema evolutions, checked with Apache Avro's rules."""

from __future__ import annotations

import json

import pytest

from hub.errors import SchemaError
from hub.registry.compatibility import DEFAULT_LEVEL, CompatibilityLevel, check

from .conftest import record

L = CompatibilityLevel

BASE_FIELDS: list[dict[str, object]] = [
    {"name": "id", "type": "string"},
    {"name": "count", "type": "int"},
    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["BUS", "TRAM"]}},
    {"name": "note", "type": "string", "default": ""},
]
V1 = record(*BASE_FIELDS)


def evolve(change: str) -> str:
    """V1 with one named change applied."""
    fields = json.loads(json.dumps(BASE_FIELDS))
    if change == "add field with default":
        fields.append({"name": "speed", "type": ["null", "double"], "default": None})
    elif change == "add field without default":
        fields.append({"name": "speed", "type": "double"})
    elif change == "remove field without default":
        fields = [f for f in fields if f["name"] != "count"]
    elif change == "remove field with default":
        fields = [f for f in fields if f["name"] != "note"]
    elif change == "promote int to long":
        fields[1]["type"] = "long"
    elif change == "add enum symbol":
        fields[2]["type"]["symbols"].append("TRAIN")
    else:
        raise AssertionError(change)
    return record(*fields)


# (change, BACKWARD ok, FORWARD ok): what Avro schema resolution says about each change.
EVOLUTIONS = [
    ("add field with default", True, True),
    ("add field without default", False, True),
    ("remove field without default", True, False),
    ("remove field with default", True, True),
    ("promote int to long", True, False),
    ("add enum symbol", True, False),
]


@pytest.mark.parametrize(("change", "backward_ok", "forward_ok"), EVOLUTIONS)
@pytest.mark.parametrize("level", list(L))
def test_each_level_on_each_evolution(
    level: CompatibilityLevel, change: str, backward_ok: bool, forward_ok: bool
) -> None:
    reasons = check(level, evolve(change), [V1])
    expected_ok = {
        "NONE": True,
        "BACKWARD": backward_ok,
        "FORWARD": forward_ok,
        "FULL": backward_ok and forward_ok,
    }[level.value.removesuffix("_TRANSITIVE")]
    assert (reasons == []) is expected_ok, reasons


def test_reason_names_the_field_and_its_location() -> None:
    (reason,) = check(L.BACKWARD, evolve("add field without default"), [V1], labels=["version 1"])
    assert "the new schema cannot read data written with version 1" in reason
    assert "field 'speed'" in reason
    assert "/fields/4" in reason
    assert "no default" in reason


def test_forward_reason_names_the_old_reader_and_the_type_change() -> None:
    (reason,) = check(L.FORWARD, evolve("promote int to long"), [V1], labels=["version 7"])
    assert reason.startswith("version 7 cannot read data written with the new schema")
    assert "field 'count'" in reason
    assert "/fields/1/type" in reason
    assert "reader type: int not compatible with writer type: long" in reason


def test_enum_reason_names_the_missing_symbol() -> None:
    (reason,) = check(L.FORWARD, evolve("add enum symbol"), [V1])
    assert "enum tsunagu.mobility.Kind" in reason
    assert "field 'kind'" in reason
    assert "TRAIN" in reason


def test_nested_field_is_named_by_its_path() -> None:
    stops_v1 = record(
        {
            "name": "stops",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Stop",
                    "fields": [{"name": "sid", "type": "string"}],
                },
            },
        }
    )
    stops_v2 = record(
        {
            "name": "stops",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Stop",
                    "fields": [{"name": "sid", "type": "string"}, {"name": "seq", "type": "int"}],
                },
            },
        }
    )
    (reason,) = check(L.BACKWARD, stops_v2, [stops_v1])
    assert "field 'stops[].seq'" in reason
    assert "/fields/0/type/items/fields/1" in reason


def test_several_problems_give_several_reasons() -> None:
    fields = json.loads(json.dumps(BASE_FIELDS))
    fields[1]["type"] = "string"
    fields.append({"name": "extra", "type": "int"})
    reasons = check(L.BACKWARD, record(*fields), [V1])
    assert len(reasons) == 2
    assert any(
        "field 'count'" in r and "string not compatible with writer type: int" in r for r in reasons
    )
    assert any("field 'extra'" in r and "no default" in r for r in reasons)


# v1 -> v2 adds `speed` with a default -> v3 drops the default. v3 reads v2 data (speed is
# there) but not v1 data: only a transitive level looks back that far.
TRANSITIVE_CHAIN = [
    V1,
    record(*BASE_FIELDS, {"name": "speed", "type": "double", "default": 0.0}),
]
V3 = record(*BASE_FIELDS, {"name": "speed", "type": "double"})


@pytest.mark.parametrize(
    ("level", "ok"),
    [
        (L.BACKWARD, True),
        (L.BACKWARD_TRANSITIVE, False),
        (L.FULL, True),
        (L.FULL_TRANSITIVE, False),
    ],
)
def test_transitive_levels_check_every_earlier_version(level: CompatibilityLevel, ok: bool) -> None:
    reasons = check(level, V3, TRANSITIVE_CHAIN, labels=["version 1", "version 2"])
    assert (reasons == []) is ok
    if not ok:
        assert all("version 1" in reason for reason in reasons)


def test_forward_transitive_checks_every_earlier_reader() -> None:
    # v1 has no `speed`; v2 requires it; a v3 without it can be read by v1 but not by v2.
    chain = [V1, record(*BASE_FIELDS, {"name": "speed", "type": "double"})]
    assert check(L.FORWARD, V1, chain) != []
    assert check(L.FORWARD, V1, chain[:1]) == []
    wide = record(*BASE_FIELDS, {"name": "speed", "type": "double", "default": 0.0})
    assert check(L.FORWARD, wide, chain) == []
    assert check(L.FORWARD_TRANSITIVE, wide, chain) == []
    assert check(L.FORWARD_TRANSITIVE, V1, [chain[1], V1]) != []


def test_no_existing_schema_is_always_compatible() -> None:
    assert check(L.FULL_TRANSITIVE, V1, []) == []


def test_level_names_are_accepted_as_strings() -> None:
    assert check("BACKWARD", evolve("add field without default"), [V1]) != []
    with pytest.raises(ValueError, match="SIDEWAYS"):
        check("SIDEWAYS", V1, [V1])


def test_unparseable_schema_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="invalid Avro schema"):
        check(L.BACKWARD, '{"type": "record", "name": "X"}', [V1])
    with pytest.raises(SchemaError):
        check(L.BACKWARD, "{not json", [V1])


def test_labels_must_match_existing() -> None:
    with pytest.raises(ValueError, match="labels"):
        check(L.BACKWARD, V1, [V1], labels=[])


def test_default_level_is_backward_transitive() -> None:
    assert DEFAULT_LEVEL is L.BACKWARD_TRANSITIVE
