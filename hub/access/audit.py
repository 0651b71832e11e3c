"""The audit log: who did what, when and how much, hash-chained so tampering shows.

Each entry's hash is SHA-256 over the canonical JSON of its fields, including the previous
entry's hash; `verify` walks the chain and names the first entry that was altered, removed
or relinked. Removing the newest entries leaves a valid (shorter) chain, so keep the head
hash that `verify` prints somewhere else when that matters.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import asdict, dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.access.tables import audit_log
from hub.db import write_transaction

__all__ = ["GENESIS_HASH", "AuditEntry", "AuditLog", "Verification", "entry_hash"]

#: The prev_hash of the first entry.
GENESIS_HASH = "0" * 64

# An arbitrary constant naming the PostgreSQL advisory lock that serialises appends.
_PG_APPEND_LOCK = 0x7473_756E_6167_7501

# Racing appenders on PostgreSQL are serialised by the lock; the retry covers a database
# where that lock is unavailable (and two appenders pick the same sequence number).
_APPEND_ATTEMPTS = 5


# What a caller gives for an entry (the chain adds seq, prev_hash and hash).
_ENTRY_FIELDS = (
    "at_ms",
    "key_id",
    "action",
    "topic",
    "outcome",
    "amount",
    "size_bytes",
    "client",
    "detail",
)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited attempt. `key_id` is the principal ("anonymous" without a key); `outcome`
    is ``ok`` or the refusing HTTP status as text (``401``, ``403``, ``429``); `amount` counts
    records and `size_bytes` their size, when known."""

    seq: int
    at_ms: int
    key_id: str
    action: str
    topic: str
    outcome: str
    amount: int | None
    size_bytes: int | None
    client: str | None
    detail: str | None
    prev_hash: str
    hash: str

    def canonical(self) -> dict[str, Any]:
        """The fields the hash covers (all but the hash itself)."""
        fields = asdict(self)
        del fields["hash"]
        return fields


def entry_hash(fields: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of an entry's fields: sorted keys, no spaces."""
    return hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of walking the chain: `bad_seq` is the first broken entry (None if intact)."""

    checked: int
    head_hash: str
    bad_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.bad_seq is None


class AuditLog:
    """Appends to and verifies the hash-chained audit table (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], int] = _now_ms) -> None:
        self.engine = engine
        self.clock = clock

    async def append(
        self,
        *,
        key_id: str,
        action: str,
        topic: str,
        outcome: str,
        amount: int | None = None,
        size_bytes: int | None = None,
        client: str | None = None,
        detail: str | None = None,
        at_ms: int | None = None,
    ) -> AuditEntry:
        """Add one entry at the head of the chain and return it."""
        fields = {
            "at_ms": self.clock() if at_ms is None else at_ms,
            "key_id": key_id,
            "action": action,
            "topic": topic,
            "outcome": outcome,
            "amount": amount,
            "size_bytes": size_bytes,
            "client": client,
            "detail": detail,
        }
        return (await self.append_many([fields]))[0]

    async def append_many(self, items: list[dict[str, Any]]) -> list[AuditEntry]:
        """Add entries (fields as for ``append``, ``at_ms`` included) in one transaction,
        chained in order: one commit for a burst of requests instead of one each."""
        for attempt in range(_APPEND_ATTEMPTS):
            try:
                async with write_transaction(self.engine) as conn:
                    await self._lock(conn)
                    last = (
                        await conn.execute(
                            sa.select(audit_log.c.seq, audit_log.c.hash)
                            .order_by(audit_log.c.seq.desc())
                            .limit(1)
                        )
                    ).first()
                    seq, prev = (last.seq + 1, last.hash) if last is not None else (1, GENESIS_HASH)
                    entries = []
                    for item in items:
                        fields: dict[str, Any] = {
                            "seq": seq,
                            **{name: item.get(name) for name in _ENTRY_FIELDS},
                            "prev_hash": prev,
                        }
                        entry = AuditEntry(**fields, hash=entry_hash(fields))
                        entries.append(entry)
                        seq, prev = seq + 1, entry.hash
                    await conn.execute(audit_log.insert(), [asdict(e) for e in entries])
                    return entries
            except IntegrityError:
                if attempt == _APPEND_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _lock(self, conn: AsyncConnection) -> None:
        # SQLite's write_transaction already holds the database write lock (BEGIN IMMEDIATE);
        # PostgreSQL needs an explicit lock so two appenders do not read the same head.
        if conn.dialect.name == "postgresql":
            await conn.execute(
                sa.select(sa.func.pg_advisory_xact_lock(sa.literal(_PG_APPEND_LOCK, sa.BigInteger)))
            )

    async def entries(self, *, after_seq: int = 0) -> AsyncGenerator[AuditEntry, None]:
        """Every entry after `after_seq`, oldest first, streamed."""
        async with self.engine.connect() as conn:
            result = await conn.stream(
                sa.select(audit_log)
                .where(audit_log.c.seq > after_seq)
                .order_by(audit_log.c.seq)
                .execution_options(yield_per=1000)
            )
            async for row in result:
                yield AuditEntry(**row._asdict())

    async def tail(self, n: int = 20) -> list[AuditEntry]:
        """The newest `n` entries, oldest first."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(audit_log).order_by(audit_log.c.seq.desc()).limit(max(n, 0))
                )
            ).all()
        return [AuditEntry(**row._asdict()) for row in reversed(rows)]

    async def verify(self) -> Verification:
        """Walk the whole chain; report the first entry whose hash, link or number is wrong."""
        expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
        # aclosing: returning early must give the streaming connection back at once, not
        # when the generator is garbage-collected (possibly after the engine is disposed).
        async with aclosing(self.entries()) as entries:
            async for entry in entries:
                if entry.seq != expected_seq:
                    missing = (
                        f"entry {expected_seq} is missing"
                        if entry.seq == expected_seq + 1
                        else f"entries {expected_seq}-{entry.seq - 1} are missing"
                    )
                    return Verification(checked, prev_hash, expected_seq, missing)
                if entry.prev_hash != prev_hash:
                    return Verification(
                        checked,
                        prev_hash,
                        entry.seq,
                        f"entry {entry.seq} does not link to entry {entry.seq - 1}"
                        " (one of them was rewritten)",
                    )
                if entry_hash(entry.canonical()) != entry.hash:
                    return Verification(
                        checked,
                        prev_hash,
                        entry.seq,
                        f"entry {entry.seq} was altered (its content does not match its hash)",
                    )
                expected_seq, prev_hash, checked = entry.seq + 1, entry.hash, checked + 1
        return Verification(checked, prev_hash)
