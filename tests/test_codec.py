"""The Confluent wire-format codec against fastavro's own reader and writer."""

from __future__ import annotations

import io
import struct
from typing import Any

import fastavro
import pytest

from hub.codec import Decoder, Encoder, header, schema_id_of
from hub.errors import DecodeError, EncodeError

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "VehiclePosition",
    "namespace": "test.codec",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "latitude", "type": "double"},
        {"name": "speed", "type": ["null", "float"], "default": None},
        {
            "name": "status",
            "type": {"type": "enum", "name": "Status", "symbols": ["MOVING", "STOPPED"]},
        },
    ],
}
RECORD = {
    "id": "urn:ngsi-ld:Vehicle:kaga:bus-1",
    "latitude": 36.3,
    "speed": 4.5,
    "status": "MOVING",
}


def test_encoded_value_is_framed_and_readable_by_fastavro() -> None:
    data = Encoder(42, SCHEMA).encode(RECORD)
    assert data[:5] == b"\x00" + struct.pack(">I", 42)
    assert schema_id_of(data) == 42
    body = io.BytesIO(data[5:])
    assert fastavro.schemaless_reader(body, fastavro.parse_schema(SCHEMA), None) == RECORD


def test_decoder_round_trips_and_resolves_to_a_reader_schema() -> None:
    data = Encoder(7, SCHEMA).encode(RECORD)
    plain = Decoder()
    plain.add_writer(7, SCHEMA)
    assert plain.decode(data) == RECORD
    reader = dict(
        SCHEMA, fields=[*SCHEMA["fields"], {"name": "operator", "type": "string", "default": "?"}]
    )
    evolved = Decoder(reader)
    evolved.add_writer(7, SCHEMA)
    assert evolved.decode(data) == {**RECORD, "operator": "?"}


@pytest.mark.parametrize(
    "bad",
    [
        {**RECORD, "latitude": "north"},
        {**RECORD, "status": "FLYING"},
        {k: v for k, v in RECORD.items() if k != "id"},
    ],
)
def test_a_record_that_does_not_fit_raises_with_the_record(bad: dict[str, Any]) -> None:
    with pytest.raises(EncodeError) as caught:
        Encoder(1, SCHEMA).encode(bad)
    assert caught.value.record is bad


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Confluent wire format"),
        (b"\x01\x00\x00\x00\x07abc", "Confluent wire format"),
        (header(99) + b"abc", "unknown schema id 99"),
        (header(7) + b"\x02", "not valid Avro"),
        (Encoder(7, SCHEMA).encode(RECORD) + b"junk", "trailing"),
    ],
)
def test_bad_bytes_raise_decode_error(data: bytes, message: str) -> None:
    decoder = Decoder()
    decoder.add_writer(7, SCHEMA)
    with pytest.raises(DecodeError, match=message):
        decoder.decode(data)
