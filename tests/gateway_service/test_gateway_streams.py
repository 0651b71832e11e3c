"""Subscribing without Kafka, publishing over HTTP, and the latest state, against the real
embedded broker and registry."""

from __future__ import annotations

import asyncio

import aiohttp
import confluent_kafka
import orjson
import pytest

from hub.access import Grant, KeyStore
from hub.gateway.fanout import Filter, Start, TopicFanout
from hub.gateway.publish import PublishLimits
from tests.gateway_service.conftest import GatewayEnv
from tests.gateway_service.harness import collect, position, publish, sse_events


async def test_sse_delivers_published_records_with_a_bbox_filter(gw: GatewayEnv) -> None:
    async with aiohttp.ClientSession() as session:
        inside = [position(i, lat=36.30, lon=136.30) for i in range(5)]
        outside = [position(100 + i, lat=35.0, lon=135.0) for i in range(5)]
        response = await publish(session, gw, gw.positions, inside + outside)
        assert response.status == 200
        url = f"{gw.base}/v1/topics/{gw.positions}/stream?start=earliest&bbox=136.2,36.2,136.4,36.4"
        events = await collect(sse_events(session, url), 5)
    assert sorted(e["record"]["id"] for _, e in events) == sorted(r["id"] for r in inside)
    assert all(e["record"]["area"] == "town" for _, e in events)
    assert all(e["record"]["source_feed"].startswith("http:tk_") for _, e in events)


async def test_websocket_delivers_live_records_filtered_by_id_and_field(gw: GatewayEnv) -> None:
    async with aiohttp.ClientSession() as session:
        wanted = "urn:ngsi-ld:Vehicle:town:bus-2"
        url = f"{gw.base}/v1/topics/{gw.positions}/stream?ids={wanted},x&where=route_id:r2"
        async with session.ws_connect(url) as ws:
            await asyncio.sleep(0.5)  # subscribed at "latest": publish after connecting
            records = [position(i, route="r2" if i % 2 == 0 else "r1") for i in range(6)]
            records.append(position(2, route="r1"))  # right id, wrong route
            await publish(session, gw, gw.positions, records)
            message = await asyncio.wait_for(ws.receive_json(), 30)
            assert message["type"] == "record"
            assert message["record"]["id"] == wanted
            assert message["record"]["route_id"] == "r2"
            assert message["position"]
            with pytest.raises(TimeoutError):  # nothing else matches
                await ws.receive(timeout=2.0)


async def test_a_client_that_reconnects_gets_every_remaining_record_exactly_once(
    gw: GatewayEnv,
) -> None:
    async with aiohttp.ClientSession() as session:
        first = [position(i) for i in range(150)]
        assert (await publish(session, gw, gw.positions, first)).status == 200
        url = f"{gw.base}/v1/topics/{gw.positions}/stream?start=earliest"
        before = await collect(sse_events(session, url), 60)
        last_id = before[-1][0]
        # Published while the client is away.
        more = [position(1000 + i) for i in range(100)]
        assert (await publish(session, gw, gw.positions, more)).status == 200
        after = await collect(sse_events(session, url, {"Last-Event-ID": last_id}), 150 + 100 - 60)
    seen = [(e["partition"], e["offset"]) for _, e in before + after]
    assert len(seen) == len(set(seen)) == 250, "a record was lost or repeated"
    ids = {e["record"]["id"] for _, e in before + after}
    assert ids == {r["id"] for r in first + more}


async def test_a_bad_resume_token_or_filter_is_a_problem(gw: GatewayEnv) -> None:
    async with aiohttp.ClientSession() as session:
        base = f"{gw.base}/v1/topics/{gw.positions}/stream"
        for query in ("resume=zz", "bbox=1,2,3", "start=yesterday", "where=novalue"):
            async with session.get(f"{base}?{query}") as response:
                assert response.status == 400
                assert response.content_type == "application/problem+json"
                body = await response.json()
                assert body["status"] == 400
        async with session.get(f"{gw.base}/v1/topics/nope.x.y.v1/stream") as response:
            assert response.status == 404


async def test_a_slow_subscriber_overflows_instead_of_growing(gw: GatewayEnv) -> None:
    async with aiohttp.ClientSession() as session:
        base_fanout = await gw.gateway.fanout(gw.positions)
        fanout = TopicFanout(
            gw.positions, base_fanout.make_reader, base_fanout.decode, queue_size=5
        )
        subscription = await fanout.subscribe(Start("latest"), Filter())
        await publish(session, gw, gw.positions, [position(i) for i in range(40)])
        await asyncio.sleep(3)  # the live reader fills the queue while nobody reads
        assert subscription.overflowed
        assert subscription.queue.qsize() == 5
        delivered = [e async for e in subscription.events()]
        assert len(delivered) == 5  # what was queued, then the stream ends
        await fanout.close()


async def test_publish_validates_everything_before_producing_anything(gw: GatewayEnv) -> None:
    async with aiohttp.ClientSession() as session:
        bad = [position(1), {"id": "urn:x", "latitude": "north"}, position(3)]
        response = await publish(session, gw, gw.positions, bad)
        assert response.status == 422
        body = orjson.loads(await response.read())
        assert response.content_type == "application/problem+json"
        assert {e["index"] for e in body["errors"]} == {1}  # one entry per field
        anonymous = await session.post(f"{gw.base}/v1/topics/{gw.positions}/records", data=b"[]")
        assert anonymous.status == 401
    assert await gw.env.read_raw(gw.positions, timeout=5) == []


