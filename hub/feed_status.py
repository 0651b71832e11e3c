"""A feed's health as the ingest runtime records it and the gateway shows it.

Its own module below both: the ingest runtime writes it (through `FeedStateStore`, which
extends `FeedStatuses`) and the gateway's catalogue and status page read it, without the
gateway loading the ingest runtime (adapters, fetchers, the producer). The record is the
feeds' own, so the table is declared here and not in the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import metadata, upsert, write_transaction

__all__ = ["FeedStatus", "FeedStatuses"]

feed_status = sa.Table(
    "ingest_feed_status",
    metadata,
    sa.Column("feed", sa.String(200), primary_key=True),
    sa.Column("healthy", sa.Boolean, nullable=False),
    sa.Column("last_success_ms", sa.BigInteger),
    sa.Column("last_error_ms", sa.BigInteger),
    sa.Column("last_error", sa.Text),
    sa.Column("newest_observed_ms", sa.BigInteger),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, default=0),
)


@dataclass(frozen=True)
class FeedStatus:
    """A feed's health as last recorded."""

    feed: str
    healthy: bool
    last_success_ms: int | None
    last_error_ms: int | None
    last_error: str | None
    newest_observed_ms: int | None
    consecutive_failures: int


class FeedStatuses:
    """Every feed's recorded health in the runtime store (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def status(self, feed: str) -> FeedStatus | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(feed_status).where(feed_status.c.feed == feed))
            ).first()
        return FeedStatus(**row._asdict()) if row is not None else None

    async def all_statuses(self) -> list[FeedStatus]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(feed_status).order_by(feed_status.c.feed))).all()
        return [FeedStatus(**row._asdict()) for row in rows]

    async def save_status(self, status: FeedStatus) -> None:
        async with write_transaction(self.engine) as conn:
            await conn.execute(upsert(self.engine, feed_status, ["feed"]), [status.__dict__])
