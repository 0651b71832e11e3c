"""``POST /v1/topics/{topic}/records``: publish over HTTP, answered only after Kafka acknowledged.

The body is a JSON array or NDJSON of canonical records. Every record is validated
against the topic's schema first; if any is invalid, nothing is published and the
answer is a 422 problem+json listing each problem by record index and field (a publisher
fixes and resends one request, rather than reconciling half of one). Records are checked
strictly (``hub.gateway.strict``): no unknown field, no value of the wrong JSON type.
The provenance envelope (area, source_feed, ingested_at) is the hub's: a record that sets
it to anything but null (or, for area, the topic's own area) is refused. observed_at is
the publisher's, now when left out.

An ``Idempotency-Key`` header makes retries safe: the first answer is stored, and the
same key with the same body gets that answer again without publishing twice. While the
first request runs, its placeholder names the process that owns it; a retry finding a
placeholder whose owner is gone (a crash, a restart) or older than the publish timeout
allows takes it over and publishes. Each record of a keyed request carries a
``tsunagu-idempotency-key`` header (``http:<principal>/<key>/<index>``), the same on every
attempt, so a consumer can drop the copy a retry makes when a crash fell between Kafka
taking the batch and the answer being stored.

Kafka's acknowledgement is awaited a bounded time (``hub.gateway.publish_timeout``); past it the
answer is 503 with Retry-After, so nothing is acknowledged that Kafka did not take.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from aiohttp import web
from aiohttp.http_exceptions import PayloadEncodingError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub import headers as h
from hub.codec import Encoder
from hub.db import metadata, write_transaction
from hub.errors import EncodeError, KafkaError
from hub.gateway import metrics
from hub.gateway.problems import problem
from hub.gateway.strict import RecordChecker
from hub.headers import Provenance
from hub.kafka import Outgoing, Producer

log = logging.getLogger(__name__)

__all__ = [
    "HUB_ENVELOPE",
    "IdempotencyStore",
    "PublishLimits",
    "TopicPublisher",
    "handle_publish",
    "parse_records",
    "read_body",
    "with_idempotency_key",
]

idempotency = sa.Table(
    "gateway_idempotency",
    metadata,
    sa.Column("principal", sa.String(200), primary_key=True),
    sa.Column("idempotency_key", sa.String(200), primary_key=True),
    sa.Column("topic", sa.String(300), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer),  # null while the first request is in progress
    # the answer once done; while in progress, the owner token of the process running it
    # (kept in this column so stores made before owners existed need no migration)
    sa.Column("response", sa.LargeBinary),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)


@dataclass(frozen=True)
class PublishLimits:
    """Bounds of one publish request."""

    max_body_bytes: int = 8 * 1024 * 1024
    max_records: int = 10_000
    # How long a publish waits for Kafka's acknowledgement before answering 503.
    publish_timeout_s: float = 10.0


#: Seconds a client is told to wait before retrying after a 503 or a 409 "in progress".
RETRY_AFTER_S = 5

# A placeholder outlives the publish timeout by this much before it counts as abandoned:
# room for the store writes around the produce (idempotency answer, audit row).
_IN_PROGRESS_MARGIN_S = 15.0


@dataclass(frozen=True)
class _Owner:
    """Who runs an in-progress request: host, process id and this incarnation's id."""

    host: str
    pid: int
    incarnation: str

    def token(self) -> bytes:
        return orjson.dumps({"host": self.host, "pid": self.pid, "incarnation": self.incarnation})

    @classmethod
    def parse(cls, token: bytes | None) -> _Owner | None:
        try:
            data = orjson.loads(token or b"")
            return cls(str(data["host"]), int(data["pid"]), str(data["incarnation"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None  # a placeholder made before owners were recorded

    def gone(self) -> bool:
        """True only when this owner is certainly no longer running (same host: its
        process is dead, or its pid now belongs to this process's new incarnation, as
        pid 1 does in a restarted container). Another host's owner is never known gone."""
        if self.host != THIS_PROCESS.host:
            return False
        if self.pid == THIS_PROCESS.pid:
            return self.incarnation != THIS_PROCESS.incarnation
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, someone else's
        return False


#: This process incarnation, the owner of the placeholders it writes.
THIS_PROCESS = _Owner(socket.gethostname(), os.getpid(), uuid.uuid4().hex)


def _retry_after(exc: web.HTTPException, seconds: float) -> web.HTTPException:
    exc.headers["Retry-After"] = str(max(1, int(seconds + 0.999)))
    return exc


def parse_records(body: bytes, content_type: str) -> list[Any]:
    """The records of a JSON-array or NDJSON body; HTTP 400 problem naming what is wrong."""
    if content_type in {"application/x-ndjson", "application/ndjson", "application/jsonl"}:
        records = []
        for number, line in enumerate(body.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise problem(400, "Bad NDJSON", f"line {number}: {exc}") from exc
        return records
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise problem(400, "Bad JSON", str(exc)) from exc
    if isinstance(parsed, dict):
        return [parsed]
    if not isinstance(parsed, list):
        raise problem(400, "Bad JSON", "the body is a record, an array of records, or NDJSON")
    return parsed


class IdempotencyStore:
    """Remembers the answer to each (principal, Idempotency-Key) for a day."""

    retention_ms = 24 * 3600 * 1000

    def __init__(self, engine: AsyncEngine, *, publish_timeout_s: float = 10.0) -> None:
        self.engine = engine
        # Publishing is bounded by the publish timeout, so a placeholder older than this
        # belongs to a request that can no longer finish.
        self.in_progress_ms = int((publish_timeout_s + _IN_PROGRESS_MARGIN_S) * 1000)

    async def begin(
        self, principal: str, key: str, topic: str, request_hash: str
    ) -> tuple[int, bytes] | None:
        """None when this request is to run (it must then ``finish`` or ``forget``): the
        key is new, or its placeholder was abandoned and is now ours; else the stored
        answer. HTTP 409/422 problems for conflicts."""
        now = int(time.time() * 1000)
        table = idempotency
        mine = THIS_PROCESS.token()
        where = (table.c.principal == principal, table.c.idempotency_key == key)
        async with write_transaction(self.engine) as conn:
            await conn.execute(table.delete().where(table.c.created_ms < now - self.retention_ms))
            row = (
                await conn.execute(
                    sa.select(
                        table.c.request_hash, table.c.status, table.c.response, table.c.created_ms
                    ).where(*where)
                )
            ).first()
            if row is None:
                try:
                    await conn.execute(
                        table.insert().values(
                            principal=principal,
                            idempotency_key=key,
                            topic=topic,
                            request_hash=request_hash,
                            response=mine,
                            created_ms=now,
                        )
                    )
                except IntegrityError as exc:
                    raise _retry_after(
                        problem(409, "Request in progress", "retry shortly"), RETRY_AFTER_S
                    ) from exc
                return None
            if row.request_hash != request_hash:
                raise problem(
                    422,
                    "Idempotency key reused",
                    "this Idempotency-Key was used with a different request body",
                )
            if row.status is not None:
                return int(row.status), bytes(row.response)
            owner = _Owner.parse(row.response)
            expires = int(row.created_ms) + self.in_progress_ms
            if now < expires and (owner is None or not owner.gone()):
                raise _retry_after(
                    problem(
                        409, "Request in progress", "the first request with this key is running"
                    ),
                    (expires - now) / 1000,
                )
            # The owner crashed or ran out of time: take the placeholder over. The guard on
            # the old token makes two retries racing for it (on PostgreSQL) elect one.
            taken = await conn.execute(
                table.update()
                .where(*where, table.c.status.is_(None), table.c.created_ms == row.created_ms)
                .values(response=mine, created_ms=now)
            )
            if taken.rowcount != 1:
                raise _retry_after(
                    problem(409, "Request in progress", "another retry took this key over"),
                    RETRY_AFTER_S,
                )
        metrics.IDEMPOTENCY_TAKEOVERS.labels(topic).inc()
        # Said, so an operator can match the duplicates it may cause to their cause.
        log.warning(
            "Idempotency-Key %r of %s on %s: took over the request left in progress by %s "
            "(%s); records it sent may be in Kafka twice, with the same idempotency-key header",
            key,
            principal,
            topic,
            "an unknown process" if owner is None else f"pid {owner.pid} on {owner.host}",
            "its process is gone" if now < expires else "older than the publish timeout",
        )
        return None

    async def finish(self, principal: str, key: str, status: int, response: bytes) -> None:
        table = idempotency
        async with write_transaction(self.engine) as conn:
            await conn.execute(
                table.update()
                .where(table.c.principal == principal, table.c.idempotency_key == key)
                .values(status=status, response=response)
            )

    async def forget(self, principal: str, key: str) -> None:
        """Drop the placeholder of a request that failed, so a retry can run (only while it
        is still this process's: a retry may have taken it over meanwhile)."""
        table = idempotency
        async with write_transaction(self.engine) as conn:
            await conn.execute(
                table.delete().where(
                    table.c.principal == principal,
                    table.c.idempotency_key == key,
                    table.c.status.is_(None),
                    table.c.response == THIS_PROCESS.token(),
                )
            )


#: Problems listed in a 422 answer: enough to fix a batch, bounded whatever was sent.
_MAX_ERRORS = 100

#: The envelope fields the hub sets on every record published over HTTP (provenance).
HUB_ENVELOPE = ("area", "source_feed", "ingested_at")


class TopicPublisher:
    """Validates and produces records of one topic for HTTP publishers."""

    def __init__(
        self,
        topic: str,
        area: str,
        key_field: str,
        encoder: Encoder,
        producer: Producer,
        *,
        checker: RecordChecker,
    ) -> None:
        self.topic = topic
        self.area = area
        self.key_field = key_field
        self.encoder = encoder
        self.producer = producer
        self.checker = checker
        self._envelope = [f for f in HUB_ENVELOPE if f in checker.fields]
        self._observed = "observed_at" in checker.fields

    def prepare(self, records: list[Any], principal: str) -> list[Outgoing]:
        """Encode every record or raise a 422 problem listing every problem of every invalid
        one, by record index and field."""
        now = int(time.time() * 1000)
        origin = Provenance(f"http:{principal}", self.area, now)
        headers = origin.headers()  # the same provenance as the envelope, in every record
        hub_values: dict[str, Any] = {
            "area": origin.area,
            "source_feed": origin.source,
            "ingested_at": origin.ingested_at_ms,
        }
        out: list[Outgoing] = []
        errors: list[dict[str, Any]] = []
        refused = 0
        for index, record in enumerate(records):
            # Problems past the first hundred are not listed, so none are collected: a
            # record's check stops at the room left (one is enough to count it refused).
            problems = self._problems(record, hub_values, now, _MAX_ERRORS - len(errors))
            if problems:
                refused += 1
                errors.extend({"index": index, **p} for p in problems)
                continue
            try:
                value = self.encoder.encode(record)
            except EncodeError as exc:  # not expected after the checker; the encoder decides
                refused += 1
                errors.append({"index": index, "field": None, "detail": str(exc)})
                continue
            out.append(Outgoing(record[self.key_field].encode(), value, headers))
        if errors:
            raise problem(
                422,
                "Invalid records",
                f"{refused} of {len(records)} record(s) do not fit the schema of "
                f"{self.topic}; nothing was published",
                errors=errors[:_MAX_ERRORS],
            )
        return out

    def _problems(
        self, record: Any, hub_values: dict[str, Any], now: int, limit: int
    ) -> list[dict[str, Any]]:
        """What is wrong with one record (empty if nothing; a few more than ``limit`` at
        most); fills in the hub's envelope."""
        if not isinstance(record, dict):
            return [{"field": None, "detail": "a record is a JSON object"}]
        problems: list[dict[str, Any]] = []
        # The provenance is the hub's: a publisher may leave it out, send null, or name the
        # topic's own area; any other value is refused rather than silently replaced, so a
        # publisher never believes a value was stored that was not.
        for field in self._envelope:
            given = record.get(field)
            if given is not None and not (field == "area" and given == self.area):
                problems.append(
                    {
                        "field": field,
                        "detail": f"{field} is set by the hub; leave it out (or null)",
                    }
                )
            record[field] = hub_values[field]
        if self._observed:
            record.setdefault("observed_at", now)  # the publisher's, when it gives one
        found = self.checker.check(record, limit)
        problems.extend({"field": p.field, "detail": p.detail} for p in found)
        key = record.get(self.key_field)
        if not problems and (not isinstance(key, str) or not key):
            problems.append({"field": self.key_field, "detail": "the key is a non-empty string"})
        return problems

    async def publish(self, outgoing: list[Outgoing], timeout: float) -> list[dict[str, int]]:
        """Produce and wait up to ``timeout`` seconds for Kafka's acknowledgement; the
        offsets, in input order. A 503 problem with Retry-After otherwise.

        Records this gives up on stay in librdkafka's queue and may still land once
        Kafka answers (within its message.timeout.ms, 5 minutes by default): the client
        was told 503, never 200, and a keyed retry's copy carries the same
        idempotency-key header. librdkafka's timeout is deliberately not shortened to
        ours: an idempotent producer whose in-flight records time out bumps its epoch,
        which the embedded broker answers by fencing it for good (measured: after a 20 s
        freeze with a 10 s message timeout, no publish succeeded again)."""
        try:
            deliveries = await asyncio.wait_for(
                self.producer.send_batch(self.topic, outgoing), timeout
            )
        except TimeoutError as exc:
            raise _retry_after(
                problem(
                    503,
                    "Kafka unavailable",
                    f"Kafka did not acknowledge within {timeout:g} s; the request is not "
                    "acknowledged. Records already sent may still land: retry with the same "
                    "Idempotency-Key, its header lets consumers drop the copy",
                ),
                RETRY_AFTER_S,
            ) from exc
        except KafkaError as exc:
            raise _retry_after(
                problem(503, "Kafka unavailable", f"not acknowledged: {exc}"), RETRY_AFTER_S
            ) from exc
        metrics.PUBLISHED.labels(self.topic).inc(len(deliveries))
        return [{"partition": d.partition, "offset": d.offset} for d in deliveries]


def with_idempotency_key(outgoing: list[Outgoing], prefix: str) -> list[Outgoing]:
    """Each record with a ``tsunagu-idempotency-key`` header ``<prefix>/<index>``: the same
    on every attempt of one request, so consumers can tell a retry's copy."""
    return [
        Outgoing(
            o.key, o.value, [*(o.headers or []), (h.IDEMPOTENCY_KEY, f"{prefix}/{i}".encode())]
        )
        for i, o in enumerate(outgoing)
    ]


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole request body, chunked or with a Content-Length; a 413 problem as soon as it
    passes ``limit`` bytes, having held at most ``limit + 1`` of them.

    ``StreamReader.read(n)`` returns what is buffered, not n bytes, so one read would take a
    prefix of a large body for all of it: this reads until the end of the body.
    """
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    parts: list[bytes] = []
    size = 0
    try:
        while part := await request.content.read(limit + 1 - size):
            parts.append(part)
            size += len(part)
            if size > limit:
                raise _too_large(limit)
    except (ConnectionResetError, PayloadEncodingError) as exc:
        # The client went away or sent less than it announced: nobody hears this answer,
        # but the attempt is audited as refused and nothing of the partial body is published.
        raise problem(400, "Incomplete body", f"the body ended early: {exc}") from exc
    return b"".join(parts)


def _too_large(limit: int) -> web.HTTPException:
    return problem(413, "Body too large", f"the limit is {limit:,} bytes")


async def handle_publish(
    request: web.Request,
    body: bytes,
    *,
    publisher: TopicPublisher,
    store: IdempotencyStore,
    principal: str,
    limits: PublishLimits,
) -> web.Response:
    """The publish exchange once the body is read (``read_body``): record limit, idempotency,
    validation, produce, answer."""
    records = parse_records(body, request.content_type)
    if len(records) > limits.max_records:
        raise problem(
            413, "Too many records", f"at most {limits.max_records:,} records per request"
        )
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        if not key or len(key) > 200:
            raise problem(400, "Bad Idempotency-Key", "1 to 200 characters")
        digest = hashlib.sha256(publisher.topic.encode() + b"\0" + body).hexdigest()
        stored = await store.begin(principal, key, publisher.topic, digest)
        if stored is not None:
            status, response = stored
            return web.Response(
                status=status,
                body=response,
                content_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
    try:
        outgoing = publisher.prepare(records, principal)
        if key is not None:
            outgoing = with_idempotency_key(outgoing, f"http:{principal}/{key}")
        offsets = await publisher.publish(outgoing, limits.publish_timeout_s)
    except BaseException:
        if key is not None:
            await store.forget(principal, key)
        raise
    response = orjson.dumps({"topic": publisher.topic, "records": len(offsets), "offsets": offsets})
    if key is not None:
        await store.finish(principal, key, 200, response)
    return web.Response(
        body=response, content_type="application/json", headers={"X-Records": str(len(offsets))}
    )
