"""The audit log against someone who can write the store but holds neither the audit key nor
the checkpoint file: each attack makes ``tsunagu audit verify`` exit 1 naming the first bad
entry, on a real SQLite store."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.access import AuditLog
from hub.access.audit import GENESIS_HASH, AuditEntry, AuditSeal, entry_hash
from hub.access.cli import audit
from hub.access.tables import audit_log
from hub.db import make_engine
from tests.access_control.entries import fill_store


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runtime.db'}"


def verify(store_url: str) -> Result:
    return CliRunner().invoke(audit, ["verify", "--store", store_url])


def fill(store_url: str, n: int) -> None:
    """`n` entries written as the hub writes them: keyed with the key it makes beside the
    store, checkpointed beside the store."""
    fill_store(store_url, n, first=1, sealed=True)


def rows(store_url: str) -> list[AuditEntry]:
    async def run() -> list[AuditEntry]:
        engine = make_engine(store_url)
        try:
            async with engine.connect() as conn:
                result = await conn.execute(sa.select(audit_log).order_by(audit_log.c.seq))
                return [AuditEntry(**row._asdict()) for row in result]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def execute(store_url: str, *statements: sa.Executable) -> None:
    async def run() -> None:
        engine = make_engine(store_url)
        try:
            async with engine.begin() as conn:
                for statement in statements:
                    await conn.execute(statement)
        finally:
            await engine.dispose()

    asyncio.run(run())


def rechain(entries: list[AuditEntry], prev_hash: str) -> list[dict[str, object]]:
    """What a store writer without the key can do: recompute every hash from `prev_hash` on
    with the published algorithm, so each link looks right."""
    out = []
    for entry in entries:
        fields = {**entry.canonical(), "prev_hash": prev_hash}
        prev_hash = entry_hash(fields)
        out.append({**fields, "hash": prev_hash})
    return out


def assert_broken_at(result: Result, seq: int) -> None:
    assert result.exit_code == 1, result.output
    assert f"audit log broken at entry {seq}:" in result.output


def test_an_intact_log_verifies(store_url: str) -> None:
    fill(store_url, 6)
    result = verify(store_url)
    assert result.exit_code == 0, result.output
    assert "audit log intact: 6 entries" in result.output


def test_deleting_every_entry_is_detected(store_url: str) -> None:
    fill(store_url, 6)
    execute(store_url, audit_log.delete())
    assert_broken_at(verify(store_url), 1)


def test_deleting_the_newest_entries_is_detected(store_url: str) -> None:
    fill(store_url, 6)
    execute(store_url, audit_log.delete().where(audit_log.c.seq >= 5))
    assert_broken_at(verify(store_url), 5)


def test_editing_an_entry_and_rehashing_the_chain_after_it_is_detected(store_url: str) -> None:
    fill(store_url, 6)
    entries = rows(store_url)
    edited = dataclasses.replace(entries[2], amount=999)
    forged = rechain([edited, *entries[3:]], entries[1].hash)
    execute(
        store_url,
        audit_log.delete().where(audit_log.c.seq >= 3),
        audit_log.insert().values(forged),
    )
    assert_broken_at(verify(store_url), 3)


def test_appending_a_forged_entry_is_detected(store_url: str) -> None:
    fill(store_url, 6)
    head = rows(store_url)[-1]
    forged = {
        **head.canonical(),
        "seq": 7,
        "action": "publish",
        "outcome": "ok",
        "amount": 1,
        "detail": "never happened",
        "prev_hash": head.hash,
    }
    execute(store_url, audit_log.insert().values(**forged, hash=entry_hash(forged)))
    assert_broken_at(verify(store_url), 7)


async def test_a_log_from_before_the_key_stays_verifiable_and_anchored(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    # Migration: entries written unkeyed, then the hub starts with a key.
    await AuditLog(sqlite_engine).append(key_id="a", action="read", topic="t", outcome="ok")
    await AuditLog(sqlite_engine).append(key_id="b", action="read", topic="t", outcome="ok")
    seal = AuditSeal(b"k" * 32, tmp_path / "checkpoint", "test")
    keyed = AuditLog(sqlite_engine, seal=seal)
    await keyed.append(key_id="c", action="publish", topic="t", outcome="ok")
    result = await keyed.verify()
    assert (result.ok, result.unkeyed, result.checked, result.checkpoint_seq) == (True, 2, 3, 3)
    # Rewriting an old entry and rechaining everything after it without the key shows at
    # the first keyed entry, which the old chain cannot be made to lead to.
    entries = [e async for e in keyed.entries()]
    forged = rechain([dataclasses.replace(entries[0], key_id="z"), *entries[1:]], GENESIS_HASH)
    async with sqlite_engine.begin() as conn:
        await conn.execute(audit_log.delete())
        await conn.execute(audit_log.insert().values(forged))
    broken = await keyed.verify()
    assert (broken.ok, broken.bad_seq) == (False, 3)
