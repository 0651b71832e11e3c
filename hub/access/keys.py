"""API keys and their grants: issue, list, revoke, grant, and authenticate a presented key.

A key is shown to its owner once, as ``<key id>.<secret>``. The key id is public (it names
the key in listings, grants and the audit log); only a SHA-256 digest of the secret is stored.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.access.tables import grants as grant_table
from hub.access.tables import keys as key_table
from hub.db import write_transaction
from hub.errors import TsunaguError

__all__ = [
    "PERMISSIONS",
    "Grant",
    "IssuedKey",
    "KeyInfo",
    "KeyStore",
    "Permission",
    "UnknownKeyError",
    "split_key",
]

#: ``read`` and ``publish`` apply to topics; ``registry:write`` lets a key change the embedded
#: schema registry (register, delete, set compatibility) for the subjects its pattern covers.
Permission = Literal["read", "publish", "registry:write"]
PERMISSIONS: tuple[Permission, ...] = ("read", "publish", "registry:write")

_KEY_ID = re.compile(r"tk_[0-9a-f]{16}")
# A dummy digest compared against when the key id is unknown, so a miss costs the same work
# as a hit (key ids are not secret, but there is no reason to make misses cheaper).
_DUMMY_DIGEST = hashlib.sha256(b"tsunagu-no-such-key").hexdigest()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _digest(secret: str) -> str:
    # The secret is 256 random bits, so a brute-force search over it is hopeless whatever the
    # hash speed; a slow password hash (scrypt, argon2) would only add CPU to every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(plaintext: str) -> tuple[str, str] | None:
    """The (key id, secret) of a presented key, or None when it is not shaped like one."""
    key_id, dot, secret = plaintext.strip().partition(".")
    if not dot or not secret or not _KEY_ID.fullmatch(key_id):
        return None
    return key_id, secret


class UnknownKeyError(TsunaguError, KeyError):
    """No key with that id exists (the caller named it)."""

    blame = "input"


@dataclass(frozen=True, slots=True)
class Grant:
    """Permission for one key on a topic name or glob, optionally until a moment (ms)."""

    topic: str
    permission: Permission
    expires_ms: int | None = None

    def expired(self, now_ms: int) -> bool:
        """True when the grant has an expiry at or before `now_ms`."""
        return self.expires_ms is not None and self.expires_ms <= now_ms


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What the store knows about a key (never its secret).

    `authenticate` returns revoked keys too, so the policy can answer "revoked" rather than
    "unknown"; check `revoked` (or use `policy.authorize`) before trusting one.
    """

    key_id: str
    name: str
    created_ms: int
    revoked_ms: int | None
    rate_per_minute: float | None
    grants: tuple[Grant, ...] = ()

    @property
    def revoked(self) -> bool:
        return self.revoked_ms is not None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A newly created key: `plaintext` is shown once and cannot be recovered later."""

    info: KeyInfo
    plaintext: str


_M = TypeVar("_M", bound=Callable[..., Awaitable[Any]])


def _changes(method: _M) -> _M:
    """Mark a KeyStore method that changes keys or grants (bumps ``generation``)."""

    @functools.wraps(method)
    async def wrapper(self: KeyStore, *args: Any, **kwargs: Any) -> Any:
        self.generation += 1
        try:
            return await method(self, *args, **kwargs)
        finally:
            self.generation += 1

    return cast("_M", wrapper)


class KeyStore:
    """API keys and grants in the runtime store (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], int] = _now_ms) -> None:
        # Bumped around every change, so caches of authenticated keys know to look again.
        self.generation = 0
        self.engine = engine
        self.clock = clock

    @_changes
    async def create(
        self,
        name: str,
        *,
        rate_per_minute: float | None = None,
        grants: tuple[Grant, ...] = (),
    ) -> IssuedKey:
        """Issue a key called `name` with optional rate limit and grants; returns its plaintext."""
        if rate_per_minute is not None and rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be positive")
        key_id = f"tk_{secrets.token_hex(8)}"
        secret = secrets.token_urlsafe(32)
        created = self.clock()
        async with write_transaction(self.engine) as conn:
            await conn.execute(
                key_table.insert().values(
                    key_id=key_id,
                    secret_hash=_digest(secret),
                    name=name,
                    created_ms=created,
                    rate_per_minute=rate_per_minute,
                )
            )
            for grant in grants:
                await conn.execute(self._upsert_grant(key_id, grant))
        info = KeyInfo(key_id, name, created, None, rate_per_minute, tuple(grants))
        return IssuedKey(info, f"{key_id}.{secret}")

    async def list(self, *, include_revoked: bool = True) -> list[KeyInfo]:
        """Every key with its grants, oldest first."""
        query = sa.select(key_table).order_by(key_table.c.created_ms, key_table.c.key_id)
        if not include_revoked:
            query = query.where(key_table.c.revoked_ms.is_(None))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            grant_rows = (
                await conn.execute(
                    sa.select(grant_table).order_by(grant_table.c.topic, grant_table.c.permission)
                )
            ).all()
        by_key: dict[str, list[Grant]] = {}
        for g in grant_rows:
            by_key.setdefault(g.key_id, []).append(Grant(g.topic, g.permission, g.expires_ms))
        return [
            KeyInfo(
                r.key_id,
                r.name,
                r.created_ms,
                r.revoked_ms,
                r.rate_per_minute,
                tuple(by_key.get(r.key_id, ())),
            )
            for r in rows
        ]

    async def get(self, key_id: str) -> KeyInfo | None:
        """The key called `key_id` with its grants, or None."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(key_table).where(key_table.c.key_id == key_id))
            ).first()
            if row is None:
                return None
            grant_rows = (
                await conn.execute(
                    sa.select(grant_table)
                    .where(grant_table.c.key_id == key_id)
                    .order_by(grant_table.c.topic, grant_table.c.permission)
                )
            ).all()
        return KeyInfo(
            row.key_id,
            row.name,
            row.created_ms,
            row.revoked_ms,
            row.rate_per_minute,
            tuple(Grant(g.topic, g.permission, g.expires_ms) for g in grant_rows),
        )

    async def authenticate(self, plaintext: str) -> KeyInfo | None:
        """The key a caller presented, or None when it is malformed, unknown or wrong.

        Revoked keys are returned (with `revoked_ms` set), so the answer can say so.
        """
        parts = split_key(plaintext)
        if parts is None:
            return None
        key_id, secret = parts
        async with self.engine.connect() as conn:
            stored = (
                await conn.execute(
                    sa.select(key_table.c.secret_hash).where(key_table.c.key_id == key_id)
                )
            ).scalar()
        # Constant-time comparison, so response timing reveals nothing about the digest.
        matches = hmac.compare_digest(_digest(secret), stored or _DUMMY_DIGEST)
        if stored is None or not matches:
            return None
        return await self.get(key_id)

    @_changes
    async def revoke(self, key_id: str) -> KeyInfo:
        """Revoke a key (idempotent: the first revocation time is kept)."""
        async with write_transaction(self.engine) as conn:
            result = await conn.execute(
                key_table.update()
                .where(key_table.c.key_id == key_id, key_table.c.revoked_ms.is_(None))
                .values(revoked_ms=self.clock())
            )
            if result.rowcount == 0:
                exists = (
                    await conn.execute(
                        sa.select(key_table.c.key_id).where(key_table.c.key_id == key_id)
                    )
                ).first()
                if exists is None:
                    raise UnknownKeyError(key_id)
        info = await self.get(key_id)
        assert info is not None
        return info

    @_changes
    async def grant(self, key_id: str, grant: Grant) -> None:
        """Give `key_id` a grant, replacing the expiry of an identical one."""
        if grant.permission not in PERMISSIONS:
            raise ValueError(f"permission must be one of {', '.join(PERMISSIONS)}")
        async with write_transaction(self.engine) as conn:
            exists = (
                await conn.execute(
                    sa.select(key_table.c.key_id).where(key_table.c.key_id == key_id)
                )
            ).first()
            if exists is None:
                raise UnknownKeyError(key_id)
            await conn.execute(self._upsert_grant(key_id, grant))

    @_changes
    async def ungrant(self, key_id: str, topic: str, permission: Permission) -> bool:
        """Remove a grant; True when there was one."""
        async with write_transaction(self.engine) as conn:
            result = await conn.execute(
                grant_table.delete().where(
                    grant_table.c.key_id == key_id,
                    grant_table.c.topic == topic,
                    grant_table.c.permission == permission,
                )
            )
        return bool(result.rowcount)

    def _upsert_grant(self, key_id: str, grant: Grant) -> sa.Executable:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(grant_table).values(
            key_id=key_id,
            topic=grant.topic,
            permission=grant.permission,
            expires_ms=grant.expires_ms,
        )
        upsert: sa.Executable = statement.on_conflict_do_update(
            index_elements=["key_id", "topic", "permission"],
            set_={"expires_ms": statement.excluded.expires_ms},
        )
        return upsert
