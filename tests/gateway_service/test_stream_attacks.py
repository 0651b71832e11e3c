"""Attacks on ``GET /v1/topics/{topic}/stream``: a stream that outlives its key's revocation or
its grant's expiry, parameters that cost a 500 or a silently dead stream, and subscribers that
never read, against a real gateway on loopback and the real broker."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from hub.access import Grant, KeyStore
from hub.gateway.streams import StreamLimits
from hub.kafka import Cluster
from hub.metrics import REGISTRY
from tests.cli import tsunagu
from tests.gateway_service.harness import (
    ServedGateway,
    position,
    publish_ok,
    served_gateway,
    sse_frames,
)

# Small enough that a few thousand records overflow a subscriber that does not read.
LIMITS = StreamLimits(
    max_buffer_bytes=32 * 1024, send_buffer_bytes=16 * 1024, heartbeat_s=3600.0, recheck_s=0.5
)


class Env(ServedGateway):
    @property
    def public(self) -> str:
        """Readable by anyone, 3 partitions."""
        return self.topics["public"]

    @property
    def private(self) -> str:
        """Readable only with a grant."""
        return self.topics["private"]

    @property
    def store_url(self) -> str:
        """The runtime store, for a CLI in another process."""
        return f"sqlite:///{self.env.tmp / 'runtime.db'}"


@pytest.fixture
async def env(tmp_path: Path, cluster: Cluster, unique: str) -> AsyncIterator[Env]:
    topics: dict[str, dict[str, object]] = {
        "public": {"partitions": 3},
        "private": {"access": "granted"},
    }
    async with served_gateway(
        Env, tmp_path, cluster, topics, unique, stream_limits=LIMITS
    ) as served:
        yield served


def metric(name: str, topic: str) -> float:
    return REGISTRY.get_sample_value(name, {"topic": topic}) or 0.0


def metric_ended(topic: str, reason: str) -> float:
    labels = {"topic": topic, "reason": reason}
    return REGISTRY.get_sample_value("tsunagu_gateway_streams_ended_total", labels) or 0.0


async def eventually(check: Callable[[], bool], what: str, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        await asyncio.sleep(0.1)


# --- SSE and WebSocket readers that report every event and how the stream ended -----------


@dataclass
class Seen:
    records: list[dict[str, Any]]
    ended: dict[str, Any] | None = None  # the closing event/message
    close_code: int | None = None

    def ids(self) -> set[str]:
        return {r["record"]["id"] for r in self.records}


async def read_sse(session: aiohttp.ClientSession, url: str, key: str, seen: Seen) -> None:
    async with session.get(url, headers={"X-API-Key": key}) as response:
        assert response.status == 200, await response.text()
        async for event in sse_frames(response):
            if event.get("event") == "record":
                seen.records.append(orjson.loads(event["data"]))
            elif event.get("event"):
                seen.ended = {"event": event["event"], **orjson.loads(event["data"])}


async def read_ws(session: aiohttp.ClientSession, url: str, key: str, seen: Seen) -> None:
    async with session.ws_connect(url, headers={"X-API-Key": key}) as ws:
        async for message in ws:
            data = orjson.loads(message.data)
            if data["type"] == "record":
                seen.records.append(data)
            else:
                seen.ended = data
        seen.close_code = ws.close_code


async def wait_subscribed(env: Env, topic: str, count: int) -> None:
    await eventually(
        lambda: metric("tsunagu_gateway_subscribers", topic) >= count, f"{count} subscribers"
    )


async def subscribe_both(
    env: Env, session: aiohttp.ClientSession, url: str, key: str, sse: Seen, ws: Seen
) -> list[asyncio.Task[None]]:
    """An SSE and a WebSocket reader of the private topic's `url`, once both are subscribed."""
    tasks = [
        asyncio.create_task(read_sse(session, url, key, sse)),
        asyncio.create_task(read_ws(session, url, key, ws)),
    ]
    await wait_subscribed(env, env.private, 2)
    return tasks


async def closed_streams(env: Env, outcome: str) -> list[str]:
    """The details of the audit entries of streams that were closed with `outcome`."""
    await env.access.flush()
    return [
        e.detail
        for e in await env.access.audit.tail(50)
        if e.action == "subscribe"
        and e.outcome == outcome
        and e.detail is not None
        and e.detail.startswith("stream closed")
    ]


# --- 3: revocation and expiry ------------------------------------------------------------


