"""A bridge decides from an error's blame, not its type: a mapping function written by a
city may raise anything, and what it raises about the record dead-letters the record,
while an error that blames something the hub depends on pauses the bridge, so the record
is converted once it is back instead of being set aside."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from hub import headers as h
from hub.bridge.build import build_bridge
from hub.config import load_config
from hub.connections import Connections, EmbeddedEndpoints
from hub.schemas import SchemaCatalogue
from tests.bridging.conftest import FIXTURES
from tests.bridging.processes import BRIDGE, TopicReader, World, position

# The city's function: the route as it is, except for routes that make it fail in a way of
# its own, and while its lookup service is "down".
FUNCTIONS = """
from hub.errors import RegistryUnavailableError

DOWN = False


class CityCodesError(Exception):
    pass


def route(value):
    if value == "attr":
        return value.no_such_attribute
    if value == "city":
        raise CityCodesError("route retired by the city")
    if DOWN:
        raise RegistryUnavailableError("http://codes.kaga.example", "connection refused")
    return value
"""


@pytest.fixture
def city_functions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed package (a real .dist-info on sys.path) registering ``kaga-route``, and
    the bridge's mapping calling it."""
    site = tmp_path / "site"
    info = site / "kaga_blame_functions-1.0.dist-info"
    info.mkdir(parents=True)
    (site / "kaga_blame_functions.py").write_text(FUNCTIONS)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: kaga-blame-functions\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[tsunagu.mapping_functions]\nkaga-route = kaga_blame_functions:route\n"
    )
    monkeypatch.syspath_prepend(str(site))
    mapping = tmp_path / "kaga-to-ishikawa-with-function.yaml"
    mapping.write_text(
        (FIXTURES / "kaga-to-ishikawa.yaml")
        .read_text()
        .replace("{from: route_id}", "{function: kaga-route, from: route_id}")
    )
    return mapping


@pytest.fixture
async def world(make_world: Callable[..., World], city_functions: Path) -> AsyncIterator[World]:
    w = make_world(mapping=city_functions)
    yield w
    w.stop_all()


async def test_the_bridge_dead_letters_what_blames_the_record_and_pauses_on_the_rest(
    world: World,
) -> None:
    await world.apply()
    functions: Any = importlib.import_module("kaga_blame_functions")
    catalogue = SchemaCatalogue.load(world.schemas)
    deployment = load_config(world.config, catalogue)
    connections = Connections(deployment, EmbeddedEndpoints(None, None))
    target_reader = TopicReader(world.bootstrap_b, world.target)
    dead_reader = TopicReader(world.bootstrap_b, deployment.dead_letter_topic(world.target))
    stop = asyncio.Event()
    try:
        runner = await build_bridge(BRIDGE, deployment, catalogue, connections)
        task = asyncio.create_task(runner.run(stop))
        # Errors of any type a city's function raises about a record: dead-lettered.
        bad = [{**position(1), "route_id": "attr"}, {**position(2), "route_id": "city"}]
        await world.produce([(str(r["id"]).encode(), world.encoder.encode(r)) for r in bad])
        await dead_reader.wait_for(lambda: dead_reader.count() >= 2, 60, "2 dead letters")
        dead = {m.key(): dict(m.headers()) for m in dead_reader.messages}
        for record, kind in zip(bad, ("AttributeError", "CityCodesError"), strict=True):
            headers = dead[str(record["id"]).encode()]
            assert headers[h.ERROR_STAGE] == b"map"
            assert headers[h.ERROR_MESSAGE].startswith(b"MappingError: routeCode: function")
            assert kind.encode() in headers[h.ERROR_MESSAGE]
        # A function saying a service it needs is away: the bridge waits and says why.
        functions.DOWN = True
        await world.produce_positions(10, 3)
        for _ in range(600):
            if runner.problem is not None:
                break
            await asyncio.sleep(0.1)
        assert runner.problem is not None
        assert "codes.kaga.example" in runner.problem
        assert target_reader.count() == 0
        assert dead_reader.count() == 2  # nothing of the paused batch was set aside
        # Back: the records it waited on are converted, none lost, none dead-lettered.
        functions.DOWN = False
        await target_reader.wait_for(lambda: target_reader.count() >= 3, 60, "3 records")
        stop.set()
        await task
    finally:
        stop.set()
        await connections.close()
        target_reader.close()
        dead_reader.close()
    assert dead_reader.count() == 2
    assert sorted(m.key() for m in target_reader.messages) == [
        f"urn:ngsi-ld:BusLocation:ishikawa:kaga-bus-{i}".encode() for i in (10, 11, 12)
    ]
