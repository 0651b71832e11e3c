"""Avro values in the Confluent wire format: magic byte 0, 4-byte schema id, Avro binary.

Records are written and read by code compiled for their schema (``hub.avro_compiled``),
about three times faster than fastavro's generic code; schemas that compiler leaves
alone, and reads that resolve one schema version against another, use fastavro. A record
that does not fit its schema raises EncodeError carrying the record, so callers can
dead-letter it and go on.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping
from typing import Any

import fastavro
import fastavro._write as _avro_write
from fastavro.schema import to_parsing_canonical_form

from hub.avro_compiled import WRITE_ERRORS, FieldError, Reader, compile_reader, compile_writer
from hub.errors import DecodeError, EncodeError

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")

#: A schema as fastavro.parse_schema returns it.
ParsedSchema = Any


def header(schema_id: int) -> bytes:
    """The 5-byte Confluent frame header for ``schema_id``."""
    return _HEADER.pack(MAGIC_BYTE, schema_id)


def schema_id_of(data: bytes) -> int:
    """The schema id in a framed value; DecodeError when the frame is not Confluent's."""
    if len(data) < _HEADER.size or data[0] != MAGIC_BYTE:
        raise DecodeError(
            "value is not in the Confluent wire format (magic byte 0, schema id)",
            reason="not-framed",
        )
    magic_and_id: tuple[int, int] = _HEADER.unpack_from(data)
    return magic_and_id[1]


class Encoder:
    """Encodes records of one registered schema."""

    __slots__ = ("_header", "_named", "_options", "_schema", "_write", "schema_id")

    def __init__(self, schema_id: int, schema: Mapping[str, Any] | ParsedSchema) -> None:
        self.schema_id = schema_id
        # Named types (an enum defined once, then referenced by name) are collected here
        # while parsing; the writer needs them to resolve those references.
        self._named: dict[str, Any] = {}
        self._schema = fastavro.parse_schema(dict(schema), self._named)
        self._header = header(schema_id)
        self._options: dict[str, Any] = {}
        self._write = compile_writer(self._schema)

    def encode(self, record: Mapping[str, Any]) -> bytes:
        """One framed value; EncodeError (with the record) when it does not fit the schema."""
        out = bytearray(self._header)
        try:
            if self._write is not None:
                self._write(out, record)
            else:
                _avro_write.write_data(  # type: ignore[attr-defined]
                    out, record, self._schema, self._named, "", self._options
                )
        except WRITE_ERRORS as exc:
            # A compiled writer's error already names the field and the exception's kind.
            detail = str(exc) if isinstance(exc, FieldError) else f"{type(exc).__name__}: {exc}"
            raise EncodeError(f"record does not match schema: {detail}", record) from exc
        return bytes(out)


_TIME_TYPES = {
    "timestamp-millis",
    "timestamp-micros",
    "local-timestamp-millis",
    "local-timestamp-micros",
    "time-millis",
    "time-micros",
    "date",
}


def plain_times(schema: Any) -> Any:
    """``schema`` without time logical types, so they decode to the numbers on the wire."""
    if isinstance(schema, dict):
        return {
            k: plain_times(v)
            for k, v in schema.items()
            if not (k == "logicalType" and v in _TIME_TYPES)
        }
    if isinstance(schema, list):
        return [plain_times(item) for item in schema]
    return schema


class Decoder:
    """Decodes framed values given the writer schemas by id (and an optional reader schema).

    Times decode to the integers on the wire (milliseconds since the epoch for
    timestamp-millis), the same form adapters produce and the Encoder takes, so a record
    looks the same wherever it is handled; fastavro would otherwise return datetimes.
    """

    def __init__(self, reader_schema: Mapping[str, Any] | None = None) -> None:
        self._reader_plain = None if reader_schema is None else plain_times(dict(reader_schema))
        self._reader = (
            None if self._reader_plain is None else fastavro.parse_schema(self._reader_plain)
        )
        # Compared in Parsing Canonical Form: a parsed schema (with fastavro's own keys) and
        # the registry's text of the same schema are then equal, docs and all aside.
        self._reader_form = (
            None if self._reader_plain is None else to_parsing_canonical_form(self._reader_plain)
        )
        # schema id -> (writer, reader or None when the writer is the reader schema itself)
        self._writers: dict[int, tuple[ParsedSchema, ParsedSchema | None]] = {}
        # schema id -> compiled reader, for writers that need no resolution
        self._compiled: dict[int, Reader] = {}

    def knows(self, schema_id: int) -> bool:
        """True when the writer schema for ``schema_id`` has been added."""
        return schema_id in self._writers

    def add_writer(self, schema_id: int, schema: Mapping[str, Any]) -> None:
        """Teach the decoder a writer schema (ids are immutable, so this is cached for good)."""
        plain = plain_times(dict(schema))
        # Resolving a schema against itself changes nothing and costs half of the decode.
        same = (
            self._reader_form is not None and to_parsing_canonical_form(plain) == self._reader_form
        )
        reader = None if same else self._reader
        self._writers[schema_id] = (fastavro.parse_schema(plain), reader)
        compiled = compile_reader(plain) if reader is None else None
        if compiled is not None:
            self._compiled[schema_id] = compiled

    def decode(self, data: bytes) -> dict[str, Any]:
        """The record in ``data``; DecodeError for unknown ids and bytes that are not Avro."""
        schema_id = schema_id_of(data)
        compiled = self._compiled.get(schema_id)
        if compiled is not None:
            return self._decode_compiled(compiled, bytes(data), schema_id)
        schemas = self._writers.get(schema_id)
        if schemas is None:
            raise DecodeError(f"unknown schema id {schema_id}", reason="unknown-schema-id")
        stream = io.BytesIO(data)
        stream.seek(_HEADER.size)
        try:
            decoded = fastavro.schemaless_reader(stream, schemas[0], schemas[1])
        except (ValueError, TypeError, EOFError, IndexError, UnicodeDecodeError) as exc:
            raise DecodeError(
                f"value is not valid Avro for schema id {schema_id}: {exc}", reason="invalid-avro"
            ) from exc
        return _whole_record(decoded, stream.tell(), len(data), schema_id)

    @staticmethod
    def _decode_compiled(read: Reader, data: bytes, schema_id: int) -> dict[str, Any]:
        try:
            decoded, end = read(data, _HEADER.size)
        except (ValueError, TypeError, IndexError, struct.error) as exc:
            raise DecodeError(
                f"value is not valid Avro for schema id {schema_id}: {type(exc).__name__}: {exc}",
                reason="invalid-avro",
            ) from exc
        return _whole_record(decoded, end, len(data), schema_id)


def _whole_record(decoded: object, end: int, size: int, schema_id: int) -> dict[str, Any]:
    """``decoded``, when it is a record that ended exactly where the value's bytes do."""
    if end > size:
        raise DecodeError(
            f"value ends inside the record (schema id {schema_id})", reason="invalid-avro"
        )
    if end != size:
        raise DecodeError(
            f"value has {size - end} trailing byte(s) after the record (schema id {schema_id})",
            reason="invalid-avro",
        )
    if not isinstance(decoded, dict):
        raise DecodeError(f"schema id {schema_id} is not a record schema", reason="invalid-avro")
    return decoded
