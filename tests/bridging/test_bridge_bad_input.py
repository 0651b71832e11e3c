"""What a bridge does with what it cannot convert, and with a target that does not answer:
a clear reason, the dead-letter topic or a pause, never a lost or silently skipped record."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from hub import headers as h
from hub.bridge.build import build_bridge
from hub.bridge.command import BridgesPart
from hub.broker import EmbeddedBroker, free_port
from hub.codec import header
from hub.config import Deployment, load_config
from hub.connections import Connections, EmbeddedEndpoints
from hub.errors import TsunaguError
from hub.http.app import HubInfo, create_app
from hub.kafka import Cluster
from hub.metrics import REGISTRY
from hub.parts import HubContext
from hub.registry.client import RegistryClient
from hub.schemas import SchemaCatalogue
from tests.bridging.conftest import TwoAreas
from tests.bridging.processes import BRIDGE, TopicReader, World, position
from tests.hub_registry import HUB_AUTH
from tests.ingest_runtime.harness import serve


@pytest.fixture
async def world(make_world: Callable[..., World]) -> AsyncIterator[World]:
    w = make_world()
    yield w
    w.stop_all()


def deployment_of(world: World) -> tuple[Deployment, SchemaCatalogue, Connections]:
    catalogue = SchemaCatalogue.load(world.schemas)
    deployment = load_config(world.config, catalogue)
    return deployment, catalogue, Connections(deployment, EmbeddedEndpoints(None, None))


async def test_undecodable_and_unmappable_records_go_to_the_dead_letter_topic(
    world: World,
) -> None:
    await world.apply()
    good = [position(i) for i in range(5)]
    not_a_urn = {**position(99), "id": "bus-99"}  # the id template needs an NGSI-LD URN
    values: list[tuple[bytes, bytes | None]] = [
        (str(r["id"]).encode(), world.encoder.encode(r)) for r in good[:2]
    ]
    values += [
        (b"unknown-schema", header(987_654) + b"\x00\x02"),  # no such id in Kaga's registry
        (b"not-avro", b'{"id": "bus-1", "lat": 36.3}'),  # JSON, no Confluent frame
        (b"unmappable", world.encoder.encode(not_a_urn)),
        # An entity retired at the source: its tombstone crosses under the mapped key...
        (str(good[0]["id"]).encode(), None),
        # ...unless its key cannot be mapped.
        (b"bus-77", None),
    ]
    values += [(str(r["id"]).encode(), world.encoder.encode(r)) for r in good[2:]]
    await world.produce(values)
    deployment, catalogue, connections = deployment_of(world)
    dlq = deployment.dead_letter_topic(world.target)
    before = {name: _sample(name, labels) for name, labels in _COUNTED}
    target_reader = TopicReader(world.bootstrap_b, world.target)
    dead_reader = TopicReader(world.bootstrap_b, dlq)
    try:
        runner = await build_bridge(BRIDGE, deployment, catalogue, connections)
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        await dead_reader.wait_for(lambda: dead_reader.count() >= 4, 60, "4 dead letters")
        await target_reader.wait_for(lambda: target_reader.count() >= 6, 60, "6 records")
        stop.set()
        await task
    finally:
        await connections.close()
        target_reader.close()
        dead_reader.close()
    assert target_reader.count() == 6  # the good records around the bad ones all arrived
    tombstones = [m.key() for m in target_reader.messages if m.value() is None]
    written = {m.key() for m in target_reader.messages if m.value() is not None}
    # The key good[0] was written under on the target, mapped into Ishikawa's namespace.
    assert tombstones == [b"urn:ngsi-ld:BusLocation:ishikawa:kaga-bus-0"]
    assert tombstones[0] in written
    dead = {m.key(): dict(m.headers()) for m in dead_reader.messages}
    assert set(dead) == {b"unknown-schema", b"not-avro", b"unmappable", b"bus-77"}
    assert dead[b"bus-77"][h.ERROR_STAGE] == b"map"
    assert b"is not an urn:ngsi-ld" in dead[b"bus-77"][h.ERROR_MESSAGE]
    assert dead[b"unknown-schema"][h.ERROR_STAGE] == b"decode"
    assert b"987654" in dead[b"unknown-schema"][h.ERROR_MESSAGE]
    assert dead[b"not-avro"][h.ERROR_STAGE] == b"decode"
    assert b"Confluent wire format" in dead[b"not-avro"][h.ERROR_MESSAGE]
    assert dead[b"unmappable"][h.ERROR_STAGE] == b"map"
    assert b"is not an urn:ngsi-ld" in dead[b"unmappable"][h.ERROR_MESSAGE]
    for headers in dead.values():
        assert headers[h.INTENDED_TOPIC] == world.target.encode()
        assert headers[h.ORIGIN_TOPIC] == world.source.encode()
        assert h.IDEMPOTENCY_KEY in headers
    # Every outcome is counted (the registry is the process's: compare with before).
    moved = {name: _sample(name, labels) - before[name] for name, labels in _COUNTED}
    assert moved == {
        "tsunagu_bridge_records_in_total": 10,
        "tsunagu_bridge_records_out_total": 6,
        "tsunagu_bridge_dead_letters_total": 4,
        "tsunagu_bridge_conversion_errors_total/decode": 2,
        "tsunagu_bridge_conversion_errors_total/mapping": 2,
        "tsunagu_bridge_latency_seconds_count": 10,
    }
    # The original bytes are kept, so the record can be replayed once fixed.
    assert next(m.value() for m in dead_reader.messages if m.key() == b"not-avro").startswith(b"{")


_COUNTED = [
    ("tsunagu_bridge_records_in_total", {}),
    ("tsunagu_bridge_records_out_total", {}),
    ("tsunagu_bridge_dead_letters_total", {}),
    ("tsunagu_bridge_conversion_errors_total/decode", {"kind": "decode"}),
    ("tsunagu_bridge_conversion_errors_total/mapping", {"kind": "mapping"}),
    ("tsunagu_bridge_latency_seconds_count", {}),
]


def _sample(name: str, labels: dict[str, str]) -> float:
    metric = name.split("/", maxsplit=1)[0]
    value = REGISTRY.get_sample_value(metric, {"bridge": BRIDGE, **labels})
    return value or 0.0


async def test_a_target_registry_that_refuses_the_schema_stops_the_bridge_with_its_reason(
    world: World, two_registries: TwoAreas
) -> None:
    await world.apply(source_only=True)
    subject = f"{world.target}-value"
    async with RegistryClient(two_registries.registry_b, auth=HUB_AUTH) as registry:
        # Ishikawa already holds a BusLocation the bridge's version cannot evolve from.
        incompatible = {
            "type": "record",
            "name": "BusLocation",
            "namespace": "ishikawa.transit",
            "fields": [{"name": "id", "type": "string"}, {"name": "depot", "type": "int"}],
        }
        await registry.set_compatibility("FULL", subject)
        await registry.register(subject, json.dumps(incompatible))
    deployment, catalogue, connections = deployment_of(world)
    try:
        with pytest.raises(TsunaguError) as caught:
            await build_bridge(BRIDGE, deployment, catalogue, connections)
    finally:
        await connections.close()
    message = str(caught.value)
    assert subject in message
    assert "is not FULL compatible" in message
    assert "field 'depot'" in message  # the registry's own reason


async def test_an_unreachable_target_cluster_pauses_the_bridge_until_it_is_back(
    tmp_path: Path, cluster: Cluster, two_registries: TwoAreas, make_world: Callable[..., World]
) -> None:
    port = free_port()
    world = make_world(bootstrap_b=f"127.0.0.1:{port}")
    await world.apply(source_only=True)  # Ishikawa's cluster is not up yet
    deployment, catalogue, connections = deployment_of(world)
    await world.produce_positions(0, 200)

    app = create_app(HubInfo(cluster.bootstrap_servers, two_registries.registry_a, "", "confluent"))
    part = BridgesPart(deployment)
    context = HubContext(deployment, catalogue, connections, None, app, asyncio.Event())  # type: ignore[arg-type]
    part.configure(context)
    broker: EmbeddedBroker | None = None
    async with serve(app) as base, aiohttp.ClientSession() as http:

        async def readiness() -> dict[str, object]:
            async with http.get(f"{base}/readyz") as response:
                body: dict[str, object] = await response.json()
                return body

        try:
            await part.start(context)
            reason = ""
            for _ in range(200):
                body = await readiness()
                reasons = body.get("reasons", {})
                assert isinstance(reasons, dict)
                reason = str(reasons.get(f"bridge:{BRIDGE}", ""))
                if "not acknowledged" in reason or "retrying" in reason:
                    break
                await asyncio.sleep(0.2)
            assert body["ready"] is False
            assert "retrying" in reason or "not acknowledged" in reason, reason
            # Nothing was committed while the target was away.
            lag = await asyncio.to_thread(_committed, world)
            assert lag == 0

            broker = EmbeddedBroker(port=port, log_dir=tmp_path)
            await asyncio.to_thread(broker.start)
            await world.apply()
            reader = TopicReader(broker.bootstrap_servers, world.target)
            try:
                await reader.wait_for(lambda: reader.count() >= 200, 120, "all 200 records")
            finally:
                reader.close()
            for _ in range(100):
                if (await readiness())["ready"]:
                    break
                await asyncio.sleep(0.2)
            assert (await readiness())["ready"] is True
        finally:
            await part.stop()
            await connections.close()
            if broker is not None:
                broker.stop()


def _committed(world: World) -> int:
    """Offsets the bridge's group has committed on the source topic, summed."""
    import confluent_kafka  # noqa: PLC0415

    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": world.bootstrap_a, "group.id": "tsunagu-bridge-" + BRIDGE}
    )
    try:
        metadata = consumer.list_topics(world.source, timeout=10)
        partitions = [
            confluent_kafka.TopicPartition(world.source, p)
            for p in metadata.topics[world.source].partitions
        ]
        return sum(max(0, tp.offset) for tp in consumer.committed(partitions, timeout=10))
    finally:
        consumer.close()
