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
import orjson
import pytest

from hub.codec import header
from hub.kafka import Cluster
from hub.metrics import REGISTRY
from hub.schemas.check import check_schemas
from tests.gateway_service.harness import (
    ServedGateway,
    collect,
    position,
    produce_raw,
    publish,
    served_gateway,
    sse_events,
)


class FormatsEnv(ServedGateway):
    @property
    def avro(self) -> str:
        """A public compacted topic of Avro records, 2 partitions."""
        return self.topics["states"]

    @property
    def entities(self) -> str:
        """A public topic of NGSI-LD JSON entities, 2 partitions."""
        return self.topics["vehicles"]


@pytest.fixture
async def fx(tmp_path: Path, cluster: Cluster, unique: str) -> AsyncIterator[FormatsEnv]:
    topics = {
        "states": {"cleanup": "compact", "partitions": 2},
        "vehicles": {"format": "ngsi-ld", "partitions": 2},
    }
    async with served_gateway(FormatsEnv, tmp_path, cluster, topics, unique) as served:
        yield served


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
        response = await publish(session, fx, fx.entities, [position(1)])
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
        assert (await publish(session, fx, fx.avro, good)).status == 200
        garbage = [(f"junk-{i}".encode(), b"not avro at all %d" % i) for i in range(300)]
        # A framed value whose schema id the registry does not have.
        garbage.append((b"stranger", header(987_654) + b"\x02x"))
        await asyncio.to_thread(produce_raw, fx.env.bootstrap, fx.avro, garbage)
        later = [position(i) for i in range(2, 4)]
        assert (await publish(session, fx, fx.avro, later)).status == 200

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
