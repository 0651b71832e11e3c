"""Fixtures for the schema registry tests: runtime stores on SQLite and PostgreSQL, and the
registry app served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import create_schema, make_engine
from hub.registry import RegistryStore
from tests.hub_registry import HUB_AUTH, HUB_SECRET, hub_registry_app, with_credentials

__all__ = ["HUB_AUTH", "HUB_SECRET", "hub_registry_app", "with_credentials"]
from tests.pg import PgSchema, private_schema


def record(*fields: dict[str, object], name: str = "VehiclePosition") -> str:
    """An Avro record schema in namespace tsunagu.mobility with `fields`."""
    return json.dumps(
        {"type": "record", "name": name, "namespace": "tsunagu.mobility", "fields": list(fields)}
    )


#: The acceptance schema from the brief: a vehicle position with an optional speed.
VEHICLE_POSITION = record(
    {"name": "id", "type": "string"},
    {"name": "area", "type": "string"},
    {"name": "latitude", "type": "double"},
    {"name": "longitude", "type": "double"},
    {"name": "speed", "type": ["null", "double"], "default": None},
)


async def sqlite_engine(path: Path) -> AsyncEngine:
    """A runtime store on a fresh SQLite file, tables created."""
    engine = make_engine(f"sqlite:///{path}")
    await create_schema(engine)
    return engine


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[RegistryStore]:
    """A registry store on a SQLite file in tmp_path."""
    engine = await sqlite_engine(tmp_path / "runtime.db")
    yield RegistryStore(engine)
    await engine.dispose()


@pytest.fixture
async def pg_database() -> AsyncIterator[PgSchema]:
    """A fresh schema in the shared `test` database, so other tests' tables are untouched."""
    database = await private_schema("registry_test")
    yield database
    await database.close()


@pytest.fixture
def pg_store(pg_database: PgSchema) -> RegistryStore:
    """A registry store on PostgreSQL, in this test's own schema."""
    return RegistryStore(pg_database.engine())


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest) -> RegistryStore:
    """A registry store on each supported database in turn."""
    store: RegistryStore = request.getfixturevalue(
        f"{'pg' if request.param == 'postgresql' else 'sqlite'}_store"
    )
    return store


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve `app` on a free port of 127.0.0.1; return the runner and http://host:port."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@pytest.fixture
async def registry_url(sqlite_store: RegistryStore) -> AsyncIterator[str]:
    """Base URL of the registry mounted at /registry of a hub-like root app, with the hub's
    write credential in it: these tests exercise the API as the hub's own parts use it
    (test_registry_attacks.py covers who else may write)."""
    root = web.Application()
    root.add_subapp("/registry", hub_registry_app(sqlite_store))
    runner, url = await serve(root)
    yield with_credentials(f"{url}/registry")
    await runner.cleanup()
