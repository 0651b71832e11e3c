"""Fixtures for the access-control tests: runtime stores on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import hub.access  # noqa: F401 - declares the access tables on hub.db.metadata
from hub.db import create_schema, make_engine
from tests.pg import PgSchema, private_schema


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A runtime store on a fresh SQLite file, tables created."""
    engine = make_engine(f"sqlite:///{tmp_path / 'runtime.db'}")
    await create_schema(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def pg_schema() -> AsyncIterator[PgSchema]:
    """A fresh schema in the shared `test` database, so no other test's tables are touched."""
    schema = await private_schema("access_test")
    yield schema
    await schema.close()


@pytest.fixture
def pg_engine(pg_schema: PgSchema) -> AsyncEngine:
    """An engine on this test's PostgreSQL schema."""
    return pg_schema.engine()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """The runtime store on each supported database in turn."""
    engine: AsyncEngine = request.getfixturevalue(
        f"{'pg' if request.param == 'postgresql' else 'sqlite'}_engine"
    )
    return engine
