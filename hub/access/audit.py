"""The audit log: who did what, when and how much, chained so that tampering shows even to
someone who can write the store.

Each entry's hash covers the canonical JSON of its fields, the previous entry's hash
included. With an `AuditSeal` (a secret key kept outside the store) the hash is an
HMAC-SHA-256 under that key, so a store writer can neither edit an entry and recompute the
chain after it nor append a forged one; and after every commit a keyed checkpoint (the head's
sequence number and hash) is written to a file outside the store, so deleting the newest
entries, or all of them, shows too. `verify` walks the chain and names the first bad entry.

Without a seal (a log written before keys existed, or a store with no key configured) the
hash is plain SHA-256: it shows accidental damage and careless edits, but anyone who can
write the store can recompute it, and `verify` says so.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import AsyncGenerator, Callable, Iterable
from contextlib import aclosing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.access.tables import audit_log
from hub.db import write_transaction
from hub.errors import TsunaguError

__all__ = [
    "AUDIT_KEY_ENV",
    "GENESIS_HASH",
    "AuditEntry",
    "AuditLog",
    "AuditSeal",
    "Checkpoint",
    "Verification",
    "audit_seal",
    "entry_hash",
    "entry_mac",
]

log = logging.getLogger(__name__)

#: The environment variable that may hold the audit key itself (instead of a key file).
AUDIT_KEY_ENV = "TSUNAGU_AUDIT_KEY"

# A key shorter than this is refused: it could be guessed offline from the chain.
_MIN_KEY_BYTES = 16

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


def _canonical_json(fields: dict[str, Any]) -> bytes:
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def entry_hash(fields: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of an entry's fields: sorted keys, no spaces. The
    hash of an unkeyed log; anyone can compute it."""
    return hashlib.sha256(_canonical_json(fields)).hexdigest()


