"""A private PostgreSQL schema per test, in the machine's shared `test` database."""

from __future__ import annotations

import os
import uuid

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import create_schema, make_engine
from tests.conftest import service_missing

PG_URL = os.environ.get("TSUNAGU_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


class PgSchema:
    """A private PostgreSQL schema for one test; `engine()` opens another "process" on it."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self._engines: list[AsyncEngine] = []

    def engine(self) -> AsyncEngine:
        """A new engine (own connection pool) whose tables live in this test's schema."""
        base = make_engine(PG_URL)
        self._engines.append(base)
        return base.execution_options(schema_translate_map={None: self.schema})

    async def close(self) -> None:
        """Drop the schema and every engine."""
        async with self._engines[0].begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        for engine in self._engines:
            await engine.dispose()


async def private_schema(prefix: str) -> PgSchema:
    """A fresh schema with every runtime table, so no other test's tables are touched; fails
    under CI (skips elsewhere) when PostgreSQL is not there."""
    schema = PgSchema(f"{prefix}_{uuid.uuid4().hex[:12]}")
    engine = schema.engine()
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema.schema}"')
    except (OSError, SQLAlchemyError) as exc:
        await engine.dispose()
        service_missing(f"PostgreSQL at {PG_URL}: {exc}")
    await create_schema(engine)
    return schema
