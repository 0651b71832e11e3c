"""The latest state's memory budget, measured: a topic whose state would pass its budget (or
the gateway's total) is refused with a problem and frees what it held, and the bytes the
state accounts stay under the budget and bound what it really allocates."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from hub.gateway.fanout import Filter
from hub.gateway.latest import LatestBudget, LatestState
from hub.kafka import Cluster, Incoming, TopicSpec, get_backend
from tests.gateway_service.harness import (
    ServedGateway,
    position,
    produce_raw,
    publish_ok,
    served_gateway,
)

KIB = 1024


class BudgetEnv(ServedGateway):
    """Three public topics of 2 partitions, `big`, `small1` and `small2`, under budgets of
    64 KiB per topic and in total."""


BUDGETS = "  gateway:\n    latest: {max_bytes_per_topic: 64KiB, max_bytes_total: 64KiB}"


@pytest.fixture
async def bx(tmp_path: Path, cluster: Cluster, unique: str) -> AsyncIterator[BudgetEnv]:
    topics = {name: {"partitions": 2} for name in ("big", "small1", "small2")}
    async with served_gateway(BudgetEnv, tmp_path, cluster, topics, unique, hub=BUDGETS) as bx:
        yield bx


async def publish(session: aiohttp.ClientSession, bx: BudgetEnv, topic: str, count: int) -> None:
    for first in range(0, count, 1000):
        records = [position(i) for i in range(first, min(count, first + 1000))]
        await publish_ok(session, bx, topic, records)


async def latest(session: aiohttp.ClientSession, bx: BudgetEnv, topic: str) -> tuple[int, Any]:
    async with session.get(f"{bx.base}/v1/topics/{topic}/latest?limit=1") as response:
        return response.status, await response.json(content_type=None)


async def test_a_topic_over_its_budget_or_the_total_is_refused_and_freed(bx: BudgetEnv) -> None:
    big, small1, small2 = bx.topics["big"], bx.topics["small1"], bx.topics["small2"]
    async with aiohttp.ClientSession() as session:
        await publish(session, bx, big, 3000)  # about 1 MB of state: far over 64 KiB
        await publish(session, bx, small1, 100)  # about 40 KB each: one fits the total,
        await publish(session, bx, small2, 100)  # two do not

        status, body = await latest(session, bx, big)
        assert status == 507, body
        assert body["title"] == "Latest state over budget"
        assert body["topic"] == big
        assert body["budget_bytes"] == 64 * KIB
        assert body["setting"] == "hub.gateway.latest.max_bytes_per_topic"
        assert "raise hub.gateway.latest.max_bytes_per_topic" in body["detail"]
        state = await bx.gateway._latest_state(big)
        assert 0 < state.peak <= 64 * KIB  # the accounted bytes never passed the budget
        assert state.held == 0  # and what it held is freed
        assert bx.gateway.latest_budget.used == 0

        status, body = await latest(session, bx, small1)
        assert status == 200, body
        assert body["count"] == 1
        status, body = await latest(session, bx, small2)
        assert status == 507, body
        assert body["setting"] == "hub.gateway.latest.max_bytes_total"
        assert bx.gateway.latest_budget.used <= 64 * KIB
        status, body = await latest(session, bx, small1)  # the first one goes on answering
        assert status == 200, body


def test_the_accounted_size_bounds_what_the_state_allocates() -> None:
    """ENTRY_OVERHEAD is an upper bound: what storing entries allocates (tracemalloc) stays
    under what the state accounts for them, and not far under."""

    async def run() -> tuple[int, int]:
        async def decode(value: bytes) -> dict[str, Any]:
            return {}

        state = LatestState("t", lambda: None, decode, LatestBudget(1 << 30, 1 << 30))  # type: ignore[arg-type,return-value]
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            # Realistic shapes: ids as keys, values of a hundred bytes, large offsets; each
            # message dropped once stored, as the reader's batches are.
            for i in range(5000):
                message = Incoming(
                    "t",
                    i % 3,
                    10_000_000 + i,
                    f"urn:ngsi-ld:Vehicle:town:bus-{i}".encode(),
                    b"v" * 100 + str(i).encode(),
                    [],
                    1_700_000_000_000 + i,
                )
                await state._store(f"urn:ngsi-ld:Vehicle:town:bus-{i}", message)
            del message
            allocated = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        return allocated, state.held

    allocated, accounted = asyncio.run(run())
    assert allocated <= accounted
    assert allocated >= accounted // 2


async def test_building_a_state_over_budget_allocates_about_the_budget(
    cluster: Cluster, unique: str
) -> None:
    topic = f"latest.budget-{unique}.x.v1"
    backend = get_backend()
    admin = backend.admin(cluster)
    await admin.create_topics([TopicSpec(topic, partitions=2)])
    await admin.close()

    # About 8 MB of state unbounded.
    values = [(b"key-%d" % i, orjson.dumps({"n": i, "pad": "x" * 300})) for i in range(20_000)]
    await asyncio.to_thread(produce_raw, cluster.bootstrap_servers, topic, values)

    async def decode(value: bytes) -> dict[str, Any]:
        decoded: dict[str, Any] = orjson.loads(value)
        return decoded

    budget = LatestBudget(256 * KIB, 1024 * KIB)
    state = LatestState(topic, lambda: backend.reader(cluster, topic), decode, budget)
    tracemalloc.start()
    try:
        assert not await state.wait_ready(60)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        await state.close()
    assert state.over_budget is not None
    assert state.peak <= 256 * KIB
    # The budget, a batch of records in flight and the reader's own: well under what the
    # whole topic would take (about 8 MB).
    assert peak < 3 * 1024 * KIB, peak
    assert await state.select(Filter(), 10) == []