async def test_a_key_revoked_in_another_process_closes_its_open_streams(env: Env) -> None:
    reader = await env.keys.create("reader", grants=(Grant(env.private, "read"),))
    url = f"{env.base}/v1/topics/{env.private}/stream"
    sse, ws = Seen([]), Seen([])
    async with aiohttp.ClientSession() as session:
        tasks = await subscribe_both(env, session, url, reader.plaintext, sse, ws)
        await publish_ok(session, env, env.private, [position(1)])
        await eventually(lambda: len(sse.records) == len(ws.records) == 1, "the first record")
        # `tsunagu keys revoke` in its own process, against the same store.
        revoke = await asyncio.to_thread(
            tsunagu, "keys", "revoke", reader.info.key_id, "--store", env.store_url
        )
        assert revoke.returncode == 0, revoke.stderr
        await publish_ok(session, env, env.private, [position(2)])
        await asyncio.wait_for(asyncio.gather(*tasks), 45)
        # Both streams ended on their own, saying why; nothing after it reached the client.
        await publish_ok(session, env, env.private, [position(3)])
        async with session.get(url, headers={"X-API-Key": reader.plaintext}) as again:
            assert again.status == 401
    assert sse.ended is not None
    assert sse.ended["event"] == "closed"
    assert sse.ended["reason"] == "revoked-key"
    assert ws.ended is not None
    assert ws.ended["type"] == "closed"
    assert ws.ended["reason"] == "revoked-key"
    assert ws.close_code == 4001
    for seen in (sse, ws):
        assert "urn:ngsi-ld:Vehicle:town:bus-3" not in seen.ids()
    assert metric_ended(env.private, "revoked-key") == 2
    closed = await closed_streams(env, "401")
    assert len(closed) == 2
    assert all("revoked-key" in d for d in closed)


async def test_a_revoked_key_is_cut_from_a_public_topic_too(env: Env) -> None:
    reader = await env.keys.create("reader")
    url = f"{env.base}/v1/topics/{env.public}/stream"
    sse = Seen([])
    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(read_sse(session, url, reader.plaintext, sse))
        await wait_subscribed(env, env.public, 1)
        await KeyStore(env.env.store.engine).revoke(reader.info.key_id)
        await asyncio.wait_for(task, 45)
    assert sse.ended is not None
    assert sse.ended["reason"] == "revoked-key"


async def test_a_stream_stops_when_its_grant_expires(env: Env) -> None:
    expires = time.time_ns() // 1_000_000 + 4000
    reader = await env.keys.create("reader", grants=(Grant(env.private, "read", expires),))
    url = f"{env.base}/v1/topics/{env.private}/stream"
    sse, ws = Seen([]), Seen([])
    async with aiohttp.ClientSession() as session:
        tasks = await subscribe_both(env, session, url, reader.plaintext, sse, ws)
        await publish_ok(session, env, env.private, [position(1)])
        # Keep publishing until well after the expiry: nothing published after it arrives.
        n = 100
        while time.time_ns() // 1_000_000 < expires + 3000 and not all(t.done() for t in tasks):
            await publish_ok(session, env, env.private, [position(n)])
            n += 1
            await asyncio.sleep(0.2)
        await asyncio.wait_for(asyncio.gather(*tasks), 45)
    for seen in (sse, ws):
        assert seen.ended is not None
        assert seen.ended["reason"] == "grant-expired"
        assert all(r["timestamp"] <= expires for r in seen.records), "delivered after expiry"
    assert ws.close_code == 4003
    closed = await closed_streams(env, "403")
    assert len(closed) == 2
    assert all("grant-expired" in d for d in closed)


# --- 7: parameters -----------------------------------------------------------------------

BAD = [
    ("start=99999999999999999999999", "start"),
    ("start=-5", "start"),
    ("start=soon", "start"),
    ("bbox=nan,0,1,1", "bbox"),
    ("bbox=0,0,inf,1", "bbox"),
    ("bbox=-200,0,1,1", "bbox"),
    ("bbox=0,-91,1,1", "bbox"),
    ("bbox=0,0,1", "bbox"),
    ("bbox=0,0,1,1,2", "bbox"),
    ("ids=" + ",".join("x" * 1500), "ids"),  # under aiohttp's 8 KiB request line
    ("ids=" + "x" * 5000, "ids"),
    ("where=a:b&" * 100 + "where=a:b", "where"),
    ("where=a:" + "v" * 5000, "where"),
    ("resume=0-1.0-2", "resume"),
    ("resume=zz", "resume"),
    ("resume=7-0", "resume"),  # the topic has partitions 0-2
    ("resume=0-9000", "resume"),  # beyond the end of partition 0
]


