"""Attacks on ``POST /v1/topics/{topic}/records``: large and lying bodies, forged provenance,
and records whose JSON does not have the schema's types. The real gateway over loopback HTTP,
the real embedded broker behind it; what landed is read back from Kafka."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import pytest

from hub import headers as h
from hub.gateway.publish import PublishLimits
from hub.metrics import REGISTRY
from tests.gateway_service.conftest import GatewayEnv


def refused(topic: str, status: int) -> float:
    """The refused-publish counter of ``topic`` and ``status``."""
    labels = {"topic": topic, "status": str(status)}
    return REGISTRY.get_sample_value("tsunagu_gateway_publish_refused_total", labels) or 0.0


PAD = "p" * 900  # a route id that makes one record about 1 KB of JSON


def record(i: int, prefix: str = "bus") -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Vehicle:town:{prefix}-{i}",
        "route_id": f"{PAD}-{i}",
        "latitude": 36.3,
        "longitude": 136.3,
        "observed_at": 1_700_000_000_000 + i,
    }


def ndjson(records: list[dict[str, Any]]) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in records) + b"\n"


async def chunks(body: bytes, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    """The body as a chunked upload (aiohttp sends an async iterable without a length)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]
        await asyncio.sleep(0)


async def post(
    gw: GatewayEnv, body: bytes, content_type: str, *, chunked: bool, topic: str | None = None
) -> tuple[int, str, dict[str, Any]]:
    """Status, content type and JSON answer of one publish."""
    url = f"{gw.base}/v1/topics/{topic or gw.positions}/records"
    headers = {"X-API-Key": gw.key, "Content-Type": content_type}
    async with aiohttp.ClientSession() as session:
        # A BytesIO is sent with its length (raw bytes this large make aiohttp warn).
        data: Any = chunks(body) if chunked else io.BytesIO(body)
        async with session.post(url, data=data, headers=headers) as response:
            if chunked:
                assert response.request_info.headers.get("Transfer-Encoding") == "chunked"
            else:
                assert response.request_info.headers["Content-Length"] == str(len(body))
            return response.status, response.content_type, orjson.loads(await response.read())


@pytest.mark.timeout(300)
async def test_five_megabytes_of_ndjson_are_read_whole_chunked_or_not(gw: GatewayEnv) -> None:
    """5,000 records of about 1 KB (5 MB, under the 8 MiB limit) once chunked and once with a
    Content-Length: every record is acknowledged and lands, not the first buffered 128."""
    sent: set[bytes] = set()
    for chunked in (True, False):
        records = [record(i, f"chunked{chunked}") for i in range(5_000)]
        body = ndjson(records)
        assert 5_000_000 < len(body) < PublishLimits().max_body_bytes
        status, _, answer = await post(gw, body, "application/x-ndjson", chunked=chunked)
        assert status == 200, answer
        assert answer["records"] == 5_000
        sent |= {r["id"].encode() for r in records}
    landed = await gw.env.read_raw(gw.positions, timeout=120)
    assert len(landed) == 10_000
    assert {m.key() for m in landed} == sent


@pytest.mark.timeout(300)
async def test_a_json_array_of_a_megabyte_is_read_whole(gw: GatewayEnv) -> None:
    records = [record(i) for i in range(1_000)]
    for chunked in (True, False):
        status, _, answer = await post(
            gw, orjson.dumps(records), "application/json", chunked=chunked
        )
        assert status == 200, answer
        assert answer["records"] == 1_000
    landed = await gw.env.read_raw(gw.positions, timeout=120)
    assert len(landed) == 2_000
    assert {m.key() for m in landed} == {r["id"].encode() for r in records}


