"""The runtime store's database engine: one MetaData for every runtime table, async engines.

SQLite (file, WAL) is the default for one machine; PostgreSQL (asyncpg) in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import MetaData, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

__all__ = [
    "DEFAULT_URL",
    "async_url",
    "create_schema",
    "make_engine",
    "metadata",
    "upsert",
    "write_transaction",
]

#: Where the runtime store lives when nothing else is configured.
DEFAULT_URL = "sqlite:///tsunagu.db"

#: The one MetaData every runtime-store table is declared on; constraint names are
#: fixed so migrations and error messages see the same names on SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Execution option that asks the SQLite BEGIN hook for the write lock up front.
_WRITE_OPTION = "tsunagu_write"

# How long a SQLite connection waits for another writer before giving up.
_SQLITE_BUSY_TIMEOUT_S = 30.0


def async_url(url: str) -> str:
    """Return `url` with an async driver: sqlite -> aiosqlite, postgresql -> asyncpg.

    URLs that already name a driver (``sqlite+aiosqlite://``, ``postgresql+psycopg://``)
    are returned unchanged.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    if scheme == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if scheme in {"postgresql", "postgres"}:
        return f"postgresql+asyncpg://{rest}"
    return url


def _is_file_sqlite(url: URL) -> bool:
    database = url.database or ""
    return database not in {"", ":memory:"} and url.query.get("mode") != "memory"


def make_engine(url: str, **options: Any) -> AsyncEngine:
    """Create an async engine for `url` (see `async_url`); `options` go to create_async_engine.

    On SQLite every connection gets WAL journaling, foreign keys and a 30 s busy timeout
    (``connect_args={"timeout": ...}`` changes it), and SQLAlchemy (not the sqlite3 module)
    emits BEGIN, so transactions really are serialisable and `write_transaction` can take
    the write lock first. On PostgreSQL connections are
    pinged before use, so a restarted server does not fail the first query.
    """
    parsed = make_url(async_url(url))
    if parsed.get_backend_name() == "sqlite":
        connect_args = {"timeout": _SQLITE_BUSY_TIMEOUT_S, **options.pop("connect_args", {})}
        engine = create_async_engine(parsed, connect_args=connect_args, **options)
        _install_sqlite_hooks(engine, wal=_is_file_sqlite(parsed))
        return engine
    options.setdefault("pool_pre_ping", True)
    options.setdefault("pool_size", 5)
    options.setdefault("max_overflow", 10)
    return create_async_engine(parsed, **options)


def _install_sqlite_hooks(engine: AsyncEngine, *, wal: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # sqlite3's legacy mode skips BEGIN before SELECTs, which breaks repeatable reads;
        # the "begin" hook below emits it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if wal:
                # WAL lets readers proceed while one writer commits. With WAL, NORMAL
                # syncs at checkpoints rather than at every commit: the database stays
                # consistent on a crash, and a power cut may lose the last commits: the
                # trade SQLite documents for WAL, worth a write path several times faster.
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A deferred transaction that reads and then writes fails with SQLITE_BUSY when
        # another writer got in between; IMMEDIATE waits for the lock instead.
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction for read-then-write work, committed on success, rolled back on error.

    On SQLite it holds the database write lock from the start (BEGIN IMMEDIATE), so two
    processes cannot interleave; on PostgreSQL it is an ordinary READ COMMITTED transaction
    and callers still lock rows or rely on unique constraints.
    """
    async with engine.connect() as conn:
        await conn.execution_options(**{_WRITE_OPTION: True})
        async with conn.begin():
            yield conn


def upsert(engine: AsyncEngine, table: sa.Table, keys: list[str]) -> Any:
    """An INSERT of ``table`` rows that updates every other column of a row whose ``keys``
    already exist, in ``engine``'s dialect (SQLite or PostgreSQL)."""
    module: Any = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = module.insert(table)
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=updates)


async def create_schema(engine: AsyncEngine) -> None:
    """Create every table declared on `metadata` that does not exist yet.

    Only tables whose modules have been imported are known to `metadata`.
    """
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
    except (IntegrityError, ProgrammingError):
        # Another hub process created the same tables at the same moment (first start of
        # several replicas on one PostgreSQL): a second pass finds them all there.
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
