"""A bridge that writes NGSI-LD: Kaga's vehicle positions arrive on Ishikawa's cluster as
normalized JSON-LD entities with the @context Ishikawa names, for a FIWARE-based city OS."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from hub import headers as h
from hub.registry.client import RegistryClient
from tests.bridging.conftest import REGISTRY_AUTH, TwoAreas
from tests.bridging.processes import TopicReader, World, position

CONTEXT = "https://ishikawa.example.jp/ngsi-ld/context.jsonld"


async def test_positions_arrive_as_ngsi_ld_entities(
    two_registries: TwoAreas, make_world: Callable[..., World]
) -> None:
    world = make_world(bridge_options=", format: ngsi-ld", target_options=", format: ngsi-ld")
    config = world.config.read_text().replace(
        f'registry: {{url: "{two_registries.registry_b}", {REGISTRY_AUTH}}}',
        f'registry: {{url: "{two_registries.registry_b}", {REGISTRY_AUTH}}}'
        f'\n    ngsi_ld_context: ["{CONTEXT}"]',
    )
    world.config.write_text(config)
    await world.apply()
    async with RegistryClient(two_registries.registry_b) as registry:
        # A topic of JSON-LD values has no Avro subject to mislead consumers.
        assert f"{world.target}-value" not in await registry.subjects()
    await world.produce_positions(0, 20)
    reader = TopicReader(world.bootstrap_b, world.target)
    try:
        world.start_bridge()
        await reader.wait_for(lambda: reader.count() >= 20, 60, "20 entities")
        entities = {}
        for message in reader.messages:
            entity = orjson.loads(message.value())
            entities[entity["id"]] = (entity, dict(message.headers()))
    finally:
        reader.close()
        world.stop_all()
    assert len(entities) == 20
    source = position(3)
    entity, headers = entities["urn:ngsi-ld:BusLocation:ishikawa:kaga-bus-3"]
    assert entity["type"] == "BusLocation"
    assert entity["@context"] == [CONTEXT]
    assert entity["location"]["value"] == {
        "type": "Point",
        "coordinates": [source["longitude"], source["latitude"]],
    }
    assert entity["speedKmh"]["value"] == pytest.approx(36.0)
    assert entity["busNumber"] == {
        "type": "Property",
        "value": source["vehicle_label"],
        "observedAt": "2023-11-14T22:13:00.000Z",  # truncated to the minute by the mapping
    }
    assert "routeCode" in entity  # "r1": a plain property
    assert headers[h.MAPPING] == b"kaga-positions-to-ishikawa@1"
