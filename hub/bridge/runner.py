"""A bridge: consume a topic of one area, convert each record, produce to another area's topic.

Each batch is decoded with the source area's registry (the source topic's schema as
reader, so versions of the same record type meet through Avro schema resolution),
mapped, encoded against the target area's registry and delivered to the target
cluster; only then are the source offsets committed (at-least-once across clusters).
Every output carries its origin and a stable idempotency key so consumers can drop
the duplicates at-least-once may bring. Records that cannot be converted (an error whose
blame is the input's) go to the dead-letter topic with the reason and the bridge goes on;
any other error pauses it and it reads again from the last commit. Nothing is stored on
the way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from hub import headers as h
from hub.codec import Encoder
from hub.errors import EncodeError, KafkaError, TsunaguError
from hub.kafka import (
    Consumer,
    Incoming,
    Outgoing,
    Producer,
    TopicPartition,
    TransactionalProducer,
)
from hub.mapping.compile import MappingError
from hub.metrics import bridges as metrics
from hub.registry.decoding import TopicDecoder

__all__ = ["BridgeEnds", "BridgeRunner", "Mapper", "idempotency_key"]

log = logging.getLogger(__name__)

_LAG_EVERY_S = 5.0
_SLOW_ACK_S = 5.0  # a target slower than this to acknowledge makes the bridge not ready


class Mapper(Protocol):
    """A compiled mapping: name and version for provenance, and the conversion itself."""

    name: str
    version: int

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        """The target record; an error of the input's blame naming the field when the
        record cannot be converted (any other error pauses the bridge)."""
        ...


@dataclass(frozen=True)
class BridgeEnds:
    """Where a bridge reads and writes."""

    name: str
    source_area: str
    source_topic: str
    target_area: str
    target_topic: str
    dead_letter_topic: str
    target_key: str = "id"


def idempotency_key(area: str, topic: str, partition: int, offset: int) -> str:
    """Stable for a source record, whichever bridge process converts it, however often."""
    return f"{_partition_prefix(area, topic, partition)}{offset}"


def _partition_prefix(area: str, topic: str, partition: int) -> str:
    return f"{area}/{topic}/{partition}/"


_OURS = {
    h.ORIGIN_AREA,
    h.ORIGIN_TOPIC,
    h.ORIGIN_PARTITION,
    h.ORIGIN_OFFSET,
    h.MAPPING,
    h.IDEMPOTENCY_KEY,
}


def _carried(headers: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Provenance from upstream (source feed, ingestion time) travels on; the origin of
    this hop replaces that of an earlier one."""
    return [(name, value) for name, value in headers if name not in _OURS]


