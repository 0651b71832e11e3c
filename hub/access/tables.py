"""The access-control tables of the runtime store: API keys, their grants, the audit log.

Times are milliseconds since the epoch (UTC), like the other runtime tables, so SQLite and
PostgreSQL store and compare them the same way.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import metadata, write_transaction

__all__ = ["PERMISSION_CHECK", "audit_log", "grants", "keys", "upgrade_grants"]

#: The permissions a grant row may hold (keep in step with hub.access.keys.PERMISSIONS).
PERMISSION_CHECK = "permission IN ('read', 'publish', 'registry:write')"

keys = sa.Table(
    "access_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    # SHA-256 of the secret half of the key, hex; the plaintext is never stored.
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("revoked_ms", sa.BigInteger),
    # Requests per minute; NULL means the hub's default.
    sa.Column("rate_per_minute", sa.Float),
)

grants = sa.Table(
    "access_grants",
    metadata,
    sa.Column(
        "key_id",
        sa.String(32),
        sa.ForeignKey(keys.c.key_id, ondelete="CASCADE"),
        primary_key=True,
    ),
    # An exact topic name or a glob such as ``kaga.*``.
    sa.Column("topic", sa.String(300), primary_key=True),
    sa.Column("permission", sa.String(16), primary_key=True),
    sa.Column("expires_ms", sa.BigInteger),
    sa.CheckConstraint(PERMISSION_CHECK, name="permission"),
)

audit_log = sa.Table(
    "access_audit",
    metadata,
    # Assigned by the appender (last + 1), not autoincrement: the chain needs no gaps, and a
    # duplicate sequence number from a racing writer fails on the primary key instead of forking.
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("topic", sa.String(300), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("amount", sa.BigInteger),
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("client", sa.String(100)),
    sa.Column("detail", sa.Text),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)


async def upgrade_grants(engine: AsyncEngine) -> None:
    """Widen the permission check of a grants table made before ``registry:write`` existed.

    `create_schema` creates missing tables but never alters one, so a store made by an
    older hub would refuse a registry grant. SQLite cannot alter a check constraint: the
    table is rebuilt (it is small, and nothing references it). Idempotent.
    """
    async with write_transaction(engine) as conn:
        if engine.dialect.name == "sqlite":
            ddl = await conn.scalar(
                sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
                {"name": grants.name},
            )
            if ddl is None or "registry:write" in ddl:
                return
            await conn.exec_driver_sql("ALTER TABLE access_grants RENAME TO access_grants_old")
            await conn.run_sync(grants.create)
            await conn.exec_driver_sql(
                "INSERT INTO access_grants (key_id, topic, permission, expires_ms) "
                "SELECT key_id, topic, permission, expires_ms FROM access_grants_old"
            )
            await conn.exec_driver_sql("DROP TABLE access_grants_old")
        elif engine.dialect.name == "postgresql":
            definition = await conn.scalar(
                sa.text(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conname = 'ck_access_grants_permission' "
                    "AND conrelid = to_regclass('access_grants')"
                )
            )
            if definition is None or "registry:write" in definition:
                return
            await conn.exec_driver_sql(
                "ALTER TABLE access_grants DROP CONSTRAINT ck_access_grants_permission, "
                f"ADD CONSTRAINT ck_access_grants_permission CHECK ({PERMISSION_CHECK})"
            )