async def test_every_bad_stream_parameter_is_a_400_naming_it(env: Env) -> None:
    async with aiohttp.ClientSession() as session:
        await publish_ok(session, env, env.public, [position(i) for i in range(30)])
        base = f"{env.base}/v1/topics/{env.public}/stream"
        for query, name in BAD:
            async with session.get(f"{base}?{query}") as response:
                body = await response.read()
                assert response.status == 400, (query[:80], response.status, body[:200])
                assert response.content_type == "application/problem+json", query[:80]
                problem = orjson.loads(body)
                assert problem["parameter"] == name, (query[:80], problem)
        # The header form of a resume token is named as the header.
        async with session.get(base, headers={"Last-Event-ID": "0-9000"}) as response:
            assert response.status == 400
            assert (await response.json(content_type=None))["parameter"] == "Last-Event-ID"


async def test_a_resume_token_past_the_end_explains_which_partition(env: Env) -> None:
    async with aiohttp.ClientSession() as session:
        await publish_ok(session, env, env.public, [position(i) for i in range(30)])
        url = f"{env.base}/v1/topics/{env.public}/stream?resume=0-0.1-0.2-900000"
        async with session.get(url) as response:
            assert response.status == 400
            detail = (await response.json(content_type=None))["detail"]
    assert "partition 2" in detail
    assert "900000" in detail


# --- 9: slow subscribers -----------------------------------------------------------------


async def raw_connect(env: Env) -> socket.socket:
    """A client socket that takes almost nothing from the network until read."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.setblocking(False)
    host, port = env.base.removeprefix("http://").split(":")
    await loop.sock_connect(sock, (host, int(port)))
    return sock


async def read_all(sock: socket.socket) -> bytes:
    loop = asyncio.get_running_loop()
    chunks: list[bytes] = []
    while True:
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 1 << 16), 30)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


async def flood(env: Env, until: Callable[[], bool]) -> None:
    """Publish batches of records until `until` holds (or plainly too many were sent)."""
    async with aiohttp.ClientSession() as session:
        for batch in range(40):
            if until():
                return
            await publish_ok(
                session, env, env.public, [position(batch * 500 + i) for i in range(500)]
            )
            await asyncio.sleep(0.5)
        await eventually(until, "the overflow")


async def test_an_sse_subscriber_that_never_reads_is_cut_with_a_reason(env: Env) -> None:
    before = metric("tsunagu_gateway_overflows_total", env.public)
    sock = await raw_connect(env)
    loop = asyncio.get_running_loop()
    request = f"GET /v1/topics/{env.public}/stream HTTP/1.1\r\nHost: x\r\n\r\n"
    await loop.sock_sendall(sock, request.encode())
    await wait_subscribed(env, env.public, 1)
    await flood(env, lambda: metric("tsunagu_gateway_overflows_total", env.public) > before)
    await eventually(lambda: metric("tsunagu_gateway_subscribers", env.public) == 0, "gauge 0")
    received = await read_all(sock)  # the client reads at last: the reason is there
    sock.close()
    assert b"event: overflow\n" in received
    assert received.rstrip().endswith(b"0")  # the chunked body was ended, not cut


def ws_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of each unmasked server frame."""
    frames, i = [], 0
    while i + 2 <= len(data):
        opcode, length = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if length == 126:
            length, i = int.from_bytes(data[i : i + 2]), i + 2
        elif length == 127:
            length, i = int.from_bytes(data[i : i + 8]), i + 8
        frames.append((opcode, data[i : i + length]))
        i += length
    return frames


async def test_a_websocket_subscriber_that_never_reads_is_closed_4008(env: Env) -> None:
    before = metric("tsunagu_gateway_overflows_total", env.public)
    sock = await raw_connect(env)
    loop = asyncio.get_running_loop()
    request = (
        f"GET /v1/topics/{env.public}/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    await wait_subscribed(env, env.public, 1)
    await flood(env, lambda: metric("tsunagu_gateway_overflows_total", env.public) > before)
    await eventually(lambda: metric("tsunagu_gateway_subscribers", env.public) == 0, "gauge 0")
    received = await read_all(sock)
    sock.close()
    _, _, body = received.partition(b"\r\n\r\n")
    frames = ws_frames(body)
    texts = [orjson.loads(p) for op, p in frames if op == 1]
    assert texts[-1]["type"] == "overflow"
    assert frames[-1][0] == 8  # close
    assert int.from_bytes(frames[-1][1][:2]) == 4008


async def test_the_subscriber_gauge_follows_an_sse_client_that_leaves(env: Env) -> None:
    # Heartbeats are an hour apart here and nothing is published: only noticing the closed
    # connection itself brings the gauge down (a WebSocket's reader always noticed).
    sock = await raw_connect(env)
    request = f"GET /v1/topics/{env.public}/stream HTTP/1.1\r\nHost: x\r\n\r\n"
    await asyncio.get_running_loop().sock_sendall(sock, request.encode())
    await wait_subscribed(env, env.public, 1)
    sock.close()
    await eventually(
        lambda: metric("tsunagu_gateway_subscribers", env.public) == 0,
        "the gauge to follow the disconnect",
    )
