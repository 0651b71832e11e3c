"""`AccessControl.recheck`, what a long-lived stream asks every second: changes made through
another store connection (another process) are seen, and many streams of one key cost one
query, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.access import AccessControl, Grant, KeyStore
from hub.access.keys import KeyInfo
from hub.access.policy import lapses_at

TOPIC = "kaga.mobility.vehicle-positions.v1"
PUBLIC = "kaga.transit.stops.v1"


def count_key_reads(engine: AsyncEngine) -> list[str]:
    """Every reading of a presented key (its stored digest) the engine runs from now on."""
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if re.match(r"SELECT \S*secret_hash\s+FROM", statement.strip()):
            reads.append(statement)

    sa.event.listen(engine.sync_engine, "before_cursor_execute", seen)
    return reads


async def test_two_hundred_streams_of_one_key_cost_one_query(engine: AsyncEngine) -> None:
    access = AccessControl(engine, recheck_ttl_s=60.0)
    issued = await KeyStore(engine).create("reader", grants=(Grant(TOPIC, "read"),))
    reads = count_key_reads(engine)
    answers = await asyncio.gather(
        *(access.recheck(issued.plaintext, TOPIC, "read") for _ in range(200))
    )
    assert all(decision.allowed for decision, _ in answers)
    assert len(reads) == 1
    await access.recheck(issued.plaintext, TOPIC, "read")
    assert len(reads) == 1  # still fresh: answered from the cache


async def test_a_revocation_through_another_store_is_seen(engine: AsyncEngine) -> None:
    access = AccessControl(engine, recheck_ttl_s=0.0)
    # Another KeyStore on the same tables: what `tsunagu keys revoke` in another process does.
    elsewhere = KeyStore(engine)
    issued = await elsewhere.create("reader", grants=(Grant(TOPIC, "read"),))
    decision, until = await access.recheck(issued.plaintext, TOPIC, "read")
    assert decision.allowed
    assert until is None
    await elsewhere.revoke(issued.info.key_id)
    decision, _ = await access.recheck(issued.plaintext, TOPIC, "read")
    assert (decision.status, decision.reason) == (401, "revoked-key")
    # Revoked keys are cut on public topics too.
    decision, _ = await access.recheck(issued.plaintext, PUBLIC, "read")
    assert decision.reason == "revoked-key"


async def test_a_refusal_from_the_cache_is_confirmed_in_the_store(engine: AsyncEngine) -> None:
    now = [1_000_000]
    access = AccessControl(engine, recheck_ttl_s=3600.0, clock=lambda: now[0])
    elsewhere = KeyStore(engine)
    issued = await elsewhere.create("reader", grants=(Grant(TOPIC, "read", 1_005_000),))
    decision, until = await access.recheck(issued.plaintext, TOPIC, "read")
    assert decision.allowed
    assert until == 1_005_000
    # Renewed elsewhere before it ran out: the cached copy is stale, the stream goes on.
    await elsewhere.grant(issued.info.key_id, Grant(TOPIC, "read", 1_010_000))
    now[0] = 1_006_000
    decision, until = await access.recheck(issued.plaintext, TOPIC, "read")
    assert decision.allowed
    assert until == 1_010_000
    now[0] = 1_010_000
    decision, _ = await access.recheck(issued.plaintext, TOPIC, "read")
    assert (decision.status, decision.reason) == (403, "grant-expired")


@pytest.mark.parametrize(
    ("grants", "topic", "expected"),
    [
        ((Grant(TOPIC, "read", 5000),), TOPIC, 5000),
        ((Grant(TOPIC, "read", 5000), Grant("kaga.*", "read", 9000)), TOPIC, 9000),
        ((Grant(TOPIC, "read", 5000), Grant("kaga.*", "read")), TOPIC, None),
        ((Grant(TOPIC, "read", 500), Grant("kaga.*", "read", 9000)), TOPIC, 9000),
        ((Grant(PUBLIC, "read", 5000),), PUBLIC, None),  # still public after it
        ((Grant(TOPIC, "publish", 5000),), TOPIC, None),
    ],
)
def test_lapses_at(grants: tuple[Grant, ...], topic: str, expected: int | None) -> None:
    key = KeyInfo("tk_0000000000000000", "k", 0, None, None, grants)
    assert lapses_at(key, topic, "read", [PUBLIC], now_ms=1000) == expected