def entry_mac(key: bytes, fields: dict[str, Any]) -> str:
    """HMAC-SHA-256 (hex) under `key` of the same canonical JSON: the hash of a keyed log,
    which only the key's holder can compute."""
    return hmac.new(key, _canonical_json(fields), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The head of the chain as the writer last committed it, kept outside the store: entry
    `seq` has hash `hash`, and every entry from `keyed_from` on is keyed. `mac` binds these
    to the key, so the file cannot be forged by someone without it either."""

    seq: int
    hash: str
    keyed_from: int
    at_ms: int
    mac: str = ""

    def _signed_fields(self) -> dict[str, Any]:
        # A domain tag, so a checkpoint's MAC can never pass for an entry's or the reverse.
        return {
            "checkpoint": 1,
            "seq": self.seq,
            "hash": self.hash,
            "keyed_from": self.keyed_from,
            "at_ms": self.at_ms,
        }

    @classmethod
    def parse(cls, data: bytes) -> Checkpoint:
        """A checkpoint from its JSON (as written); ValueError if it is not one."""
        try:
            fields = orjson.loads(data)
            return cls(
                seq=int(fields["seq"]),
                hash=str(fields["hash"]),
                keyed_from=int(fields["keyed_from"]),
                at_ms=int(fields["at_ms"]),
                mac=str(fields["mac"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an audit checkpoint: {exc}") from exc

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    def signed(self, key: bytes) -> Checkpoint:
        return Checkpoint(
            self.seq,
            self.hash,
            self.keyed_from,
            self.at_ms,
            entry_mac(key, self._signed_fields()),
        )

    def valid(self, key: bytes) -> bool:
        return hmac.compare_digest(self.mac, entry_mac(key, self._signed_fields()))


@dataclass(frozen=True, slots=True)
class AuditSeal:
    """What makes the log tamper-evident to a store writer: the secret `key` (never in the
    store) and the `checkpoint` file the head is written to after each commit (None: the
    key alone, so deleting the newest entries would not show)."""

    key: bytes = field(repr=False)  # never in a log line or a traceback
    checkpoint: Path | None = None
    key_source: str = ""

    def read_checkpoint(self) -> Checkpoint | None:
        """The checkpoint file's content; None if there is none yet. Raises ValueError if
        it is unreadable or not signed with this key."""
        if self.checkpoint is None or not self.checkpoint.exists():
            return None
        try:
            point = Checkpoint.parse(self.checkpoint.read_bytes())
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"the audit checkpoint {self.checkpoint} is unreadable: {exc}"
            ) from exc
        if not point.valid(self.key):
            raise ValueError(
                f"the audit checkpoint {self.checkpoint} is not signed with this audit key"
            )
        return point

    def write_checkpoint(self, point: Checkpoint) -> None:
        """Replace the checkpoint file atomically (write, fsync, rename), so a crash leaves
        the old checkpoint or the new one, never half of one."""
        if self.checkpoint is None:
            return
        temporary = self.checkpoint.with_name(f".{self.checkpoint.name}.{os.getpid()}.tmp")
        signed = point if point.mac else point.signed(self.key)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, signed.to_json())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.checkpoint)


def audit_seal(
    store_url: str,
    *,
    key_file: str | None = None,
    checkpoint_file: str | None = None,
    create: bool = False,
) -> AuditSeal | None:
    """The seal for the audit log of the store at `store_url`, or None if no key is set up.

    The key comes from the environment variable TSUNAGU_AUDIT_KEY, else from `key_file`,
    else from a file beside a SQLite store (``<store>.audit-key``), which `create` makes
    (32 random bytes, hex, mode 0600) when missing. The checkpoint goes to `checkpoint_file`,
    else beside a SQLite store (``<store>.audit-checkpoint``); a PostgreSQL store needs
    both configured (or the key in the environment), since there is no "beside" for it.
    Raises TsunaguError for a key shorter than 16 bytes or a key file it cannot read.
    """
    database = _sqlite_file(store_url)
    default_key = Path(f"{database}.audit-key") if database is not None else None
    default_checkpoint = Path(f"{database}.audit-checkpoint") if database is not None else None
    checkpoint = Path(checkpoint_file) if checkpoint_file else default_checkpoint
    from_env = os.environ.get(AUDIT_KEY_ENV)
    if from_env:
        key = from_env.strip().encode()
        source = f"${AUDIT_KEY_ENV}"
    else:
        path = Path(key_file) if key_file else default_key
        if path is None:
            return None
        try:
            if not path.exists():
                if not create:
                    return None
                _create_key_file(path)
            key = path.read_bytes().strip()
        except OSError as exc:
            raise TsunaguError(f"cannot read or create the audit key {path}: {exc}") from exc
        source = str(path)
    if len(key) < _MIN_KEY_BYTES:
        raise TsunaguError(f"the audit key from {source} is shorter than {_MIN_KEY_BYTES} bytes")
    return AuditSeal(key, checkpoint, source)


def _sqlite_file(store_url: str) -> Path | None:
    url = make_url(store_url)
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in {"", ":memory:"}:
        return None
    if url.query.get("mode") == "memory":
        return None
    return Path(database).absolute()


def _create_key_file(path: Path) -> None:
    # O_EXCL: two processes starting together must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.write(fd, secrets.token_hex(32).encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    log.info("created the audit key %s (keep it; without it the log cannot be verified)", path)


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of walking the chain: `bad_seq` is the first broken entry (None if intact).

    `keyed` says whether the chain was checked with the audit key (else it proves nothing
    against someone who can write the store); `checkpoint_seq` is the head the checkpoint
    file vouched for (None: no checkpoint, so removing the newest entries would not show);
    `unkeyed` counts entries from before the key, which only the chain after them protects;
    `ignored` counts checkpoints given to `verify` that the key did not sign.
    """

    checked: int
    head_hash: str
    bad_seq: int | None = None
    problem: str | None = None
    keyed: bool = False
    checkpoint_seq: int | None = None
    unkeyed: int = 0
    ignored: int = 0

    @property
    def ok(self) -> bool:
        return self.bad_seq is None and self.problem is None


class AuditLog:
    """Appends to and verifies the hash-chained audit table (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Callable[[], int] = _now_ms,
        seal: AuditSeal | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.seal = seal
        # The first entry this log keyed, from the checkpoint file once it has been read.
        self._keyed_from: int | None = None
        self._checkpointed = 0
        self._checkpoint_lock = asyncio.Lock()
        #: Called with each signed checkpoint after its commit (e.g. to publish it to Kafka);
        #: must not block.
        self.checkpoint_listeners: list[Callable[[Checkpoint], None]] = []

    def _hash(self, fields: dict[str, Any]) -> str:
        return entry_hash(fields) if self.seal is None else entry_mac(self.seal.key, fields)

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
                        entry = AuditEntry(**fields, hash=self._hash(fields))
                        entries.append(entry)
                        seq, prev = seq + 1, entry.hash
                    await conn.execute(audit_log.insert(), [asdict(e) for e in entries])
            except IntegrityError:
                if attempt == _APPEND_ATTEMPTS - 1:
                    raise
                continue
            # After the commit, never before: a checkpoint ahead of the store would read as
            # truncation. A crash in between leaves it one batch behind, and that batch
            # was not acknowledged to anyone (callers answer only after this returns).
            await self._checkpoint(entries[0].seq, entries[-1])
            return entries
        raise AssertionError("unreachable")  # pragma: no cover

    async def _checkpoint(self, first_seq: int, head: AuditEntry) -> None:
        seal = self.seal
        if seal is None:
            return
        async with self._checkpoint_lock:
            if self._keyed_from is None:
                try:
                    previous = await asyncio.to_thread(seal.read_checkpoint)
                except ValueError as exc:
                    # Not ours (another key) or damaged: start afresh from this batch, and
                    # say so, since verify will only vouch for entries from here on.
                    log.warning("%s; starting a new checkpoint at entry %d", exc, first_seq)
                    previous = None
                if previous is not None and previous.seq >= first_seq:
                    # The store lost entries the checkpoint vouches for (deleted, or the
                    # store replaced): keep the checkpoint, so verify keeps reporting it.
                    log.error(
                        "the audit checkpoint says the log reached entry %d, but the store's "
                        "head was entry %d: audit entries were deleted",
                        previous.seq,
                        first_seq - 1,
                    )
                self._keyed_from = previous.keyed_from if previous is not None else first_seq
                self._checkpointed = previous.seq if previous is not None else 0
            if head.seq <= self._checkpointed:
                return  # another appender in this process already wrote a later head
            point = Checkpoint(head.seq, head.hash, self._keyed_from, self.clock()).signed(seal.key)
            if seal.checkpoint is not None:
                await asyncio.to_thread(seal.write_checkpoint, point)
            self._checkpointed = head.seq
            for listener in self.checkpoint_listeners:
                listener(point)

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

    async def verify(self, checkpoints: Iterable[Checkpoint] = ()) -> Verification:
        """Walk the whole chain; report the first entry whose hash, link or number is wrong,
        or that a checkpoint kept outside the store (the seal's file, and `checkpoints`, e.g.
        read back from Kafka) says should exist, or exist otherwise, and does not.

        A checkpoint not signed with the key is ignored and counted (`ignored`): whoever
        wrote it could not have read the log's head from a hub.
        """
        seal = self.seal
        found = seal.read_checkpoint() if seal is not None else None  # ValueError if forged
        points = [found] if found is not None else []
        ignored = 0
        for point in checkpoints:
            if seal is not None and point.valid(seal.key):
                points.append(point)
            else:
                ignored += 1
        recorded = {point.seq: point.hash for point in points}
        top = max(points, key=lambda point: point.seq, default=None)
        # Every entry from keyed_from on must carry the key's MAC; before it, an entry may
        # predate the key (plain SHA-256), protected only by the keyed entries linking to it.
        # Without a checkpoint, unkeyed entries may only come before the first keyed one.
        keyed_from = min((point.keyed_from for point in points), default=None)
        expected_seq, prev_hash, checked, unkeyed = 1, GENESIS_HASH, 0, 0

        def broken(seq: int, problem: str) -> Verification:
            return Verification(
                checked,
                prev_hash,
                seq,
                problem,
                keyed=seal is not None,
                checkpoint_seq=top.seq if top is not None else None,
                unkeyed=unkeyed,
                ignored=ignored,
            )

        # aclosing: returning early must give the streaming connection back at once, not
        # when the generator is garbage-collected (possibly after the engine is disposed).
        async with aclosing(self.entries()) as entries:
            async for entry in entries:
                if entry.seq != expected_seq:
                    return broken(expected_seq, _missing(expected_seq, entry.seq - 1))
                if entry.prev_hash != prev_hash:
                    return broken(
                        entry.seq,
                        f"entry {entry.seq} does not link to entry {entry.seq - 1}"
                        " (one of them was rewritten)",
                    )
                fields = entry.canonical()
                if seal is not None and hmac.compare_digest(
                    entry.hash, entry_mac(seal.key, fields)
                ):
                    keyed_from = entry.seq if keyed_from is None else keyed_from
                elif entry_hash(fields) == entry.hash and (
                    seal is None or keyed_from is None or entry.seq < keyed_from
                ):
                    unkeyed += seal is not None
                else:
                    return broken(
                        entry.seq,
                        f"entry {entry.seq} was altered or forged (its hash is not the "
                        + ("audit key's MAC of its content)" if seal else "hash of its content)"),
                    )
                if recorded.get(entry.seq, entry.hash) != entry.hash:
                    return broken(
                        entry.seq, f"entry {entry.seq} is not the one a checkpoint recorded"
                    )
                expected_seq, prev_hash, checked = entry.seq + 1, entry.hash, checked + 1
        if top is not None and top.seq >= expected_seq:
            return broken(
                expected_seq,
                _missing(expected_seq, top.seq)
                + f" (a checkpoint says the log reached entry {top.seq})",
            )
        return Verification(
            checked,
            prev_hash,
            keyed=seal is not None,
            checkpoint_seq=top.seq if top is not None else None,
            unkeyed=unkeyed,
            ignored=ignored,
        )


def _missing(first: int, last: int) -> str:
    return f"entry {first} is missing" if first == last else f"entries {first}-{last} are missing"
