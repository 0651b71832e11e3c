"""Bytes of a topic to a record, for every topic format: the one home of decoding by the
registry, used by the gateway (streams and latest state) and by the bridges.

An Avro topic's values are Confluent-framed; the writer schema of each id is fetched once
from the topic's area registry and cached for good (ids are immutable). An id the registry
does not have is remembered for a minute, so a run of such records costs one look-up, not
one each. An ``ngsi-ld`` topic's values are JSON objects (NGSI-LD entities), decoded as they
are. A value that cannot be decoded raises ``DecodeError`` after being counted (topic and a
fixed reason) and logged at most once a minute per topic with the number of lines held
back: the caller skips it (gateway) or dead-letters it (bridge), and goes on. Only an
unreachable registry is not a property of the record: it raises, so the caller retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import orjson

from hub import metrics
from hub.codec import Decoder
from hub.errors import DecodeError, RegistryError, RegistryUnavailableError
from hub.registry.client import RegistryClient

__all__ = ["LOG_EVERY_S", "TopicDecoder", "TopicFormat"]

log = logging.getLogger(__name__)

TopicFormat = Literal["avro", "ngsi-ld"]

#: At most one log line per topic per this many seconds about undecodable records.
LOG_EVERY_S = 60.0
# How long an id the registry said it does not have is not asked for again.
_MISSING_RETRY_S = 60.0


class _LogLimiter:
    """One warning per topic per interval; the lines held back are counted into the next."""

    def __init__(self, every: float, clock: Callable[[], float]) -> None:
        self.every = every
        self.clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warn(self, topic: str, message: str) -> None:
        now = self.clock()
        last = self._last.get(topic)
        if last is not None and now - last < self.every:
            self._held[topic] = self._held.get(topic, 0) + 1
            return
        self._last[topic] = now
        held = self._held.pop(topic, 0)
        suffix = f" ({held} more undecodable record(s) not logged since)" if held else ""
        log.warning("%s: skipped an undecodable record: %s%s", topic, message, suffix)


# Shared by every decoder of the process: the gateway and a bridge reading one topic in
# one process still log once per interval between them.
_LIMITER = _LogLimiter(LOG_EVERY_S, time.monotonic)


class TopicDecoder:
    """Decodes the values of one topic, whatever its format."""

    def __init__(
        self,
        topic: str,
        value_format: TopicFormat,
        registry: RegistryClient | None,
        reader_schema: Mapping[str, Any] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if value_format == "avro" and registry is None:
            raise ValueError(f"{topic}: an Avro topic is decoded with a registry")
        self.topic = topic
        self.format = value_format
        self._registry = registry
        self._avro = Decoder(reader_schema) if value_format == "avro" else None
        self._clock = clock
        self._missing: dict[int, float] = {}  # schema id -> when the registry said no

    async def learn(self, values: Iterable[bytes | None]) -> None:
        """Fetch the writer schemas of ``values`` not known yet (RegistryUnavailableError
        when the registry cannot be reached: nothing is decided about those records)."""
        if self._avro is None:
            return
        for value in values:
            if value is not None and len(value) >= 5 and value[0] == 0:
                schema_id = int.from_bytes(value[1:5], "big")
                if not self._avro.knows(schema_id):
                    await self._learn_id(schema_id)

    async def _learn_id(self, schema_id: int) -> None:
        avro, registry = self._avro, self._registry
        if avro is None or registry is None:
            return
        said_no = self._missing.get(schema_id)
        if said_no is not None and self._clock() - said_no < _MISSING_RETRY_S:
            return
        try:
            text = await registry.get_schema(schema_id)
        except RegistryUnavailableError:
            raise
        except RegistryError:
            # Its records are undecodable (counted and logged as such when decoded).
            self._missing[schema_id] = self._clock()
            return
        self._missing.pop(schema_id, None)
        avro.add_writer(schema_id, orjson.loads(text))

    def decode(self, value: bytes) -> dict[str, Any]:
        """The record in ``value`` (writer schemas learnt first); DecodeError, counted and
        logged at a limited rate, when it is not one."""
        try:
            if self._avro is not None:
                return self._avro.decode(value)
            return _json_object(value)
        except DecodeError as exc:
            metrics.UNDECODABLE.labels(self.topic, exc.reason).inc()
            _LIMITER.warn(self.topic, str(exc))
            raise

    async def decode_one(self, value: bytes) -> dict[str, Any]:
        """``learn`` then ``decode`` for one value: the gateway's per-record path."""
        avro = self._avro
        if avro is not None and len(value) >= 5 and value[0] == 0:
            schema_id = int.from_bytes(value[1:5], "big")
            if not avro.knows(schema_id):
                await self._learn_id(schema_id)
        return self.decode(value)


def _json_object(value: bytes) -> dict[str, Any]:
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"value is not JSON: {exc}", reason="invalid-json") from exc
    if not isinstance(decoded, dict):
        raise DecodeError(
            f"value is JSON {type(decoded).__name__}, not an object", reason="not-an-object"
        )
    return decoded
