"""Topics whose values are not what the gateway expects: NGSI-LD JSON on a topic declared
``format: ngsi-ld`` is served as JSON; bytes that are not a record of an Avro topic are
skipped, counted and logged a few times, never a stalled stream or a stuck /latest."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import confluent_kafka
import orjson
import pytest
from aiohttp import web

from hub.access import AccessControl, Grant, KeyStore
from hub.codec import header
from hub.gateway.service import Gateway
from hub.kafka import Cluster
from hub.metrics import REGISTRY
from hub.schemas.check import check_schemas
from tests.gateway_service.conftest import SCHEMAS
from tests.gateway_service.test_gateway_streams import collect, position, publish, sse_events
from tests.ingest_runtime.harness import IngestEnv, ingest_env, serve


class FormatsEnv:
    def __init__(self, env: IngestEnv, base: str, key: str, avro: str, entities: str) -> None:
        self.env = env
        self.base = base
        self.key = key
        self.avro = avro
        self.entities = entities


@pytest.fixture
async def fx(tmp_path: Path, cluster: Cluster, unique: str) -> AsyncIterator[FormatsEnv]:
    avro = f"town.test.states-{unique}.v1"
    entities = f"town.test.vehicles-{unique}.v1"
    yaml = f"""
    version: 1
    areas:
      town: {{title: Test Town}}
    topics:
      {avro}:
        area: town
        schema: test.gateway.Position
        cleanup: compact
        partitions: 2
        licence: CC-BY-4.0
        publisher: Test Town
        access: public
      {entities}:
        area: town
        schema: test.gateway.Position
        format: ngsi-ld
        partitions: 2
        licence: CC-BY-4.0
        publisher: Test Town
        access: public
    """
    async with ingest_env(tmp_path, cluster.bootstrap_servers, SCHEMAS, yaml) as env:
        engine = env.store.engine
        access = AccessControl.from_deployment(engine, env.deployment)
        issued = await KeyStore(engine).create(
            "publisher", grants=(Grant("town.*", "publish"), Grant("town.*", "read"))
        )
        gateway = Gateway(env.deployment, env.catalogue, env.connections, engine, access=access)
        app = web.Application()
        gateway.routes(app)
        async with serve(app) as base:
            yield FormatsEnv(env, base, issued.plaintext, avro, entities)
        await gateway.close()


def produce_raw(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Write bytes as they are, as a bridge or a foreign producer would."""
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "log_level": 3})
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def entity(i: int) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Vehicle:town:bus-{i}",
        "type": "Vehicle",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [136, 36]}},
        "speed": {"type": "Property", "value": 10.0 + i},
        "@context": ["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"],
    }


def undecodable(topic: str, reason: str) -> float:
    found = REGISTRY.get_sample_value(
        "tsunagu_undecodable_records_total", {"topic": topic, "reason": reason}
    )
    return found or 0.0


async def test_a_topic_of_ngsi_ld_json_is_served_as_json_and_has_no_avro_subject(
    fx: FormatsEnv,
) -> None:
    sent = [entity(i) for i in range(5)]
    await asyncio.to_thread(
        produce_raw,
        fx.env.bootstrap,
        fx.entities,
        [(e["id"].encode(), orjson.dumps(e)) for e in sent],
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fx.base}/v1/topics/{fx.entities}/latest") as response:
            assert response.status == 200, await response.text()
            body = await response.json()
        assert sorted(body["records"], key=lambda e: e["id"]) == sent
        url = f"{fx.base}/v1/topics/{fx.entities}/stream?start=earliest"
        events = await collect(sse_events(session, url), 5)
        assert sorted((e["record"] for _, e in events), key=lambda e: e["id"]) == sent
        # Publishing writes Avro: refused on a JSON topic, before anything is produced.
        response = await publish(session, fx, fx.entities, [position(1)])  # type: ignore[arg-type]
        assert response.status == 415
        assert response.content_type == "application/problem+json"
    subjects = await fx.env.connections.registry_for("town").subjects()
    assert f"{fx.avro}-value" in subjects
    assert f"{fx.entities}-value" not in subjects  # no Avro subject advertised for JSON
    # Nor does `tsunagu schemas check` (or repair) look for one.
    checks = await check_schemas(
        fx.env.deployment, fx.env.catalogue, fx.env.connections.registry_for
    )
    assert [c.topic for c in checks] == [fx.avro]


async def test_undecodable_records_are_skipped_counted_and_logged_a_few_times(
    fx: FormatsEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    garbage_before = undecodable(fx.avro, "not-framed")
    unknown_before = undecodable(fx.avro, "unknown-schema-id")
    async with aiohttp.ClientSession() as session:
        good = [position(i) for i in range(2)]
        assert (await publish(session, fx, fx.avro, good)).status == 200  # type: ignore[arg-type]
        garbage = [(f"junk-{i}".encode(), b"not avro at all %d" % i) for i in range(300)]
        # A framed value whose schema id the registry does not have.
        garbage.append((b"stranger", header(987_654) + b"\x02x"))
        await asyncio.to_thread(produce_raw, fx.env.bootstrap, fx.avro, garbage)
        later = [position(i) for i in range(2, 4)]
        assert (await publish(session, fx, fx.avro, later)).status == 200  # type: ignore[arg-type]

        async with session.get(f"{fx.base}/v1/topics/{fx.avro}/latest") as response:
            assert response.status == 200, await response.text()
            body = await response.json()
        assert sorted(r["id"] for r in body["records"]) == sorted(r["id"] for r in good + later)
        url = f"{fx.base}/v1/topics/{fx.avro}/stream?start=earliest"
        events = await collect(sse_events(session, url), 4)
        assert sorted(e["record"]["id"] for _, e in events) == sorted(r["id"] for r in good + later)
    assert undecodable(fx.avro, "not-framed") - garbage_before >= 300
    assert undecodable(fx.avro, "unknown-schema-id") - unknown_before >= 1
    lines = [r for r in caplog.records if fx.avro in r.getMessage()]
    assert 1 <= len(lines) <= 3, [r.getMessage() for r in lines]