@pytest.mark.timeout(300)
async def test_a_body_one_byte_over_the_limit_is_refused_chunked_or_not(gw: GatewayEnv) -> None:
    """Valid NDJSON of exactly limit + 1 bytes: 413 problem+json, whether its length was
    announced or not, and nothing is published (no prefix of it either)."""
    limit = PublishLimits().max_body_bytes
    lines = ndjson([record(i) for i in range(limit // len(ndjson([record(10_000)])) - 10)])
    body = lines + b"\n" * (limit + 1 - len(lines))  # blank lines are allowed between records
    assert len(body) == limit + 1
    for chunked in (True, False):
        status, content_type, answer = await post(gw, body, "application/x-ndjson", chunked=chunked)
        assert (status, content_type) == (413, "application/problem+json"), answer
        assert str(f"{limit:,}") in answer["detail"]
    assert refused(gw.positions, 413) == 2
    # Exactly the limit is accepted (the bound is inclusive).
    status, _, answer = await post(gw, body[:-1], "application/x-ndjson", chunked=True)
    assert status == 200, answer
    landed = await gw.env.read_raw(gw.positions, timeout=120)
    assert len(landed) == answer["records"]


async def test_a_body_shorter_than_its_content_length_is_never_acknowledged(
    gw: GatewayEnv,
) -> None:
    """A raw client announces 20 records and sends 10 complete ones, then stops, then goes
    away: the hub must not answer 2xx for the 10, nor publish them."""
    full = ndjson([record(i) for i in range(20)])
    half = ndjson([record(i) for i in range(10)])
    url = urlsplit(gw.base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    head = (
        f"POST /v1/topics/{gw.positions}/records HTTP/1.1\r\n"
        f"Host: {url.netloc}\r\nX-API-Key: {gw.key}\r\n"
        f"Content-Type: application/x-ndjson\r\nContent-Length: {len(full)}\r\n\r\n"
    )
    writer.write(head.encode() + half)
    await writer.drain()
    try:
        answer = await asyncio.wait_for(reader.read(4096), 5)
    except TimeoutError:
        answer = b""  # still waiting for the rest of the body, as it should
    assert not answer.startswith(b"HTTP/1.1 2"), answer
    writer.close()
    await writer.wait_closed()
    assert await gw.env.read_raw(gw.positions, timeout=10) == []
    # The hub noticed and audited the attempt as refused.
    for _ in range(100):
        await gw.access.flush()
        outcomes = [(e.action, e.outcome) for e in await gw.access.audit.tail(20)]
        if outcomes:
            break
        await asyncio.sleep(0.1)
    assert outcomes == [("publish", "400")]


async def test_the_envelope_is_the_hubs_and_forging_it_is_refused(gw: GatewayEnv) -> None:
    """area, source_feed and ingested_at are set by the hub. A record may leave them out (or
    null, or give the topic's own area); any other value is refused with its index and field,
    and nothing of the request is published."""
    forged = [
        {**record(0), "area": "elsewhere"},
        {**record(1), "source_feed": "city-official-feed"},
        {**record(2), "ingested_at": 1_000},
        {**record(3), "ingested_at": None, "source_feed": None, "area": None},
        {**record(4), "area": "town"},
    ]
    status, content_type, answer = await post(
        gw, orjson.dumps(forged), "application/json", chunked=False
    )
    assert (status, content_type) == (422, "application/problem+json")
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [
        (0, "area"),
        (1, "source_feed"),
        (2, "ingested_at"),
    ]
    assert refused(gw.positions, 422) == 1
    assert await gw.env.read_raw(gw.positions, timeout=5) == []

    status, _, answer = await post(gw, orjson.dumps(forged[3:]), "application/json", chunked=False)
    assert status == 200, answer
    stored = await gw.env.read(gw.positions)
    raw = await gw.env.read_raw(gw.positions)
    assert len(stored) == len(raw) == 2
    for value, message in zip(stored, raw, strict=True):
        assert value["area"] == "town"
        assert value["source_feed"].startswith("http:")
        assert value["ingested_at"] > 1_700_000_000_000
        assert value["observed_at"] < 1_700_000_000_010  # the publisher's own
        headers = dict(message.headers())
        assert headers[h.AREA] == b"town"
        assert headers[h.SOURCE_FEED] == value["source_feed"].encode()
        assert headers[h.INGESTED_AT] == str(value["ingested_at"]).encode()


async def test_unknown_fields_and_wrong_json_types_are_refused_not_coerced(
    gw: GatewayEnv,
) -> None:
    bad = [
        record(0),
        {**record(1), "speed": 12.5},  # unknown field
        {**record(2), "latitude": True},  # would be stored as 1.0
        {**record(3), "observed_at": 1.7e12 + 0.5},  # a long from a fraction
        {**record(4), "observed_at": False},
        {**record(5), "route_id": 7},  # a nullable string given a number
        record(6),
    ]
    status, content_type, answer = await post(
        gw, orjson.dumps(bad), "application/json", chunked=False
    )
    assert (status, content_type) == (422, "application/problem+json")
    found = {(e["index"], e["field"]): e["detail"] for e in answer["errors"]}
    assert set(found) == {
        (1, "speed"),
        (2, "latitude"),
        (3, "observed_at"),
        (4, "observed_at"),
        (5, "route_id"),
    }
    assert "unknown field" in found[1, "speed"]
    assert found[2, "latitude"] == "expected a number, got a boolean"
    assert "5 of 7" in answer["detail"]
    assert await gw.env.read_raw(gw.positions, timeout=5) == []


async def test_audit_records_the_real_size_of_a_chunked_body(gw: GatewayEnv) -> None:
    body = ndjson([record(i) for i in range(3)])
    status, _, _ = await post(gw, body, "application/x-ndjson", chunked=True)
    assert status == 200
    await gw.access.flush()
    entries = [e for e in await gw.access.audit.tail(20) if e.action == "publish"]
    assert [(e.amount, e.size_bytes) for e in entries] == [(3, len(body))]


async def test_a_batch_of_bad_records_lists_a_hundred_problems_and_counts_every_record(
    gw: GatewayEnv,
) -> None:
    bad = [{**record(i), **{f"x{n}": n for n in range(50)}} for i in range(300)]
    status, _, answer = await post(gw, orjson.dumps(bad), "application/json", chunked=False)
    assert status == 422
    assert len(answer["errors"]) == 100
    assert answer["errors"][0] == {
        "index": 0,
        "field": "x0",
        "detail": "unknown field: test.gateway.Position has no field 'x0'",
    }
    assert answer["detail"].startswith("300 of 300 record(s)")
    assert await gw.env.read_raw(gw.positions, timeout=5) == []
