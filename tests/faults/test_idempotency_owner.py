"""Who may take over an in-progress Idempotency-Key placeholder, on a real SQLite store: a
retry takes over one whose process is gone or that outlived the publish timeout, never one
a live process on another host may still be running; a process that lost its placeholder
to a retry does not delete the new owner's."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import create_schema, make_engine
from hub.gateway.publish import THIS_PROCESS, IdempotencyStore, idempotency


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    await create_schema(made)
    yield made
    await made.dispose()


async def placeholder(engine: AsyncEngine, owner: dict[str, object], age_s: float) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            idempotency.insert().values(
                principal="k1",
                idempotency_key="retry-me",
                topic="t",
                request_hash="h",
                response=orjson.dumps(owner),
                created_ms=int((time.time() - age_s) * 1000),
            )
        )


async def owner_token(engine: AsyncEngine) -> bytes | None:
    async with engine.connect() as conn:
        value = (await conn.execute(sa.select(idempotency.c.response))).scalar_one()
    return None if value is None else bytes(value)


def dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


async def test_a_placeholder_whose_process_died_is_taken_over_at_once(engine: AsyncEngine) -> None:
    await placeholder(engine, {"host": THIS_PROCESS.host, "pid": dead_pid(), "incarnation": "x"}, 1)
    store = IdempotencyStore(engine, publish_timeout_s=600)
    assert await store.begin("k1", "retry-me", "t", "h") is None
    assert await owner_token(engine) == THIS_PROCESS.token()


async def test_this_pid_in_an_earlier_incarnation_counts_as_gone(engine: AsyncEngine) -> None:
    # pid 1 in a restarted container: same host, same pid, another incarnation.
    await placeholder(
        engine, {"host": THIS_PROCESS.host, "pid": os.getpid(), "incarnation": "before"}, 1
    )
    assert await IdempotencyStore(engine).begin("k1", "retry-me", "t", "h") is None


async def test_another_hosts_placeholder_waits_for_the_publish_timeout(engine: AsyncEngine) -> None:
    elsewhere = {"host": "another-host", "pid": 1, "incarnation": "y"}
    await placeholder(engine, elsewhere, 1)
    store = IdempotencyStore(engine, publish_timeout_s=10)
    with pytest.raises(web.HTTPException) as running:
        await store.begin("k1", "retry-me", "t", "h")
    assert running.value.status == 409
    assert 0 < int(running.value.headers["Retry-After"]) <= 25
    # Our own failure clean-up must not drop a placeholder we do not own.
    await store.forget("k1", "retry-me")
    assert await owner_token(engine) == orjson.dumps(elsewhere)


async def test_a_placeholder_older_than_the_publish_timeout_is_taken_over(
    engine: AsyncEngine,
) -> None:
    await placeholder(engine, {"host": "another-host", "pid": 1, "incarnation": "y"}, 30)
    store = IdempotencyStore(engine, publish_timeout_s=10)
    assert await store.begin("k1", "retry-me", "t", "h") is None
    await store.finish("k1", "retry-me", 200, b"{}")
    assert await store.begin("k1", "retry-me", "t", "h") == (200, b"{}")
