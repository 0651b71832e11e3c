"""The two codecs a limit can be measured with: fastavro called as fast as it goes (the
limit the issues define), and the hub's own compiled codec (a stricter limit, shown too)."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import fastavro
import fastavro._write as _avro_write

from hub.codec import Decoder, Encoder, header, plain_times

__all__ = ["CODECS", "Codec"]


class Codec(Protocol):
    def encode(self, record: Mapping[str, Any]) -> bytes:
        """The record framed in the target schema."""
        ...

    def decode(self, data: bytes) -> dict[str, Any]:
        """The record in a framed value of the source schema."""
        ...


class _Fastavro:
    """fastavro's Cython writer straight into a framed bytearray, and its reader."""

    def __init__(self, target: Mapping[str, Any], source: Mapping[str, Any], source_id: int):
        del source_id  # values are read after their 5-byte frame, whatever its id
        self._named: dict[str, Any] = {}
        self._writer = fastavro.parse_schema(dict(target), self._named)
        self._reader = fastavro.parse_schema(plain_times(dict(source)))
        self._header = header(1)

    def encode(self, record: Mapping[str, Any]) -> bytes:
        out = bytearray(self._header)
        _avro_write.write_data(out, record, self._writer, self._named, "", {})  # type: ignore[attr-defined]
        return bytes(out)

    def decode(self, data: bytes) -> dict[str, Any]:
        stream = io.BytesIO(data)
        stream.seek(5)
        record: dict[str, Any] = fastavro.schemaless_reader(stream, self._reader, None)  # type: ignore[assignment]
        return record


class _Compiled:
    def __init__(self, target: Mapping[str, Any], source: Mapping[str, Any], source_id: int):
        self._encoder = Encoder(1, target)
        self._decoder = Decoder(source)
        self._decoder.add_writer(source_id, source)

    def encode(self, record: Mapping[str, Any]) -> bytes:
        return self._encoder.encode(record)

    def decode(self, data: bytes) -> dict[str, Any]:
        return self._decoder.decode(data)


CodecFactory = Callable[[Mapping[str, Any], Mapping[str, Any], int], Codec]

#: name -> factory(schema to encode records in, schema values were written in, its id); the
#: values it encodes carry schema id 1 (limits write to topics nobody decodes)
CODECS: dict[str, CodecFactory] = {"fastavro": _Fastavro, "compiled codec": _Compiled}
