"""The compiled Avro writers and readers against fastavro: the same bytes, the same values,
the same refusals, on every canonical schema and on a schema with every Avro type."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import fastavro
import pytest

from hub.avro_compiled import compile_reader, compile_writer
from hub.codec import Decoder, Encoder, header, plain_times
from hub.errors import DecodeError, EncodeError

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = sorted((REPO / "schemas" / "avro").glob("*.avsc"))

EVERY_TYPE: dict[str, Any] = {
    "type": "record",
    "name": "Everything",
    "namespace": "test.compiled",
    "fields": [
        {"name": "flag", "type": "boolean"},
        {"name": "small", "type": "int"},
        {"name": "big", "type": "long"},
        {"name": "ratio", "type": "float"},
        {"name": "exact", "type": "double"},
        {"name": "blob", "type": "bytes"},
        {"name": "text", "type": "string"},
        {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
        {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "BLUE"]}},
        {"name": "again", "type": "Colour"},
        {"name": "when", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "counts", "type": {"type": "map", "values": "long"}},
        {
            "name": "inner",
            "type": {
                "type": "record",
                "name": "Inner",
                "namespace": "test.other",
                "fields": [
                    {"name": "x", "type": ["null", "double"], "default": None},
                    {"name": "shade", "type": ["null", "test.compiled.Colour"], "default": None},
                ],
            },
        },
        {"name": "inners", "type": {"type": "array", "items": "test.other.Inner"}},
        {
            "name": "choice",
            "type": [
                "null",
                "boolean",
                "int",
                "double",
                "Colour",
                "string",
                "bytes",
                "test.other.Inner",
            ],
        },
        {"name": "number_first", "type": ["long", "double", "null"]},
        {"name": "with_default", "type": "string", "default": "fallback"},
        {
            "name": "maybe_list",
            "type": ["null", {"type": "array", "items": "int"}],
            "default": None,
        },
    ],
}

_EDGE_LONGS = [0, 1, -1, 63, -64, 64, -65, 2**31 - 1, -(2**31), 2**53, 2**63 - 1, -(2**63)]
_TEXTS = ["", "a", "熊本バス", "シヤクショマエ", "x" * 200, "emoji 🚌", "quote ' and \" and \\"]


class Values:
    """Random valid values of a schema (named types resolved as fastavro parsed them)."""

    def __init__(self, parsed: Any, seed: int) -> None:
        self.named = dict(parsed.get("__named_schemas", {})) if isinstance(parsed, dict) else {}
        self.rng = random.Random(seed)

    def of(self, schema: Any) -> Any:
        rng = self.rng
        if isinstance(schema, list):
            return self.of(rng.choice(schema))
        if isinstance(schema, str) and schema in self.named:
            return self.of(self.named[schema])
        kind = schema if isinstance(schema, str) else schema["type"]
        if isinstance(kind, (dict, list)):
            return self.of(kind)
        if kind == "null":
            return None
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "int":
            return rng.choice([v for v in _EDGE_LONGS if -(2**31) <= v < 2**31])
        if kind == "long":
            return rng.choice([*_EDGE_LONGS, 1_700_000_012_345])
        if kind in ("float", "double"):
            return rng.choice([0.0, -1.5, 36.3, 1e10, rng.uniform(-180, 180)])
        if kind == "string":
            return rng.choice(_TEXTS)
        if kind == "bytes":
            return rng.randbytes(rng.randint(0, 70))
        if kind == "fixed":
            return rng.randbytes(schema["size"])
        if kind == "enum":
            return rng.choice(schema["symbols"])
        if kind == "array":
            return [self.of(schema["items"]) for _ in range(rng.choice([0, 1, 3, 70]))]
        if kind == "map":
            return {f"k{i}": self.of(schema["values"]) for i in range(rng.choice([0, 2]))}
        return {f["name"]: self.of(f["type"]) for f in schema["fields"]}


def _fastavro_bytes(parsed: Any, record: Any) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, record)
    return out.getvalue()


def _fastavro_value(parsed: Any, data: bytes) -> Any:
    return fastavro.schemaless_reader(io.BytesIO(data), parsed, None)


def _schemas() -> list[Any]:
    return [pytest.param(json.loads(p.read_text()), id=p.stem) for p in SCHEMAS] + [
        pytest.param(EVERY_TYPE, id="every-type")
    ]


@pytest.mark.parametrize("schema", _schemas())
def test_writes_what_fastavro_writes_and_reads_what_it_reads(schema: dict[str, Any]) -> None:
    plain = plain_times(schema)
    parsed = fastavro.parse_schema(plain)
    write, read = compile_writer(plain), compile_reader(plain)
    assert write is not None
    assert read is not None
    values = Values(parsed, seed=len(schema["fields"]))
    for _ in range(300):
        record = values.of(parsed)
        expected = _fastavro_bytes(parsed, record)
        out = bytearray()
        write(out, record)
        assert bytes(out) == expected, record
        assert read(expected, 0) == (_fastavro_value(parsed, expected), len(expected))


@pytest.mark.parametrize("schema", _schemas())
def test_the_parsed_form_compiles_to_the_same_writer(schema: dict[str, Any]) -> None:
    parsed = fastavro.parse_schema(schema)  # what the catalogue hands the Encoder
    write = compile_writer(parsed)
    assert write is not None
    record = Values(parsed, seed=3).of(parsed)
    out = bytearray()
    write(out, record)
    assert bytes(out) == _fastavro_bytes(parsed, record)


def test_the_examples_encode_as_fastavro_encodes_them() -> None:
    for path in SCHEMAS:
        schema = json.loads(path.read_text())
        example = json.loads((REPO / "schemas" / "examples" / f"{path.stem}.json").read_text())
        record = example.get("record", example) if isinstance(example, dict) else example
        parsed = fastavro.parse_schema(schema)
        assert Encoder(1, schema).encode(record) == header(1) + _fastavro_bytes(parsed, record)


def test_missing_fields_take_their_defaults() -> None:
    write = compile_writer(EVERY_TYPE)
    assert write is not None
    parsed = fastavro.parse_schema(EVERY_TYPE)
    record = Values(parsed, seed=1).of(parsed)
    del record["with_default"], record["maybe_list"]
    out = bytearray()
    write(out, record)
    assert bytes(out) == _fastavro_bytes(parsed, record)
    assert _fastavro_value(parsed, bytes(out))["with_default"] == "fallback"


def test_timestamps_may_be_datetimes_as_fastavro_allows() -> None:
    from datetime import UTC, datetime  # noqa: PLC0415

    schema = {
        "type": "record",
        "name": "T",
        "fields": [{"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}],
    }
    write = compile_writer(schema)
    assert write is not None
    out = bytearray()
    write(out, {"at": datetime(2026, 11, 29, 12, 0, tzinfo=UTC)})
    assert bytes(out) == _fastavro_bytes(fastavro.parse_schema(schema), {"at": 1795953600000})


@pytest.mark.parametrize(
    "schema",
    [
        {  # recursive
            "type": "record",
            "name": "Node",
            "fields": [{"name": "next", "type": ["null", "Node"]}],
        },
        {  # two record branches: fastavro decides by validating each
            "type": "record",
            "name": "R",
            "fields": [
                {
                    "name": "u",
                    "type": [
                        {"type": "record", "name": "A", "fields": [{"name": "a", "type": "int"}]},
                        {"type": "record", "name": "B", "fields": [{"name": "b", "type": "int"}]},
                    ],
                }
            ],
        },
    ],
    ids=["recursive", "two-record-union"],
)
def test_what_the_compiler_leaves_to_fastavro_still_encodes(schema: dict[str, Any]) -> None:
    assert compile_writer(schema) is None
    record = {"next": {"next": None}} if schema["name"] == "Node" else {"u": {"b": 2}}
    data = Encoder(5, schema).encode(record)
    decoder = Decoder()
    decoder.add_writer(5, schema)
    assert decoder.decode(data) == record


def test_readers_of_logical_types_are_left_to_fastavro() -> None:
    decimal = {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}
    schema = {"type": "record", "name": "D", "fields": [{"name": "d", "type": decimal}]}
    assert compile_reader(schema) is None


@pytest.mark.parametrize(
    "change",
    [
        {"small": 2**31},  # past an Avro int: fastavro would write it anyway
        {"big": 2**63},
        {"small": 1.5},
        {"text": None},
        {"text": 7},
        {"blob": "not bytes"},
        {"hash": b"toolong"},
        {"colour": "GREEN"},
        {"flag": None},
        {"ratio": "fast"},
        {"tags": None},
        {"counts": {"a": "b"}},
        {"choice": object()},
        {"inner": None},
        {"number_first": "1"},
    ],
)
def test_a_value_that_does_not_fit_is_an_encode_error(change: dict[str, Any]) -> None:
    parsed = fastavro.parse_schema(EVERY_TYPE)
    record = {**Values(parsed, seed=2).of(parsed), **change}
    with pytest.raises(EncodeError, match="does not match schema") as caught:
        Encoder(1, EVERY_TYPE).encode(record)
    assert caught.value.record is record


def _valid_value() -> bytes:
    parsed = fastavro.parse_schema(EVERY_TYPE)
    return Encoder(9, EVERY_TYPE).encode(Values(parsed, seed=4).of(parsed))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_valid_value()[:-3], "not valid Avro"),  # truncated
        (header(9) + b"\x04", "not valid Avro"),  # not a boolean
        (_valid_value() + b"\x00", "trailing"),
        (header(9) + b"\x00" + b"\x7f" + b"\x00" * 30, "not valid Avro"),  # negative int
    ],
    ids=["truncated", "bad-boolean", "trailing", "garbage"],
)
def test_bytes_that_are_not_the_schema_are_a_decode_error(data: bytes, message: str) -> None:
    decoder = Decoder()
    decoder.add_writer(9, EVERY_TYPE)
    with pytest.raises(DecodeError, match=message):
        decoder.decode(data)


def test_a_union_or_enum_index_out_of_range_is_a_decode_error() -> None:
    schema = {
        "type": "record",
        "name": "U",
        "fields": [
            {"name": "u", "type": ["null", "string"]},
            {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A"]}},
        ],
    }
    decoder = Decoder()
    decoder.add_writer(3, schema)
    assert decoder.decode(header(3) + b"\x00\x00") == {"u": None, "e": "A"}
    for body in (b"\x04\x00", b"\x00\x02", b"\x00\x01", b"\x02\x7e"):
        with pytest.raises(DecodeError):
            decoder.decode(header(3) + body)


def test_a_string_cut_short_is_a_decode_error_not_a_shorter_string() -> None:
    schema = {"type": "record", "name": "S", "fields": [{"name": "s", "type": "string"}]}
    decoder = Decoder()
    decoder.add_writer(4, schema)
    assert decoder.decode(header(4) + b"\x06abc") == {"s": "abc"}
    with pytest.raises(DecodeError, match="ends inside the record"):
        decoder.decode(header(4) + b"\x14abc")
    with pytest.raises(DecodeError, match="not valid Avro"):
        decoder.decode(header(4) + b"\x05abc")  # a negative length


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"text": None}, "'text'"),
        ({"inner": {"x": "far", "shade": None}}, "'inner.x'"),
        ({"inners": [{"x": 1.0, "shade": "PINK"}]}, "'inners.shade'"),
    ],
)
def test_an_encode_error_names_the_field(change: dict[str, Any], path: str) -> None:
    parsed = fastavro.parse_schema(EVERY_TYPE)
    record = {**Values(parsed, seed=2).of(parsed), **change}
    with pytest.raises(EncodeError, match=f"field {path}"):
        Encoder(1, EVERY_TYPE).encode(record)
