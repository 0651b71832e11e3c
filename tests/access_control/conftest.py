"""Fixtures for the access-control tests: runtime stores on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

import hub.access  # noqa: F401 - declares the access tables on hub.db.metadata
from hub.db import create_schema, make_engine
from tests.conftest import service_missing

PG_URL = os.environ.get("TSUNAGU_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A runtime store on a fresh SQLite file, tables created."""
    engine = make_engine(f"sqlite:///{tmp_path / 'runtime.db'}")
    await create_schema(engine)
    yield engine
    await engine.dispose()


class PgSchema:
    """A private PostgreSQL schema for one test; `engine()` is another "process" on it."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self._engines: list[AsyncEngine] = []

    def engine(self) -> AsyncEngine:
        base = make_engine(PG_URL)
        self._engines.append(base)
        return base.execution_options(schema_translate_map={None: self.schema})

    async def close(self) -> None:
        async with self._engines[0].begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        for engine in self._engines:
            await engine.dispose()


@pytest.fixture
async def pg_schema() -> AsyncIterator[PgSchema]:
    """A fresh schema in the shared `test` database, so no other test's tables are touched."""
    schema = PgSchema(f"access_test_{uuid.uuid4().hex[:12]}")
    engine = schema.engine()
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema.schema}"')
    except (OSError, SQLAlchemyError) as exc:
        await engine.dispose()
        service_missing(f"PostgreSQL at {PG_URL}: {exc}")
    await create_schema(engine)
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