async def test_ten_thousand_records_over_http_each_once_even_when_retried(gw: GatewayEnv) -> None:
    records = [position(i) for i in range(10_000)]
    async with aiohttp.ClientSession() as session:
        for n, start in enumerate(range(0, 10_000, 1000)):
            chunk = records[start : start + 1000]
            first = await publish(session, gw, gw.positions, chunk, **{"Idempotency-Key": f"k{n}"})
            assert first.status == 200
            # The client did not see the answer and retries: nothing is published twice.
            again = await publish(session, gw, gw.positions, chunk, **{"Idempotency-Key": f"k{n}"})
            assert again.status == 200
            assert again.headers["Idempotent-Replayed"] == "true"
            assert await again.read() == await first.read()
        reused = await publish(session, gw, gw.positions, records[:3], **{"Idempotency-Key": "k0"})
        assert reused.status == 422
    landed = await gw.env.read_raw(gw.positions, timeout=60)
    keys = [m.key() for m in landed]
    assert len(keys) == 10_000
    assert set(keys) == {r["id"].encode() for r in records}


async def test_latest_answers_from_the_compacted_topic(gw: GatewayEnv) -> None:
    async with aiohttp.ClientSession() as session:
        for lat in (36.1, 36.2, 36.3):
            await publish(session, gw, gw.states, [position(7, lat=lat), position(8, lat=lat)])
        url = f"{gw.base}/v1/topics/{gw.states}/latest"
        async with session.get(url, params={"id": "urn:ngsi-ld:Vehicle:town:bus-7"}) as response:
            assert response.status == 200
            assert (await response.json())["latitude"] == 36.3
        async with session.get(url, params={"bbox": "136,36.25,137,36.35"}) as response:
            body = await response.json()
            assert body["count"] == 2
        async with session.get(url, params={"id": "urn:none"}) as response:
            assert response.status == 404


async def test_keys_grants_and_the_audit_log_guard_publishing(gw: GatewayEnv) -> None:
    store = KeyStore(gw.env.store.engine)
    reader_only = await store.create("reader", grants=(Grant("town.*", "read"),))
    revoked = await store.create("gone", grants=(Grant("town.*", "publish"),))
    await store.revoke(revoked.info.key_id)
    url = f"{gw.base}/v1/topics/{gw.positions}/records"
    async with aiohttp.ClientSession() as session:
        for key, status in ((reader_only.plaintext, 403), (revoked.plaintext, 401), (None, 401)):
            headers = {"X-API-Key": key} if key else {}
            async with session.post(url, data=b"[]", headers=headers) as response:
                assert response.status == status
                assert response.content_type == "application/problem+json"
    await gw.access.flush()
    entries = await gw.access.audit.tail(20)
    outcomes = [(e.key_id, e.action, e.outcome) for e in entries]
    assert (reader_only.info.key_id, "publish", "403") in outcomes
    assert (revoked.info.key_id, "publish", "401") in outcomes
    assert (await gw.access.audit.verify()).ok


async def test_bad_bodies_get_problems_and_ndjson_works(gw: GatewayEnv) -> None:
    gw.gateway.limits = PublishLimits(max_body_bytes=2_000, max_records=3)
    url = f"{gw.base}/v1/topics/{gw.positions}/records"
    key = {"X-API-Key": gw.key}
    ndjson = b"\n".join(orjson.dumps(position(i)) for i in range(2))
    async with aiohttp.ClientSession() as session:
        cases = [
            (b"[{not json", "application/json", 400),
            (b"{}\n{oops", "application/x-ndjson", 400),
            (b"[" + b" " * 3_000 + b"]", "application/json", 413),
            (orjson.dumps([position(i) for i in range(4)]), "application/json", 413),
            (b'"a string"', "application/json", 400),
        ]
        for body, content_type, status in cases:
            headers = {**key, "Content-Type": content_type}
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == status, await response.text()
                assert response.content_type == "application/problem+json"
        headers = {**key, "Content-Type": "application/x-ndjson"}
        async with session.post(url, data=ndjson, headers=headers) as response:
            assert response.status == 200
            assert (await response.json())["records"] == 2


async def test_a_tombstone_reaches_subscribers_as_a_deletion_and_leaves_the_latest_state(
    gw: GatewayEnv,
) -> None:
    gone = "urn:ngsi-ld:Vehicle:town:bus-7"
    async with aiohttp.ClientSession() as session:
        await publish(session, gw, gw.states, [position(7), position(8)])
        producer = confluent_kafka.Producer({"bootstrap.servers": gw.env.bootstrap})
        producer.produce(gw.states, None, gone.encode())  # the entity was retired
        assert producer.flush(30) == 0
        stream = f"{gw.base}/v1/topics/{gw.states}/stream?start=earliest"
        # A bounding box cannot place a deletion: it is delivered all the same.
        events = await collect(sse_events(session, f"{stream}&bbox=136.2,36.2,136.4,36.4"), 3)
        assert [(e["key"], e["record"] is None) for _, e in events][-1] == (gone, True)
        # A subscriber to other ids does not hear of it.
        others = await collect(
            sse_events(session, f"{stream}&ids=urn:ngsi-ld:Vehicle:town:bus-8"), 1
        )
        assert [e["record"]["id"] for _, e in others] == ["urn:ngsi-ld:Vehicle:town:bus-8"]
        url = f"{gw.base}/v1/topics/{gw.states}/latest"
        for _ in range(50):  # the latest state follows the log
            async with session.get(url, params={"id": gone}) as response:
                if response.status == 404:
                    break
            await asyncio.sleep(0.2)
        assert response.status == 404
        async with session.get(url) as response:
            assert [r["id"] for r in (await response.json())["records"]] == [
                "urn:ngsi-ld:Vehicle:town:bus-8"
            ]
