"""Write canonical records to a topic: validate by encoding, key by id, skip what is unchanged,
deliver, and send what does not fit the schema to the topic's dead-letter topic with the reason;
retire (tombstone) the entities a complete set no longer has.

Shared by feed ingestion and HTTP publishing, so a record is judged the same way
whichever door it came in by.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from hub import headers as h
from hub.codec import Encoder
from hub.errors import EncodeError
from hub.headers import Provenance
from hub.kafka import Outgoing, Producer, deliver_chunks
from hub.metrics import RECORDS_PRODUCED

__all__ = ["ContentHashes", "TopicWriter", "WriteResult", "content_hash"]

_CHUNK = 5_000


def content_hash(record: dict[str, Any], *, reference_data: bool = False) -> str:
    """A digest of the record's content, ignoring when the hub ingested it.

    Two fetches of an unchanged entity give the same digest, so the entity is not
    re-published; a new observation time counts as a change, except for reference data
    (a timetable's stops), where it is only the date of the file the entity came in.
    """
    # Leave the times out by taking them out for a moment: cheaper than copying the record.
    # Keys are hashed in the record's own order, which its normaliser's code fixes: sorting
    # them cost a quarter of the digest, and a record built in another order is merely
    # published once more.
    ingested = record.pop("ingested_at", _MISSING)
    observed = record.pop("observed_at", _MISSING) if reference_data else _MISSING
    try:
        data = orjson.dumps(record, default=str)
    finally:
        if ingested is not _MISSING:
            record["ingested_at"] = ingested
        if observed is not _MISSING:
            record["observed_at"] = observed
    return hashlib.blake2b(data, digest_size=12).hexdigest()


_MISSING = object()


@dataclass
class WriteResult:
    """What happened to the records of one ``write``."""

    produced: int = 0
    unchanged: int = 0
    dead_lettered: int = 0
    retired: int = 0  # tombstones for entities gone from the source
    errors: list[str] = field(default_factory=list)  # the first few reasons, for people

    def add(self, other: WriteResult) -> None:
        self.produced += other.produced
        self.unchanged += other.unchanged
        self.dead_lettered += other.dead_lettered
        self.retired += other.retired
        self.errors += other.errors[: max(0, 5 - len(self.errors))]


class ContentHashes(Protocol):
    """Entity id -> content hash last published: what lets unchanged entities be skipped,
    and which entities the running cycle has seen: what lets vanished ones be retired."""

    def begin_cycle(self, cycle_ms: int) -> None:
        """A new cycle of the feed starts: what is seen from now on is stamped with it."""

    async def known(self, keys: Sequence[str]) -> Mapping[str, str]:
        """The stored hashes of those of ``keys`` that have one."""
        ...

    async def remember(self, topic: str, hashes: Mapping[str, str]) -> None:
        """Store hashes of entities Kafka has just acknowledged on ``topic`` (seen now)."""

    async def seen(self, keys: Sequence[str]) -> None:
        """Note that the source still has these entities (unchanged, or not encodable)."""

    async def unseen(self, topic: str, prefix: str, after: str, limit: int) -> list[str]:
        """Ids of ``topic`` under ``prefix``, after ``after`` in order, not seen this cycle."""
        ...

    async def forget(self, keys: Sequence[str]) -> None:
        """Drop retired entities."""


class TopicWriter:
    """Writes records of one topic; ``hashes`` enables skipping unchanged entities, and is
    updated only after Kafka acknowledged them (so memory stays bounded by one batch, even
    for a national timetable's tens of millions of stop times)."""

    def __init__(
        self,
        topic: str,
        dead_letter_topic: str,
        encoder: Encoder,
        producer: Producer,
        *,
        key_field: str = "id",
        hashes: ContentHashes | None = None,
        reference_data: bool = False,
    ) -> None:
        self.topic = topic
        self.dead_letter_topic = dead_letter_topic
        self.encoder = encoder
        self.producer = producer
        self.key_field = key_field
        self.hashes = hashes
        self.reference_data = reference_data

    async def write(self, records: Sequence[dict[str, Any]], origin: Provenance) -> WriteResult:
        """Write ``records``; returns counts. Raises only when Kafka does not acknowledge."""
        result = WriteResult()
        base = origin.headers()
        good: list[Outgoing] = []
        fresh: dict[str, str] = {}
        dead: list[Outgoing] = []
        still: list[str] = []  # entities the source still has that are not republished
        known: Mapping[str, str] = {}
        if self.hashes is not None:
            keys = [k for r in records if isinstance(k := r.get(self.key_field), str)]
            known = await self.hashes.known(keys)
        for record in records:
            key = record.get(self.key_field)
            digest = content_hash(record, reference_data=self.reference_data)
            if (
                self.hashes is not None
                and isinstance(key, str)
                and digest in (known.get(key), fresh.get(key))
            ):
                result.unchanged += 1
                still.append(key)
                continue
            reason = None
            if not isinstance(key, str) or not key:
                reason = f"key field {self.key_field!r} is missing or empty"
            else:
                try:
                    value = self.encoder.encode(record)
                except EncodeError as exc:
                    reason = str(exc)
            if reason is not None or not isinstance(key, str):
                reason = reason or "no key"
                dead.append(self._dead_letter(record, key, reason, base))
                if len(result.errors) < 5:
                    result.errors.append(reason)
                if isinstance(key, str) and key:
                    still.append(key)  # its last good version stays: the entity exists
                continue
            good.append(Outgoing(key.encode(), value, [*base, (h.CONTENT_HASH, digest.encode())]))
            fresh[key] = digest
        if good:
            await deliver_chunks(
                self.producer,
                self.topic,
                (good[i : i + _CHUNK] for i in range(0, len(good), _CHUNK)),
            )
            RECORDS_PRODUCED.labels(self.topic).inc(len(good))
            result.produced = len(good)
            if self.hashes is not None:
                await self.hashes.remember(self.topic, fresh)
        if dead:
            await self.producer.deliver(self.dead_letter_topic, dead)
            result.dead_lettered = len(dead)
        if still and self.hashes is not None:
            await self.hashes.seen(still)
        return result

    async def retire(self, prefix: str, origin: Provenance) -> WriteResult:
        """Tombstone every entity of this topic under ``prefix`` that this cycle did not
        see, after the source yielded the complete set; forgotten once Kafka has them."""
        result = WriteResult()
        if self.hashes is None:
            return result  # a topic of every observation keeps no ids to retire
        headers = origin.headers()
        after = ""
        while gone := await self.hashes.unseen(self.topic, prefix, after, _CHUNK):
            tombstones = [Outgoing(key.encode(), None, headers) for key in gone]
            await self.producer.deliver(self.topic, tombstones)
            await self.hashes.forget(gone)
            result.retired += len(gone)
            after = gone[-1]
        return result

    def _dead_letter(
        self, record: dict[str, Any], key: object, reason: str, base: list[tuple[str, bytes]]
    ) -> Outgoing:
        value = orjson.dumps(record, default=str, option=orjson.OPT_NON_STR_KEYS)
        return Outgoing(
            key.encode() if isinstance(key, str) and key else None,
            value,
            h.dead_letter(base, self.topic, "schema", "encode", reason),
        )
