"""Audit entries as the hub writes them, for the tests that read, verify or tamper with the
chain: one home for their shape instead of a loop in each test module."""

from __future__ import annotations

import asyncio

from hub.access import AuditLog
from hub.access.audit import audit_seal
from hub.db import create_schema, make_engine

KEY_ID = "tk_0123456789abcdef"


async def append_publishes(
    log: AuditLog,
    n: int,
    *,
    first: int = 0,
    size_bytes: int | None = None,
    client: str | None = None,
) -> None:
    """`n` entries of KEY_ID publishing to kaga.bus.v1, of amounts `first`, `first` + 1, ..."""
    for i in range(n):
        await log.append(
            key_id=KEY_ID,
            action="publish",
            topic="kaga.bus.v1",
            outcome="ok",
            amount=first + i,
            size_bytes=size_bytes,
            client=client,
        )


def fill_store(store_url: str, n: int, *, first: int = 0, sealed: bool = False) -> None:
    """The store at `store_url`, tables created, with `n` publish entries; `sealed`: keyed
    with the key the hub makes beside the store and checkpointed there, as the hub writes."""

    async def run() -> None:
        engine = make_engine(store_url)
        try:
            await create_schema(engine)
            seal = audit_seal(store_url, create=True) if sealed else None
            await append_publishes(AuditLog(engine, seal=seal), n, first=first)
        finally:
            await engine.dispose()

    asyncio.run(run())
