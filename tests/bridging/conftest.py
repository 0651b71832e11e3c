"""Two data areas, each with its own embedded broker and its own registry."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from hub.broker import EmbeddedBroker
from hub.db import create_schema, make_engine
from hub.kafka import Cluster
from hub.registry import RegistryStore
from tests.conftest import REPO, embedded_broker
from tests.hub_registry import HUB_AUTH, hub_registry_app
from tests.ingest_runtime.harness import serve

if TYPE_CHECKING:
    from tests.bridging.processes import World

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def broker_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """Area B's own cluster: a second embedded broker."""
    yield from embedded_broker(tmp_path_factory, "broker-b", "second embedded Kafka broker")


@dataclass
class TwoAreas:
    registry_a: str
    registry_b: str
    schemas: Path


#: How a deployment's ``registry:`` names the credentials the areas' registries take
#: writes with (the variables are set by `two_registries`, so bridge processes inherit them).
REGISTRY_AUTH = (
    "username_env: TSUNAGU_TEST_REGISTRY_USER, password_env: TSUNAGU_TEST_REGISTRY_PASSWORD"
)


@pytest.fixture
async def two_registries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[TwoAreas]:
    """Each area's own registry, served over HTTP, and a schema directory holding the
    canonical schemas plus area B's own vocabulary."""
    monkeypatch.setenv("TSUNAGU_TEST_REGISTRY_USER", HUB_AUTH[0])
    monkeypatch.setenv("TSUNAGU_TEST_REGISTRY_PASSWORD", HUB_AUTH[1])
    schemas = tmp_path / "avro"
    shutil.copytree(REPO / "schemas" / "avro", schemas)
    shutil.copy(FIXTURES / "BusLocation.avsc", schemas / "BusLocation.avsc")
    engines = []
    urls = []
    for name in ("a", "b"):
        engine = make_engine(f"sqlite:///{tmp_path / f'registry-{name}.db'}")
        await create_schema(engine)
        engines.append(engine)
    async with (
        serve(hub_registry_app(RegistryStore(engines[0]))) as url_a,
        serve(hub_registry_app(RegistryStore(engines[1]))) as url_b,
    ):
        urls = [url_a, url_b]
        yield TwoAreas(urls[0], urls[1], schemas)
    for engine in engines:
        await engine.dispose()


@pytest.fixture
def make_world(
    tmp_path: Path,
    cluster: Cluster,
    broker_b: EmbeddedBroker,
    two_registries: TwoAreas,
    unique: str,
) -> Callable[..., World]:
    """``World.write`` for this test: Kaga on the session broker, Ishikawa on broker B, each
    with its own registry; keyword arguments change any of that or add options."""
    from tests.bridging.processes import World  # noqa: PLC0415 - processes imports this module

    def make(**options: Any) -> World:
        settings: dict[str, Any] = {
            "bootstrap_a": cluster.bootstrap_servers,
            "bootstrap_b": broker_b.bootstrap_servers,
            "registry_a": two_registries.registry_a,
            "registry_b": two_registries.registry_b,
            **options,
        }
        return World.write(tmp_path, two_registries.schemas, unique=unique, **settings)

    return make
