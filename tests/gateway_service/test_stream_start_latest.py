"""``start=latest`` on the embedded broker: a stream starts after what the log holds.

The embedded broker answers ListOffsets(LATEST) with one past the first offset of a
partition's last batch; a gateway that took the end from it replayed almost every record
already published to a subscriber that asked for only new ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from tests.gateway_service.conftest import GatewayEnv
from tests.gateway_service.harness import position, publish, sse_frames


async def _records_after_subscribing(
    response: aiohttp.ClientResponse, subscribed: asyncio.Event
) -> AsyncIterator[dict[str, Any]]:
    """Each record event's data; ``subscribed`` is set once the gateway says it subscribed."""
    async for event in sse_frames(response):
        if event.get("") == "subscribed":
            subscribed.set()
        if event.get("event") == "record":
            yield orjson.loads(event["data"])


async def test_start_latest_delivers_only_what_is_published_after_subscribing(
    gw: GatewayEnv,
) -> None:
    async with aiohttp.ClientSession() as session:
        old = [position(i) for i in range(650)]
        assert (await publish(session, gw, gw.positions, old)).status == 200
        url = f"{gw.base}/v1/topics/{gw.positions}/stream?start=latest"
        async with session.get(url) as response:
            assert response.status == 200, await response.text()
            subscribed = asyncio.Event()
            stream = _records_after_subscribing(response, subscribed)
            first = asyncio.ensure_future(anext(stream))
            await asyncio.wait_for(subscribed.wait(), 30)
            new = [position(10_000 + i) for i in range(3)]
            assert (await publish(session, gw, gw.positions, new)).status == 200
            got = [await asyncio.wait_for(first, 30)]
            while len(got) < 3:
                got.append(await asyncio.wait_for(anext(stream), 30))
    # Records of different partitions may arrive in any order; none of the old ones may.
    assert sorted(e["record"]["id"] for e in got) == sorted(r["id"] for r in new)
