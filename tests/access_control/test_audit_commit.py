"""When audit entries reach the store: an accepted publish before its answer, in a commit it
shares with the other requests of its burst; reads and streams within audit_delay_s."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub import metrics
from hub.access import AccessControl
from hub.access.audit import AuditSeal, Checkpoint


async def test_accepted_publishes_are_committed_before_record_returns(
    sqlite_engine: AsyncEngine,
) -> None:
    # A delay far longer than the test: only the durable path can have written the entries.
    access = AccessControl(
        sqlite_engine, audit_delay_s=3600, audit_seal=AuditSeal(b"k" * 32, None, "test")
    )
    commits: list[Checkpoint] = []
    access.audit.checkpoint_listeners.append(commits.append)
    await asyncio.gather(
        *(access.record(None, "tk_1", "publish", "t.v1", amount=i) for i in range(40))
    )
    entries = [e async for e in access.audit.entries()]
    assert sorted(e.amount or 0 for e in entries) == list(range(40))
    # Group commit: the burst shared commits instead of taking one each.
    assert len(commits) < 40

    # Reads and refused publishes stay batched: written on the next flush, not at once.
    await access.record(None, "tk_1", "read", "t.v1", amount=3)
    await access.record(None, "tk_1", "publish", "t.v1", outcome="422", detail="invalid")
    assert len([e async for e in access.audit.entries()]) == 40
    await access.close()
    tail = await access.audit.tail(2)
    assert [(e.action, e.outcome) for e in tail] == [("read", "ok"), ("publish", "422")]
    assert (await access.audit.verify()).ok


async def test_a_failed_audit_write_fails_the_publish(sqlite_engine: AsyncEngine) -> None:
    access = AccessControl(sqlite_engine, audit_delay_s=3600)
    async with sqlite_engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE access_audit")
    failures = metrics.REGISTRY.get_sample_value("tsunagu_audit_write_failures_total") or 0
    # No answer may claim an acknowledged publish whose audit row could not be written.
    with pytest.raises(OperationalError, match="access_audit"):
        await access.record(None, "tk_1", "publish", "t.v1", amount=1)
    assert metrics.REGISTRY.get_sample_value("tsunagu_audit_write_failures_total") == failures + 1
