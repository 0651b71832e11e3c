"""A bridge between two data areas, each with its own broker and registry: canonical vehicle
positions of Kaga become Ishikawa's BusLocations, read back by an independent consumer on
Ishikawa's cluster through Ishikawa's registry."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import orjson
import pytest

from hub import headers as h
from hub.apply import apply
from hub.bridge.build import build_bridge
from hub.broker import EmbeddedBroker
from hub.codec import Decoder, Encoder, schema_id_of
from hub.config import load_config
from hub.connections import Connections, EmbeddedEndpoints
from hub.kafka import Cluster, Outgoing, get_backend
from hub.mapping import check_mapping, load_mapping
from hub.registry.client import RegistryClient
from hub.schemas import SchemaCatalogue
from tests.bridging.conftest import FIXTURES, REGISTRY_AUTH, TwoAreas
from tests.bridging.processes import position
from tests.ingest_runtime.harness import _read_messages


async def test_positions_of_kaga_arrive_in_ishikawas_vocabulary(
    tmp_path: Path,
    cluster: Cluster,
    broker_b: EmbeddedBroker,
    two_registries: TwoAreas,
    unique: str,
) -> None:
    # Topics and group of this test alone: the session broker outlives it.
    source_topic = f"kaga.mobility.vehicle-positions-{unique}.v1"
    target_topic = f"ishikawa.transit.bus-locations-{unique}.v1"
    shutil.copy(FIXTURES / "kaga-to-ishikawa.yaml", tmp_path / "mapping.yaml")
    config = tmp_path / "topics.yaml"
    config.write_text(
        f"""version: 1
areas:
  kaga:
    kafka: {{bootstrap_servers: "{cluster.bootstrap_servers}"}}
    registry: {{url: "{two_registries.registry_a}", {REGISTRY_AUTH}}}
  ishikawa:
    kafka: {{bootstrap_servers: "{broker_b.bootstrap_servers}"}}
    registry: {{url: "{two_registries.registry_b}", {REGISTRY_AUTH}}}
topics:
  {source_topic}:
    {{area: kaga, schema: tsunagu.mobility.VehiclePosition, partitions: 3,
     licence: CC-BY-4.0, publisher: Kaga City}}
  {target_topic}:
    {{area: ishikawa, schema: ishikawa.transit.BusLocation, partitions: 3,
     licence: CC-BY-4.0, publisher: Ishikawa}}
bridges:
  kaga-to-ishikawa: {{source: {source_topic}, target: {target_topic}, mapping: mapping.yaml,
    group_id: bridge-{unique}}}
"""
    )
    catalogue = SchemaCatalogue.load(two_registries.schemas)
    deployment = load_config(config, catalogue)
    spec = load_mapping(tmp_path / "mapping.yaml")
    assert (
        check_mapping(
            spec,
            catalogue.get("tsunagu.mobility.VehiclePosition").raw,
            catalogue.get("ishikawa.transit.BusLocation").raw,
        )
        == []
    )
    connections = Connections(deployment, EmbeddedEndpoints(None, None))
    try:
        await apply(deployment, catalogue, connections.admin_for, connections.registry_for)
        source_id = await connections.registry_for("kaga").lookup(
            f"{source_topic}-value", catalogue.get("tsunagu.mobility.VehiclePosition").text
        )
        assert source_id is not None
        encoder = Encoder(source_id, catalogue.get("tsunagu.mobility.VehiclePosition").parsed)
        records = [position(i) for i in range(50)]
        producer = get_backend().producer(cluster)
        await producer.start()
        await producer.deliver(
            source_topic, [Outgoing(str(r["id"]).encode(), encoder.encode(r)) for r in records]
        )
        await producer.stop()

        runner = await build_bridge("kaga-to-ishikawa", deployment, catalogue, connections)
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        deadline = asyncio.get_running_loop().time() + 60
        while runner.converted < 50 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.5)
        stop.set()
        await task
        assert runner.converted == 50
    finally:
        await connections.close()

    messages = await asyncio.to_thread(_read_messages, broker_b.bootstrap_servers, target_topic, 30)
    assert len(messages) == 50
    # An independent reader of Ishikawa's cluster: only Ishikawa's registry resolves ids.
    async with RegistryClient(two_registries.registry_b) as registry_b:
        decoder = Decoder()
        for message in messages:
            schema_id = schema_id_of(message.value())
            if not decoder.knows(schema_id):
                decoder.add_writer(schema_id, orjson.loads(await registry_b.get_schema(schema_id)))
    by_id = {
        decoder.decode(m.value())["id"]: (decoder.decode(m.value()), dict(m.headers()))
        for m in messages
    }
    for source in records:
        local = str(source["id"]).rsplit(":", 1)[1]
        target, headers = by_id[f"urn:ngsi-ld:BusLocation:ishikawa:kaga-{local}"]
        assert target["area"] == "ishikawa"
        assert target["busNumber"] == source["vehicle_label"]
        assert target["speedKmh"] == pytest.approx(36.0)
        observed = int(str(source["observed_at"]))
        assert target["observed_at"] == observed - observed % 60_000  # truncated to the minute
        assert target["city"] == "Kaga"
        assert headers[h.ORIGIN_AREA] == b"kaga"
        assert headers[h.MAPPING] == b"kaga-positions-to-ishikawa@1"
        assert headers[h.IDEMPOTENCY_KEY].startswith(b"kaga/" + source_topic.encode() + b"/")
