"""The access-control tables of the runtime store: API keys, their grants, the audit log.

Times are milliseconds since the epoch (UTC), like the other runtime tables, so SQLite and
PostgreSQL store and compare them the same way.
"""

from __future__ import annotations

import sqlalchemy as sa

from hub.db import metadata

__all__ = ["audit_log", "grants", "keys"]

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
    sa.CheckConstraint("permission IN ('read', 'publish')", name="permission"),
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