class BridgeRunner:
    """Runs one bridge process's share of the source topic's partitions."""

    def __init__(
        self,
        ends: BridgeEnds,
        *,
        consumer: Consumer,
        producer: Producer,
        decoder: TopicDecoder,
        encoder: Encoder,
        mapper: Mapper,
        encode_value: Callable[[Encoder, dict[str, Any]], bytes] | None = None,
        transactions: TransactionalProducer | None = None,
        clock: Callable[[], float] = time.time,
        tombstone_key: Callable[[str], str] | None = None,
    ) -> None:
        self.ends = ends
        # A tombstone (an entity retired at the source) crosses as a tombstone under the
        # mapped key, when the mapping makes the target key from the source key alone.
        self.tombstone_key = tombstone_key
        self.consumer = consumer
        self.producer = producer
        self.decoder = decoder
        self.encoder = encoder
        self.mapper = mapper
        # Avro by default; NGSI-LD bridges pass an encoder of JSON-LD documents instead.
        self.encode_value = encode_value or (lambda enc, record: enc.encode(record))
        self.transactions = transactions
        self.clock = clock
        self._mapping_label = f"{mapper.name}@{mapper.version}".encode()
        self._last_lag = 0.0
        self.partitions: set[int] = set()  # source partitions this process reads
        self.problem: str | None = None  # why the bridge is not moving, for readiness
        self.converted = 0
        self.dead_lettered = 0
        self._area_bytes = ends.source_area.encode()
        self._partition_headers: dict[tuple[str, int], tuple[list[tuple[str, bytes]], bytes]] = {}
        self._latency = metrics.LATENCY.labels(ends.name)

    def _origin(self, message: Incoming) -> list[tuple[str, bytes]]:
        # Everything but the offset is the same for a whole partition: built once.
        fixed = self._partition_headers.get((message.topic, message.partition))
        if fixed is None:
            fixed = self._partition_headers[(message.topic, message.partition)] = (
                [
                    (h.ORIGIN_AREA, self._area_bytes),
                    (h.ORIGIN_TOPIC, message.topic.encode()),
                    (h.ORIGIN_PARTITION, str(message.partition).encode()),
                ],
                _partition_prefix(self.ends.source_area, message.topic, message.partition).encode(),
            )
        headers, key_prefix = fixed
        offset = str(message.offset).encode()
        return [
            *headers,
            (h.ORIGIN_OFFSET, offset),
            (h.MAPPING, self._mapping_label),
            (h.IDEMPOTENCY_KEY, key_prefix + offset),
        ]

    def convert(self, message: Incoming) -> tuple[Outgoing | None, Outgoing | None]:
        """(output, None) or (None, dead letter) for one source record (whose writer
        schema ``decoder.learn`` has fetched)."""
        origin = self._origin(message)
        stage, kind = "decode", "decode"
        try:
            if message.value is None:
                stage, kind = "map", "mapping"
                return self._tombstone(message, origin), None
            record = self.decoder.decode(message.value)
            stage, kind = "map", "mapping"
            target = self.mapper(record)
            stage, kind = "encode", "schema"
            value = self.encode_value(self.encoder, target)
            key = target.get(self.ends.target_key)
            if not isinstance(key, str) or not key:
                raise EncodeError(f"target key field {self.ends.target_key!r} is empty", target)
        except TsunaguError as exc:
            if exc.blame != "input":
                raise  # not this record's fault: nothing is dead-lettered, the batch waits
            metrics.ERRORS.labels(self.ends.name, kind).inc()
            reason = f"{type(exc).__name__}: {exc}"
            dead = Outgoing(
                message.key,
                message.value,
                h.dead_letter(origin, self.ends.target_topic, kind, stage, reason),
            )
            return None, dead
        return Outgoing(key.encode(), value, [*_carried(message.headers), *origin]), None

    def _tombstone(self, message: Incoming, origin: list[tuple[str, bytes]]) -> Outgoing:
        if self.tombstone_key is None or not message.key:
            raise MappingError(
                self.ends.target_key,
                "tombstone (null value): the mapping does not make the target key from the "
                "source key alone, so there is no key to delete on the target",
            )
        try:
            source_key = message.key.decode()
        except UnicodeDecodeError as exc:
            raise MappingError(self.ends.target_key, f"source key is not UTF-8: {exc}") from exc
        key = self.tombstone_key(source_key)
        return Outgoing(key.encode(), None, [*_carried(message.headers), *origin])

    async def process(self, batch: list[Incoming]) -> None:
        """Convert, deliver, then commit: the at-least-once step."""
        outputs: list[Outgoing] = []
        dead: list[Outgoing] = []
        # An unreachable registry raises here: the batch is retried, not dead-lettered.
        await self.decoder.learn(message.value for message in batch)
        convert = self.convert
        for message in batch:
            output, dead_letter = convert(message)
            if output is not None:
                outputs.append(output)
            elif dead_letter is not None:
                dead.append(dead_letter)
        # Offsets grow within a partition, so the last message of each is the one to commit.
        last = {(m.topic, m.partition): m.offset for m in batch}
        offsets = {TopicPartition(t, p): o + 1 for (t, p), o in last.items()}
        metrics.RECORDS_IN.labels(self.ends.name).inc(len(batch))
        if self.transactions is not None:
            metadata = self.consumer.group_metadata()
            await self.transactions.send_with_offsets(
                [(self.ends.target_topic, outputs), (self.ends.dead_letter_topic, dead)],
                offsets,
                metadata,
            )
            self._count(batch, outputs, dead)
            return
        await self._deliver(outputs, dead)
        self._count(batch, outputs, dead)
        try:
            await self.consumer.commit(offsets)
        except KafkaError as exc:
            # The partitions moved to another member during a rebalance: it re-reads from
            # the last commit, so these records arrive twice (flagged by their keys), never
            # zero times.
            log.warning(
                "bridge %s: commit failed, records will be redelivered: %s", self.ends.name, exc
            )

    async def _deliver(self, outputs: list[Outgoing], dead: list[Outgoing]) -> None:
        """Deliver to the target cluster, however long it takes; while the target does not
        acknowledge, ``problem`` says so (readiness) and nothing is committed."""

        async def both() -> None:
            if outputs:
                await self.producer.deliver(self.ends.target_topic, outputs)
            if dead:
                await self.producer.deliver(self.ends.dead_letter_topic, dead)

        delivery = asyncio.ensure_future(both())
        done, _ = await asyncio.wait({delivery}, timeout=_SLOW_ACK_S)
        if not done:
            self.problem = (
                f"the target cluster of {self.ends.target_area} has not acknowledged for "
                f"{_SLOW_ACK_S:g} s; waiting, nothing committed"
            )
            log.warning("bridge %s: %s", self.ends.name, self.problem)
        await delivery
        self.problem = None

    def _count(self, batch: list[Incoming], outputs: list[Outgoing], dead: list[Outgoing]) -> None:
        acknowledged = self.clock()
        observe = self._latency.observe
        for message in batch:
            if message.timestamp_ms is not None:
                observe(max(0.0, acknowledged - message.timestamp_ms / 1000))
        metrics.RECORDS_OUT.labels(self.ends.name).inc(len(outputs))
        metrics.DEAD_LETTERS.labels(self.ends.name).inc(len(dead))
        self.converted += len(outputs)
        self.dead_lettered += len(dead)

    async def _report_lag(self) -> None:
        now = time.monotonic()
        if now - self._last_lag < _LAG_EVERY_S:
            return
        self._last_lag = now
        try:
            lags = await self.consumer.lag()
        except KafkaError:
            return
        held = {tp.partition for tp in lags}
        if held != self.partitions:
            # Partitions move between the processes of a bridge on every rebalance: say so,
            # and drop the lag of partitions this process no longer reads.
            for gone in self.partitions - held:
                with contextlib.suppress(KeyError):
                    metrics.LAG.remove(self.ends.name, str(gone))
            self.partitions = held
            log.info(
                "bridge %s: this process now reads partitions %s of %s",
                self.ends.name,
                ", ".join(map(str, sorted(held))) or "none",
                self.ends.source_topic,
            )
        for tp, lag in lags.items():
            metrics.LAG.labels(self.ends.name, str(tp.partition)).set(lag)

    async def run(self, shutdown: asyncio.Event) -> None:
        """Consume and convert until ``shutdown`` is set.

        When delivering (or a transaction) fails, the consumer rejoins its group and
        resumes from the last committed offsets, so nothing after them is skipped.
        """
        if self.transactions is not None:
            await self.transactions.start()
        await self.consumer.start()
        try:
            while not shutdown.is_set():
                try:
                    batch = await self.consumer.get_batch(500, 0.5)
                    if batch:
                        await self.process(batch)
                    await self._report_lag()
                except TsunaguError as exc:
                    # Not a record's fault (those are dead-lettered in convert): the cluster
                    # or the source registry is away, or a mapping function says something
                    # it needs is. Nothing of this batch was committed, so it is read again
                    # once they are back.
                    self.problem = f"{exc}; retrying from the last committed offsets"
                    log.warning("bridge %s: %s", self.ends.name, self.problem)
                    await self.consumer.stop()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(shutdown.wait(), 2.0)
                    await self.consumer.start()
        finally:
            await self.consumer.stop()
            if self.transactions is not None:
                await self.transactions.stop()
