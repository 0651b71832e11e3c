"""Keys, grants and the audit chain on real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.access import AuditLog, Grant, KeyStore, UnknownKeyError
from hub.access.audit import GENESIS_HASH, entry_hash
from hub.access.tables import audit_log, keys
from hub.db import make_engine
from tests.access_control.entries import append_publishes
from tests.pg import PgSchema


async def test_key_is_shown_once_and_stored_only_as_a_digest(engine: AsyncEngine) -> None:
    store = KeyStore(engine)
    issued = await store.create("kaga-maas", rate_per_minute=120, grants=(Grant("kaga.*", "read"),))
    key_id, secret = issued.plaintext.split(".", 1)
    assert key_id == issued.info.key_id
    assert key_id.startswith("tk_")
    assert len(secret) >= 40
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(keys))).one()
    stored = " ".join(str(v) for v in row)
    assert secret not in stored
    assert issued.plaintext not in stored
    info = await store.authenticate(issued.plaintext)
    assert info is not None
    assert (info.key_id, info.name, info.rate_per_minute) == (key_id, "kaga-maas", 120)
    assert info.grants == (Grant("kaga.*", "read"),)
    listed = await store.list()
    assert [k.key_id for k in listed] == [key_id]


async def test_wrong_malformed_or_unknown_keys_do_not_authenticate(engine: AsyncEngine) -> None:
    store = KeyStore(engine)
    issued = await store.create("a")
    key_id, secret = issued.plaintext.split(".", 1)
    other = "A" if secret[0] != "A" else "B"
    for presented in (
        f"{key_id}.{other}{secret[1:]}",
        f"{key_id}.",
        key_id,
        f"tk_ffffffffffffffff.{secret}",
        "",
        "garbage",
    ):
        assert await store.authenticate(presented) is None, presented


async def test_revoked_keys_authenticate_as_revoked(engine: AsyncEngine) -> None:
    store = KeyStore(engine)
    issued = await store.create("a")
    revoked = await store.revoke(issued.info.key_id)
    assert revoked.revoked
    again = await store.revoke(issued.info.key_id)
    assert again.revoked_ms == revoked.revoked_ms
    info = await store.authenticate(issued.plaintext)
    assert info is not None
    assert info.revoked
    assert [k.key_id for k in await store.list(include_revoked=False)] == []
    with pytest.raises(UnknownKeyError):
        await store.revoke("tk_ffffffffffffffff")


async def test_grant_replaces_expiry_and_ungrant_removes(engine: AsyncEngine) -> None:
    store = KeyStore(engine)
    key_id = (await store.create("a")).info.key_id
    await store.grant(key_id, Grant("kaga.bus.v1", "publish", expires_ms=5))
    await store.grant(key_id, Grant("kaga.bus.v1", "publish", expires_ms=10))
    await store.grant(key_id, Grant("kaga.bus.v1", "read"))
    info = await store.get(key_id)
    assert info is not None
    assert set(info.grants) == {
        Grant("kaga.bus.v1", "publish", 10),
        Grant("kaga.bus.v1", "read", None),
    }
    assert await store.ungrant(key_id, "kaga.bus.v1", "publish")
    assert not await store.ungrant(key_id, "kaga.bus.v1", "publish")
    info = await store.get(key_id)
    assert info is not None
    assert info.grants == (Grant("kaga.bus.v1", "read"),)
    with pytest.raises(UnknownKeyError):
        await store.grant("tk_ffffffffffffffff", Grant("x", "read"))


async def append_some(log: AuditLog, n: int) -> None:
    await append_publishes(log, n, size_bytes=100, client="127.0.0.1")


async def test_audit_chain_links_every_entry(engine: AsyncEngine) -> None:
    log = AuditLog(engine)
    empty = await log.verify()
    assert (empty.ok, empty.checked, empty.head_hash) == (True, 0, GENESIS_HASH)
    await append_some(log, 5)
    entries = [e async for e in log.entries()]
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    result = await log.verify()
    assert (result.ok, result.checked, result.head_hash) == (True, 5, entries[-1].hash)
    assert [e.seq for e in await log.tail(2)] == [4, 5]


async def test_altered_entry_is_named(engine: AsyncEngine) -> None:
    log = AuditLog(engine)
    await append_some(log, 5)
    async with engine.begin() as conn:
        await conn.execute(audit_log.update().where(audit_log.c.seq == 3).values(amount=1000))
    result = await log.verify()
    assert (result.ok, result.bad_seq, result.checked) == (False, 3, 2)
    assert "entry 3 was altered" in (result.problem or "")


async def test_rehashed_entry_breaks_the_next_link(engine: AsyncEngine) -> None:
    log = AuditLog(engine)
    await append_some(log, 4)
    entry = (await log.tail(4))[1]
    forged = {**entry.canonical(), "outcome": "403"}
    async with engine.begin() as conn:
        await conn.execute(
            audit_log.update()
            .where(audit_log.c.seq == 2)
            .values(outcome="403", hash=entry_hash(forged))
        )
    result = await log.verify()
    assert result.bad_seq == 3
    assert "does not link" in (result.problem or "")


@pytest.mark.parametrize(("removed", "problem"), [([1], "entry 1 is missing"), ([3, 4], "3-4")])
async def test_removed_entries_are_named(
    engine: AsyncEngine, removed: list[int], problem: str
) -> None:
    log = AuditLog(engine)
    await append_some(log, 6)
    async with engine.begin() as conn:
        await conn.execute(audit_log.delete().where(audit_log.c.seq.in_(removed)))
    result = await log.verify()
    assert result.bad_seq == removed[0]
    assert problem in (result.problem or "")


async def test_concurrent_appends_from_two_processes_do_not_fork(pg_schema: PgSchema) -> None:
    # Two engines = two connection pools, as two hub processes would have.
    first, second = AuditLog(pg_schema.engine()), AuditLog(pg_schema.engine())
    await asyncio.gather(*(append_some(log, 15) for log in (first, second, first, second)))
    result = await first.verify()
    assert (result.ok, result.checked) == (True, 60)


async def test_concurrent_appends_on_sqlite_do_not_fork(sqlite_engine: AsyncEngine) -> None:
    other = make_engine(str(sqlite_engine.url))
    try:
        logs = (AuditLog(sqlite_engine), AuditLog(other))
        await asyncio.gather(*(append_some(log, 10) for log in logs * 2))
        result = await logs[0].verify()
        assert (result.ok, result.checked) == (True, 40)
    finally:
        await other.dispose()
