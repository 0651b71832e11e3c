"""Audit checkpoints published to Kafka (the real embedded broker): they show the newest
entries deleted from the store even when no local checkpoint file survives (a new pod, a new
machine), and a checkpoint not signed with the audit key counts for nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.access import AuditLog
from hub.access.audit import AuditSeal, Checkpoint, audit_seal
from hub.access.checkpoints import publish_checkpoints, read_checkpoints
from hub.access.cli import audit
from hub.access.tables import audit_log
from hub.broker import EmbeddedBroker
from hub.db import create_schema, make_engine
from hub.kafka import Cluster, Outgoing, get_backend
from tests.access_control.entries import append_publishes


async def fill(log: AuditLog, n: int) -> None:
    await append_publishes(log, n, first=1)


async def keep_only(engine: AsyncEngine, last_seq: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(audit_log.delete().where(audit_log.c.seq > last_seq))


async def checkpoints_on(cluster: Cluster, topic: str) -> list[Checkpoint]:
    reader = get_backend().reader(cluster, topic)
    try:
        return await read_checkpoints(reader)
    finally:
        await reader.close()


async def test_kafka_checkpoints_show_deleted_newest_entries(
    sqlite_engine: AsyncEngine, cluster: Cluster, unique: str
) -> None:
    topic = f"_tsunagu.audit-checkpoints.{unique}"
    backend = get_backend()
    admin = backend.admin(cluster)
    # As on a replica sharing a PostgreSQL store: the key, no local checkpoint file.
    log = AuditLog(sqlite_engine, seal=AuditSeal(b"k" * 32, None, "test"))
    sink = await publish_checkpoints(log, backend, cluster, admin, topic=topic)
    assert sink is not None
    try:
        await fill(log, 6)
    finally:
        await sink.close()
        await admin.close()
    points = await checkpoints_on(cluster, topic)
    assert max(p.seq for p in points) == 6

    intact = await log.verify(points)
    assert (intact.ok, intact.checkpoint_seq, intact.checked) == (True, 6, 6)
    await keep_only(sqlite_engine, 4)
    assert (await log.verify()).ok  # the key alone cannot see a cut
    cut = await log.verify(points)
    assert (cut.ok, cut.bad_seq) == (False, 5)
    assert "entries 5-6 are missing" in (cut.problem or "")


async def test_a_checkpoint_without_the_key_is_ignored(
    sqlite_engine: AsyncEngine, cluster: Cluster, unique: str
) -> None:
    topic = f"_tsunagu.audit-checkpoints.{unique}"
    log = AuditLog(sqlite_engine, seal=AuditSeal(b"k" * 32, None, "test"))
    await fill(log, 3)
    # Someone who can write the topic but has not the key claims the log reached entry 99.
    forged = Checkpoint(99, "0" * 64, 1, 0).signed(b"not the key at all")
    producer = get_backend().producer(cluster)
    await producer.start()
    try:
        await producer.send_batch(topic, [Outgoing(b"x", forged.to_json())])
    finally:
        await producer.stop()
    result = await log.verify(await checkpoints_on(cluster, topic))
    assert (result.ok, result.ignored, result.checkpoint_seq) == (True, 1, None)


def _deployment(tmp_path: Path, bootstrap: str) -> Path:
    config = tmp_path / "topics.yaml"
    config.write_text(
        f"""version: 1
hub:
  store: {{url: "sqlite:///{tmp_path / "hub.db"}"}}
kafka: {{bootstrap_servers: "{bootstrap}"}}
areas:
  upcity: {{title: Up City}}
topics: {{}}
"""
    )
    return config


@pytest.mark.timeout(180)
def test_audit_verify_reads_the_checkpoint_topic(tmp_path: Path, broker: EmbeddedBroker) -> None:
    config = _deployment(tmp_path, broker.bootstrap_servers)
    store = f"sqlite:///{tmp_path / 'hub.db'}"
    cluster = Cluster(broker.bootstrap_servers)

    async def write() -> None:
        engine = make_engine(store)
        backend = get_backend()
        admin = backend.admin(cluster)
        try:
            await create_schema(engine)
            log = AuditLog(engine, seal=audit_seal(store, create=True))
            sink = await publish_checkpoints(log, backend, cluster, admin)
            assert sink is not None
            await fill(log, 6)
            await sink.close()
            await keep_only(engine, 4)
        finally:
            await admin.close()
            await engine.dispose()

    asyncio.run(write())
    # The machine's checkpoint file is gone too (a new pod): only Kafka remembers entry 6.
    (tmp_path / "hub.db.audit-checkpoint").unlink()
    result = CliRunner().invoke(audit, ["verify", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert "audit log broken at entry 5:" in result.output
    skipped = CliRunner().invoke(audit, ["verify", "--config", str(config), "--no-kafka"])
    assert skipped.exit_code == 0, skipped.output
    assert "no audit checkpoint" in skipped.output
