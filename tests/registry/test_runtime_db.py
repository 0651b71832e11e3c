"""The runtime store engine: URL normalisation, SQLite pragmas, schema creation, transactions."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import async_url, create_schema, make_engine, metadata, write_transaction
from hub.registry.store import schemas_table, versions_table
from tests.pg import PgSchema


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///tsunagu.db", "sqlite+aiosqlite:///tsunagu.db"),
        ("sqlite:////var/lib/tsunagu/hub.db", "sqlite+aiosqlite:////var/lib/tsunagu/hub.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://u:p@db:5432/hub", "postgresql+asyncpg://u:p@db:5432/hub"),
        ("postgres://u@db/hub", "postgresql+asyncpg://u@db/hub"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql+asyncpg://db/hub", "postgresql+asyncpg://db/hub"),
        ("postgresql+psycopg://db/hub", "postgresql+psycopg://db/hub"),
    ],
)
def test_async_url(url: str, expected: str) -> None:
    assert async_url(url) == expected


def test_async_url_rejects_non_urls() -> None:
    with pytest.raises(ValueError, match="not a database URL"):
        async_url("tsunagu.db")


async def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'runtime.db'}")
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(sa.text("PRAGMA journal_mode")) == "wal"
            assert await conn.scalar(sa.text("PRAGMA foreign_keys")) == 1
            assert await conn.scalar(sa.text("PRAGMA busy_timeout")) == 30000
    finally:
        await engine.dispose()
    assert (tmp_path / "runtime.db").exists()


async def test_create_schema_creates_the_registry_tables(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'runtime.db'}")
    try:
        await create_schema(engine)
        await create_schema(engine)  # idempotent
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        assert {
            "registry_schemas",
            "registry_subjects",
            "registry_versions",
            "registry_config",
        } <= set(names)
        assert set(names) >= {
            table.name for table in metadata.sorted_tables if table.name.startswith("registry_")
        }
    finally:
        await engine.dispose()


async def test_sqlite_enforces_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'runtime.db'}")
    try:
        await create_schema(engine)
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(
                    versions_table.insert().values(
                        subject="nobody", version=1, schema_id=99, deleted=False
                    )
                )
    finally:
        await engine.dispose()


async def _insert_then_fail(engine: AsyncEngine) -> None:
    async with write_transaction(engine) as conn:
        await conn.execute(schemas_table.insert().values(fingerprint="b" * 64, schema='"long"'))
        raise RuntimeError("boom")


async def test_write_transaction_commits_and_rolls_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'runtime.db'}")
    try:
        await create_schema(engine)
        async with write_transaction(engine) as conn:
            await conn.execute(schemas_table.insert().values(fingerprint="a" * 64, schema='"int"'))
        with pytest.raises(RuntimeError, match="boom"):
            await _insert_then_fail(engine)
        async with engine.connect() as conn:
            stored = (await conn.scalars(sa.select(schemas_table.c.schema))).all()
        assert stored == ['"int"']
    finally:
        await engine.dispose()


async def test_sqlite_write_transaction_holds_the_write_lock(tmp_path: Path) -> None:
    # BEGIN IMMEDIATE takes the lock at once: a second writer with no busy timeout is refused
    # while the first transaction is open, before the first has written anything.
    path = tmp_path / "runtime.db"
    engine = make_engine(f"sqlite:///{path}")
    impatient = make_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        await create_schema(engine)
        async with write_transaction(engine):
            with pytest.raises(sa.exc.OperationalError, match="locked"):
                async with write_transaction(impatient):
                    pass
        async with write_transaction(impatient) as conn:  # free again once committed
            await conn.execute(schemas_table.insert().values(fingerprint="c" * 64, schema='"int"'))
    finally:
        await impatient.dispose()
        await engine.dispose()


async def test_postgresql_engine_and_schema(pg_database: PgSchema) -> None:
    engine = pg_database.engine()
    async with engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT 1")) == 1
        count = await conn.scalar(sa.select(sa.func.count()).select_from(schemas_table))
    assert count == 0
    assert engine.dialect.driver == "asyncpg"
