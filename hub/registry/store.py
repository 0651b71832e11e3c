"""The embedded schema registry's storage: schemas, subject versions and compatibility config.

Tables live on `hub.db.metadata`. Semantics follow Confluent's registry: global schema ids
shared across subjects, per-subject versions with soft delete, and a compatibility check
before every new version. Safe for several hub processes sharing one PostgreSQL database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias, overload

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.db import metadata, write_transaction
from hub.errors import IncompatibleSchemaError, SchemaError
from hub.registry.codes import INVALID_SUBJECT, RegistryResponseError
from hub.registry.compatibility import DEFAULT_LEVEL, CompatibilityLevel, check, parse_schema

__all__ = [
    "LATEST",
    "RegistryStore",
    "SubjectVersion",
    "config_table",
    "parse_version",
    "schemas_table",
    "subjects_table",
    "versions_table",
]

#: Version selector for a subject's newest live version ("latest" or -1 on the wire).
LATEST: Final = "latest"
VersionRef: TypeAlias = int | Literal["latest"]

_MAX_VERSION = 2**31 - 1
_MAX_SUBJECT_LENGTH = 512
# The config row that holds the global level; subjects must be non-empty, so it cannot clash.
_GLOBAL = ""
# Attempts for a registration that lost a race on a unique constraint to another process.
_REGISTER_ATTEMPTS = 5

schemas_table = sa.Table(
    "registry_schemas",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # SHA-256 of the normalised JSON: whitespace and key order do not make a new schema.
    sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
    sa.Column("schema", sa.Text, nullable=False),
)

# One row per subject ever registered; registrations lock it so versions are numbered in turn.
subjects_table = sa.Table(
    "registry_subjects",
    metadata,
    sa.Column("subject", sa.String(_MAX_SUBJECT_LENGTH), primary_key=True),
)

versions_table = sa.Table(
    "registry_versions",
    metadata,
    sa.Column(
        "subject",
        sa.String(_MAX_SUBJECT_LENGTH),
        sa.ForeignKey(subjects_table.c.subject),
        primary_key=True,
    ),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column(
        "schema_id", sa.Integer, sa.ForeignKey(schemas_table.c.id), nullable=False, index=True
    ),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
)

config_table = sa.Table(
    "registry_config",
    metadata,
    # "" is the global level; any other value is a subject.
    sa.Column("subject", sa.String(_MAX_SUBJECT_LENGTH), primary_key=True),
    sa.Column("compatibility", sa.String(32), nullable=False),
)


@dataclass(frozen=True, slots=True)
class SubjectVersion:
    """One version of a subject: which schema id it is and that schema's text as registered."""

    subject: str
    version: int
    schema_id: int
    schema: str
    deleted: bool = False


def parse_version(value: str | int) -> VersionRef:
    """Parse a version selector: a number in [1, 2^31-1], "latest" or -1; else 42202."""
    if value == LATEST or value in {-1, "-1"}:
        return LATEST
    try:
        number = int(value)
    except ValueError:
        raise RegistryResponseError.invalid_version(value) from None
    if not 1 <= number <= _MAX_VERSION:
        raise RegistryResponseError.invalid_version(value)
    return number


