"""Versions of one record type meet through Avro schema resolution before the mapping: Kaga's
older publisher still writes vehicle positions without the newer fields and with integer
speeds; the bridge reads them with today's schema (defaults, int -> float promotion) and
converts them like current ones."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from hub.codec import Decoder, Encoder, schema_id_of
from hub.registry.client import RegistryClient
from hub.schemas import SchemaCatalogue
from tests.bridging.conftest import TwoAreas
from tests.bridging.processes import TopicReader, World, position
from tests.hub_registry import HUB_AUTH

_DROPPED = ("carriages", "wheelchair_accessible", "occupancy_percentage")


def _older(schema: dict[str, Any]) -> dict[str, Any]:
    """VehiclePosition as an earlier publisher wrote it."""
    older = copy.deepcopy(schema)
    older["fields"] = [f for f in older["fields"] if f["name"] not in _DROPPED]
    for field in older["fields"]:
        if field["name"] in ("speed", "bearing"):
            field["type"] = ["null", "int"]
    return older


async def test_records_of_an_older_schema_version_are_resolved_then_mapped(
    two_registries: TwoAreas, make_world: Callable[..., World]
) -> None:
    world = make_world()
    await world.apply()
    current = SchemaCatalogue.load(world.schemas).get("tsunagu.mobility.VehiclePosition").raw
    older = _older(current)
    async with RegistryClient(two_registries.registry_a, auth=HUB_AUTH) as registry_a:
        # Ids are global in a registry: the bridge finds the writer schema by id alone.
        older_id = await registry_a.register(
            "kaga-legacy-positions-value", orjson.dumps(older).decode()
        )
    legacy = Encoder(older_id, older)
    # Integers, as the older schema has them.
    old_records = [{**position(i), "speed": 10, "bearing": 90} for i in range(100, 110)]
    for record in old_records:
        for name in _DROPPED:
            record.pop(name, None)
    await world.produce([(str(r["id"]).encode(), legacy.encode(r)) for r in old_records])
    await world.produce_positions(0, 10)

    reader = TopicReader(world.bootstrap_b, world.target)
    try:
        world.start_bridge()
        await reader.wait_for(lambda: reader.count() >= 20, 60, "20 converted records")
    finally:
        reader.close()
        world.stop_all()
    decoder = Decoder()
    async with RegistryClient(two_registries.registry_b) as registry_b:
        for message in reader.messages:
            schema_id = schema_id_of(message.value())
            if not decoder.knows(schema_id):
                decoder.add_writer(schema_id, orjson.loads(await registry_b.get_schema(schema_id)))
    converted = {r["id"]: r for r in (decoder.decode(m.value()) for m in reader.messages)}
    assert len(converted) == 20
    for i in range(100, 110):
        record = converted[f"urn:ngsi-ld:BusLocation:ishikawa:kaga-bus-{i}"]
        assert record["speedKmh"] == pytest.approx(36.0)  # 10 m/s, promoted, then converted
        assert record["busNumber"] == str(100 + i)