def _fingerprint(schema: str, schema_type: str = "AVRO") -> str:
    """Validate an Avro schema (42201 if invalid); return the SHA-256 of its normalised JSON."""
    if schema_type.upper() != "AVRO":
        raise RegistryResponseError.invalid_schema(
            f"schema type {schema_type!r} is not supported (only AVRO)"
        )
    if not schema.strip():
        raise RegistryResponseError.invalid_schema("empty schema")
    try:
        parse_schema(schema)
    except SchemaError as exc:
        raise RegistryResponseError.invalid_schema(str(exc)) from exc
    normalised = json.dumps(
        json.loads(schema), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(normalised.encode()).hexdigest()


def _check_subject(subject: str) -> None:
    if not subject or len(subject) > _MAX_SUBJECT_LENGTH or not subject.isprintable():
        raise RegistryResponseError(
            422,
            INVALID_SUBJECT,
            f"Invalid subject name {subject!r}: must be 1 to 512 printable characters",
        )


def _level(value: str) -> CompatibilityLevel:
    try:
        return CompatibilityLevel(value.upper())
    except ValueError:
        raise RegistryResponseError.invalid_level(value) from None


@asynccontextmanager
async def _store_errors() -> AsyncIterator[None]:
    """Turn database failures into Confluent's 50001 store error."""
    try:
        yield
    except (SQLAlchemyError, OSError) as exc:
        # OSError: asyncpg raises connection failures (refused, reset, timeout) unwrapped.
        raise RegistryResponseError.store_error(f"{type(exc).__name__}: {exc}") from exc


_VERSION_COLUMNS = (
    versions_table.c.subject,
    versions_table.c.version,
    versions_table.c.schema_id,
    schemas_table.c.schema,
    versions_table.c.deleted,
    schemas_table.c.fingerprint,
)


def _version_query() -> sa.Select[tuple[str, int, int, str, bool, str]]:
    return sa.select(*_VERSION_COLUMNS).join(
        schemas_table, schemas_table.c.id == versions_table.c.schema_id
    )


def _to_version(row: sa.Row[tuple[str, int, int, str, bool, str]]) -> SubjectVersion:
    return SubjectVersion(row.subject, row.version, row.schema_id, row.schema, row.deleted)


class RegistryStore:
    """Confluent-style registry operations on the runtime store's database.

    Errors are `RegistryResponseError` carrying Confluent's code (40401, 42201, ...), or
    `IncompatibleSchemaError` when a new version breaks the subject's compatibility level.
    The tables must exist (`hub.db.create_schema`).
    """

    def __init__(self, engine: AsyncEngine, *, default_level: CompatibilityLevel = DEFAULT_LEVEL):
        self._engine = engine
        self._default_level = default_level

    @property
    def engine(self) -> AsyncEngine:
        """The engine this store runs on."""
        return self._engine

    # --- registration and lookup ------------------------------------------------------

    async def register(
        self, subject: str, schema: str, *, schema_type: str = "AVRO"
    ) -> SubjectVersion:
        """Register `schema` under `subject`, or return its existing live version.

        A schema already known under any subject keeps its global id. Raises
        IncompatibleSchemaError if the new version breaks the subject's level, 42201 if
        the schema is invalid.
        """
        _check_subject(subject)
        fingerprint = _fingerprint(schema, schema_type)
        for attempt in range(1, _REGISTER_ATTEMPTS + 1):
            try:
                async with _store_errors(), write_transaction(self._engine) as conn:
                    return await self._register(conn, subject, schema, fingerprint)
            except RegistryResponseError as exc:
                # Another process inserted the same schema or version between our read and
                # write; a fresh transaction sees its row and decides again.
                if attempt == _REGISTER_ATTEMPTS or not isinstance(exc.__cause__, IntegrityError):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _register(
        self, conn: AsyncConnection, subject: str, text: str, fingerprint: str
    ) -> SubjectVersion:
        await self._lock_subject(conn, subject)
        rows = (
            await conn.execute(
                _version_query()
                .where(versions_table.c.subject == subject)
                .order_by(versions_table.c.version)
            )
        ).all()
        live = [row for row in rows if not row.deleted]
        for row in live:
            if row.fingerprint == fingerprint:
                return _to_version(row)
        level = await self._effective_level(conn, subject)
        reasons = check(
            level,
            text,
            [row.schema for row in live],
            labels=[f"version {row.version}" for row in live],
        )
        if reasons:
            raise IncompatibleSchemaError(subject, level.value, reasons)
        schema_id, stored_text = await self._schema_id(conn, text, fingerprint)
        version = max((row.version for row in rows), default=0) + 1
        await conn.execute(
            versions_table.insert().values(
                subject=subject, version=version, schema_id=schema_id, deleted=False
            )
        )
        return SubjectVersion(subject, version, schema_id, stored_text)

    async def _lock_subject(self, conn: AsyncConnection, subject: str) -> None:
        # The row lock serialises registrations of one subject across processes on
        # PostgreSQL; SQLite is already serialised by BEGIN IMMEDIATE.
        exists = sa.select(subjects_table.c.subject).where(subjects_table.c.subject == subject)
        if (await conn.execute(exists.with_for_update())).first() is not None:
            return
        try:
            async with conn.begin_nested():
                await conn.execute(subjects_table.insert().values(subject=subject))
        except IntegrityError:
            pass  # created concurrently by another process: lock theirs
        await conn.execute(exists.with_for_update())

    async def _schema_id(
        self, conn: AsyncConnection, text: str, fingerprint: str
    ) -> tuple[int, str]:
        query = sa.select(schemas_table.c.id, schemas_table.c.schema).where(
            schemas_table.c.fingerprint == fingerprint
        )
        row = (await conn.execute(query)).first()
        if row is None:
            try:
                async with conn.begin_nested():
                    await conn.execute(
                        schemas_table.insert().values(fingerprint=fingerprint, schema=text)
                    )
            except IntegrityError:
                pass  # the same schema registered concurrently under another subject
            row = (await conn.execute(query)).one()
        return row.id, row.schema

    async def lookup(self, subject: str, schema: str, *, deleted: bool = False) -> SubjectVersion:
        """Find the version of `subject` that holds `schema` (40401 subject, 40403 schema)."""
        fingerprint = _fingerprint(schema)
        async with _store_errors(), self._engine.connect() as conn:
            rows = await self._versions(conn, subject, deleted=deleted)
        matches = [row for row in rows if row.fingerprint == fingerprint]
        if not matches:
            raise RegistryResponseError.schema_not_found(
                f"Schema not found under subject '{subject}'"
            )
        # Prefer a live version over a soft-deleted one, then the newest.
        return _to_version(max(matches, key=lambda row: (not row.deleted, row.version)))

    async def schema_by_id(self, schema_id: int) -> str:
        """The schema text registered with `schema_id` (40403 if none)."""
        async with _store_errors(), self._engine.connect() as conn:
            text = await conn.scalar(
                sa.select(schemas_table.c.schema).where(schemas_table.c.id == schema_id)
            )
        if text is None:
            raise RegistryResponseError.schema_not_found(f"Schema {schema_id} not found")
        return str(text)

    async def usages(self, schema_id: int, *, deleted: bool = False) -> list[tuple[str, int]]:
        """(subject, version) pairs that hold `schema_id` (40403 if the id is unknown)."""
        await self.schema_by_id(schema_id)
        query = sa.select(versions_table.c.subject, versions_table.c.version).where(
            versions_table.c.schema_id == schema_id
        )
        if not deleted:
            query = query.where(versions_table.c.deleted.is_(False))
        async with _store_errors(), self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    query.order_by(versions_table.c.subject, versions_table.c.version)
                )
            ).all()
        return [(row.subject, row.version) for row in rows]

    # --- subjects and versions ---------------------------------------------------------

    async def subjects(self, *, deleted: bool = False) -> list[str]:
        """Subjects with at least one live version (with `deleted`, any version)."""
        query = sa.select(versions_table.c.subject).distinct()
        if not deleted:
            query = query.where(versions_table.c.deleted.is_(False))
        async with _store_errors(), self._engine.connect() as conn:
            return sorted((await conn.scalars(query)).all())

    async def versions(self, subject: str, *, deleted: bool = False) -> list[int]:
        """Version numbers of `subject`, oldest first (40401 if it has none)."""
        async with _store_errors(), self._engine.connect() as conn:
            rows = await self._versions(conn, subject, deleted=deleted)
        return [row.version for row in rows]

    async def get_version(
        self, subject: str, version: VersionRef, *, deleted: bool = False
    ) -> SubjectVersion:
        """One version of `subject`, or its latest live one (40401 subject, 40402 version)."""
        async with _store_errors(), self._engine.connect() as conn:
            rows = await self._versions(conn, subject, deleted=deleted)
        return _to_version(self._pick(subject, rows, version))

    async def _versions(
        self, conn: AsyncConnection, subject: str, *, deleted: bool
    ) -> Sequence[sa.Row[tuple[str, int, int, str, bool, str]]]:
        query = _version_query().where(versions_table.c.subject == subject)
        if not deleted:
            query = query.where(versions_table.c.deleted.is_(False))
        rows = (await conn.execute(query.order_by(versions_table.c.version))).all()
        if not rows:
            raise RegistryResponseError.subject_not_found(subject)
        return rows

    @staticmethod
    def _pick(
        subject: str,
        rows: Sequence[sa.Row[tuple[str, int, int, str, bool, str]]],
        version: VersionRef,
    ) -> sa.Row[tuple[str, int, int, str, bool, str]]:
        if version == LATEST:
            live = [row for row in rows if not row.deleted]
            if not live:
                raise RegistryResponseError.version_not_found(subject, LATEST)
            return live[-1]
        for row in rows:
            if row.version == version:
                return row
        raise RegistryResponseError.version_not_found(subject, version)

    async def delete_subject(self, subject: str, *, permanent: bool = False) -> list[int]:
        """Soft-delete every live version of `subject` (or, with `permanent`, erase the
        soft-deleted ones); return the versions affected."""
        async with _store_errors(), write_transaction(self._engine) as conn:
            rows = await self._versions(conn, subject, deleted=True)
            live = [row.version for row in rows if not row.deleted]
            if permanent:
                if live:
                    raise RegistryResponseError.subject_not_soft_deleted(subject)
                await conn.execute(
                    versions_table.delete().where(versions_table.c.subject == subject)
                )
                await conn.execute(config_table.delete().where(config_table.c.subject == subject))
                return [row.version for row in rows]
            if not live:
                raise RegistryResponseError.subject_soft_deleted(subject)
            await conn.execute(
                versions_table.update()
                .where(versions_table.c.subject == subject)
                .values(deleted=True)
            )
            return live

    async def delete_version(
        self, subject: str, version: VersionRef, *, permanent: bool = False
    ) -> int:
        """Soft-delete one version (or, with `permanent`, erase a soft-deleted one)."""
        async with _store_errors(), write_transaction(self._engine) as conn:
            rows = await self._versions(conn, subject, deleted=True)
            row = self._pick(subject, rows, version)
            if permanent and not row.deleted:
                raise RegistryResponseError.version_not_soft_deleted(subject, row.version)
            if not permanent and row.deleted:
                raise RegistryResponseError.version_soft_deleted(subject, row.version)
            where = (versions_table.c.subject == subject) & (
                versions_table.c.version == row.version
            )
            if permanent:
                await conn.execute(versions_table.delete().where(where))
            else:
                await conn.execute(versions_table.update().where(where).values(deleted=True))
            return int(row.version)

    # --- compatibility -----------------------------------------------------------------

    async def test_compatibility(
        self, subject: str, schema: str, version: VersionRef | None = None
    ) -> list[str]:
        """Why `schema` would break `subject`'s level; [] if it would not.

        With `version` None it is checked against the live versions the level covers
        (a subject without versions accepts anything); otherwise against that one version.
        """
        _fingerprint(schema)  # validates
        async with _store_errors(), self._engine.connect() as conn:
            level = await self._effective_level(conn, subject)
            try:
                rows = list(await self._versions(conn, subject, deleted=False))
            except RegistryResponseError:
                if version is None:
                    return []
                raise
        if version is not None:
            rows = [self._pick(subject, rows, version)]
        return check(
            level,
            schema,
            [row.schema for row in rows],
            labels=[f"version {row.version}" for row in rows],
        )

    @overload
    async def get_level(self, subject: None = None) -> CompatibilityLevel: ...
    @overload
    async def get_level(self, subject: str) -> CompatibilityLevel | None: ...
    async def get_level(self, subject: str | None = None) -> CompatibilityLevel | None:
        """The global level, or `subject`'s own level (None if it has none)."""
        async with _store_errors(), self._engine.connect() as conn:
            if subject is None:
                return await self._global_level(conn)
            return await self._configured_level(conn, subject)

    async def effective_level(self, subject: str) -> CompatibilityLevel:
        """The level that applies to `subject`: its own, else the global one."""
        async with _store_errors(), self._engine.connect() as conn:
            return await self._effective_level(conn, subject)

    async def set_level(
        self, level: CompatibilityLevel | str, subject: str | None = None
    ) -> CompatibilityLevel:
        """Set the global level or `subject`'s own (42203 for an unknown level name)."""
        parsed = level if isinstance(level, CompatibilityLevel) else _level(level)
        if subject is not None:
            _check_subject(subject)
        key = _GLOBAL if subject is None else subject
        async with _store_errors(), write_transaction(self._engine) as conn:
            update = (
                config_table.update()
                .where(config_table.c.subject == key)
                .values(compatibility=parsed.value)
            )
            if (await conn.execute(update)).rowcount == 0:
                try:
                    async with conn.begin_nested():
                        await conn.execute(
                            config_table.insert().values(subject=key, compatibility=parsed.value)
                        )
                except IntegrityError:
                    # Another process created the row first: last writer wins, as with updates.
                    await conn.execute(update)
        return parsed

    async def delete_level(self, subject: str | None = None) -> CompatibilityLevel:
        """Drop `subject`'s own level (40408 if none) or reset the global one; return the old."""
        key = _GLOBAL if subject is None else subject
        async with _store_errors(), write_transaction(self._engine) as conn:
            old = await self._configured_level(conn, key)
            if old is None:
                if subject is not None:
                    raise RegistryResponseError.level_not_configured(subject)
                old = self._default_level
            await conn.execute(config_table.delete().where(config_table.c.subject == key))
        return old

    async def _configured_level(self, conn: AsyncConnection, key: str) -> CompatibilityLevel | None:
        value = await conn.scalar(
            sa.select(config_table.c.compatibility).where(config_table.c.subject == key)
        )
        return None if value is None else CompatibilityLevel(value)

    async def _global_level(self, conn: AsyncConnection) -> CompatibilityLevel:
        return await self._configured_level(conn, _GLOBAL) or self._default_level

    async def _effective_level(self, conn: AsyncConnection, subject: str) -> CompatibilityLevel:
        return await self._configured_level(conn, subject) or await self._global_level(conn)
