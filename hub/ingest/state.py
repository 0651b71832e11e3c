"""Per-feed state in the runtime store, so a restart neither re-downloads nor re-publishes.

- ``ingest_feed_status``: health, last success, last error, newest data seen (declared in
  `hub.feed_status`, which the gateway reads without loading the ingest runtime).
- ``ingest_sources``: per URL of a feed, the HTTP validators (ETag, Last-Modified) and the
  body's content hash, for conditional GET and for sources that ignore it.
- ``ingest_entity_state``: per feed and entity id, the topic and content hash it was last
  published with, so an unchanged entity is not produced again, and the cycle that last
  saw it, so one that left a complete set is retired with a tombstone. (It replaces the
  ``ingest_entities`` table of earlier versions, which had neither: after an upgrade
  each entity is published once more.)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from hub.db import metadata, upsert, write_transaction
from hub.feed_status import FeedStatuses

__all__ = ["FeedStateStore", "SourceValidators"]

sources = sa.Table(
    "ingest_sources",
    metadata,
    sa.Column("feed", sa.String(200), primary_key=True),
    sa.Column("url", sa.String(2000), primary_key=True),
    sa.Column("etag", sa.String(500)),
    sa.Column("last_modified", sa.String(100)),
    sa.Column("content_hash", sa.String(64)),
)

entities = sa.Table(
    "ingest_entity_state",
    metadata,
    sa.Column("feed", sa.String(200), primary_key=True),
    sa.Column("entity_id", sa.String(500), primary_key=True),
    sa.Column("topic", sa.String(249), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("seen_ms", sa.BigInteger, nullable=False),  # the cycle that last saw it
    # SQLite: the rows live in the primary key's B-tree instead of a table plus an index
    # that repeats every id (a quarter faster to fill, two thirds of the size).
    sqlite_with_rowid=False,
)


@dataclass(frozen=True)
class SourceValidators:
    """What the last successful fetch of a URL answered with."""

    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None


# Ids per IN (...) query: well under every database's limit on bound parameters.
_IN_CHUNK = 500


@functools.cache
def _sqlite_lookup(count: int) -> str:
    """The SELECT of the stored hashes of ``count`` ids of a feed, as SQLite's driver takes
    it: parameters ``(feed, *ids)``."""
    statement = sa.select(entities.c.entity_id, entities.c.content_hash).where(
        entities.c.feed == sa.bindparam("feed"),
        entities.c.entity_id.in_([sa.bindparam(f"id{i}") for i in range(count)]),
    )
    return str(statement.compile(dialect=sqlite.dialect()))


@functools.cache
def _sqlite_mark_seen(count: int) -> str:
    """The UPDATE stamping ``count`` ids of a feed with a cycle, as SQLite's driver takes it:
    parameters ``(seen_ms, feed, *ids)``."""
    statement = (
        sa.update(entities)
        .where(
            entities.c.feed == sa.bindparam("feed"),
            entities.c.entity_id.in_([sa.bindparam(f"id{i}") for i in range(count)]),
        )
        .values(seen_ms=sa.bindparam("seen"))
    )
    return str(statement.compile(dialect=sqlite.dialect()))


class FeedHashes:
    """One feed's content hashes in the store (``hub.publish.ContentHashes``), with the most
    recent ones cached in memory so a feed that repeats itself costs no reads.

    The cache is bounded (``cache_size`` entries, about 240 bytes each); a feed larger than
    that, such as a national timetable, reads the rest from the store batch by batch.
    150,000 (36 MB at most) holds the largest realtime feeds, polled every few seconds,
    whole: 100,000 vehicles of a national feed. With 50,000 such a feed read half its
    hashes from the store on every cycle. A feed that outgrows the cache stops using it:
    each cycle reads the feed from start to end, so a cache holding a part of it would
    only ever hold what the next cycle reaches last, after evicting it. Feeds of reference
    data (timetables) use no cache at all (``hashes_of``).
    """

    def __init__(self, store: FeedStateStore, feed: str, cache_size: int = 150_000) -> None:
        self.store = store
        self.feed = feed
        self.cache_size = cache_size
        self.cycle_ms = 0  # the cycle running now: what "seen" is stamped with
        self._cache: dict[str, str] = {}
        # True while the cache holds every hash the store has for the feed (the store had
        # none when this process started, and nothing has been evicted): no reads needed.
        self._complete: bool | None = None
        self._caching = True  # until the feed outgrows the cache

    async def known(self, keys: Sequence[str]) -> Mapping[str, str]:
        if not self._caching:
            return await self.store.known_hashes(self.feed, keys)
        found = {k: self._cache[k] for k in keys if k in self._cache}
        missing = [k for k in keys if k not in found]
        if not missing:
            return found
        if self._complete is None:
            self._complete = not await self.store.has_entity_hashes(self.feed)
        if not self._complete:
            found.update(await self.store.known_hashes(self.feed, missing))
        return found

    def begin_cycle(self, cycle_ms: int) -> None:
        self.cycle_ms = cycle_ms

    async def remember(self, topic: str, hashes: Mapping[str, str]) -> None:
        await self.store.save_entity_hashes(self.feed, topic, hashes, self.cycle_ms)
        if not self._caching:
            return
        if len(self._cache) + len(hashes) > self.cache_size:
            self._cache.clear()  # bounded memory: the store still has everything
            self._complete = False
            self._caching = False
            return
        self._cache.update(hashes)

    async def seen(self, keys: Sequence[str]) -> None:
        await self.store.mark_seen(self.feed, keys, self.cycle_ms)

    async def unseen(self, topic: str, prefix: str, after: str, limit: int) -> list[str]:
        return await self.store.unseen_entities(
            self.feed, topic, prefix, self.cycle_ms, after=after, limit=limit
        )

    async def forget(self, keys: Sequence[str]) -> None:
        await self.store.forget_entities(self.feed, keys)
        for key in keys:
            self._cache.pop(key, None)


class FeedStateStore(FeedStatuses):
    """Reads and writes the ingest tables (SQLite or PostgreSQL); a feed's health is
    kept through `FeedStatuses`, the view the gateway reads too."""

    async def validators(self, feed: str, url: str) -> SourceValidators:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        sources.c.etag, sources.c.last_modified, sources.c.content_hash
                    ).where(sources.c.feed == feed, sources.c.url == url)
                )
            ).first()
        return SourceValidators(*row) if row is not None else SourceValidators()

    async def save_validators(self, feed: str, url: str, validators: SourceValidators) -> None:
        async with write_transaction(self.engine) as conn:
            await conn.execute(
                upsert(self.engine, sources, ["feed", "url"]),
                [{"feed": feed, "url": url, **validators.__dict__}],
            )

    async def forget_validators(self, feed: str) -> None:
        """Drop the feed's conditional-GET validators and body hashes, so its next fetch
        reads every source in full."""
        async with write_transaction(self.engine) as conn:
            await conn.execute(sa.delete(sources).where(sources.c.feed == feed))

    async def forget_topic(self, feed: str, topic: str) -> int:
        """Drop every entity the feed published to ``topic`` (the cluster no longer holds
        them); the number dropped."""
        async with write_transaction(self.engine) as conn:
            result = await conn.execute(
                sa.delete(entities).where(entities.c.feed == feed, entities.c.topic == topic)
            )
        return int(result.rowcount or 0)

    async def has_entity_hashes(self, feed: str) -> bool:
        """True when the feed has published anything (so lookups are worth making)."""
        async with self.engine.connect() as conn:
            query = sa.select(entities.c.entity_id).where(entities.c.feed == feed).limit(1)
            return (await conn.execute(query)).first() is not None

    async def known_hashes(self, feed: str, ids: Sequence[str]) -> dict[str, str]:
        """The stored content hashes of those of ``ids`` the feed has published."""
        found: dict[str, str] = {}
        async with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                # The driver's own statement, as for saving: SQLAlchemy compiling an IN of
                # 500 ids cost several times what SQLite took to look them up.
                for start in range(0, len(ids), _IN_CHUNK):
                    chunk = ids[start : start + _IN_CHUNK]
                    result = await conn.exec_driver_sql(_sqlite_lookup(len(chunk)), (feed, *chunk))
                    found.update(cast(list[tuple[str, str]], result.all()))
                return found
            for start in range(0, len(ids), _IN_CHUNK):
                query = sa.select(entities.c.entity_id, entities.c.content_hash).where(
                    entities.c.feed == feed,
                    entities.c.entity_id.in_(ids[start : start + _IN_CHUNK]),
                )
                found.update((row[0], row[1]) for row in await conn.execute(query))
        return found

    def hashes_of(self, feed: str, *, cached: bool = True) -> FeedHashes:
        """The feed's content hashes, as the writer asks for them; ``cached=False`` for a
        feed whose hashes are not worth memory between its cycles."""
        return FeedHashes(self, feed) if cached else FeedHashes(self, feed, cache_size=0)

    async def save_entity_hashes(
        self, feed: str, topic: str, changed: Mapping[str, str], seen_ms: int
    ) -> None:
        """Record what was just published to ``topic`` (only the entries that changed)."""
        if not changed:
            return
        statement = upsert(self.engine, entities, ["feed", "entity_id"])
        async with write_transaction(self.engine) as conn:
            if self.engine.dialect.name == "sqlite":
                # The embedded store: the statement runs as the driver's own executemany,
                # because building SQLAlchemy parameter sets row by row cost
                # more than SQLite did on imports of millions of stop times. (Other databases
                # keep the generic path, which also honours a schema translation.)
                sql = statement.compile(dialect=self.engine.dialect).string
                rows = [(feed, k, topic, v, seen_ms) for k, v in changed.items()]
                for start in range(0, len(rows), 5_000):
                    await conn.exec_driver_sql(sql, rows[start : start + 5_000])
                return
            params = [
                {
                    "feed": feed,
                    "entity_id": k,
                    "topic": topic,
                    "content_hash": v,
                    "seen_ms": seen_ms,
                }
                for k, v in changed.items()
            ]
            for start in range(0, len(params), 5_000):
                await conn.execute(statement, params[start : start + 5_000])

    async def mark_seen(self, feed: str, ids: Sequence[str], seen_ms: int) -> None:
        """Stamp entities that were in the source again, unchanged, with this cycle."""
        async with write_transaction(self.engine) as conn:
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                # One statement per 500 ids: on SQLite less than half the time of an
                # executemany of one UPDATE per id (2 against 4.7 s per million).
                if self.engine.dialect.name == "sqlite":
                    await conn.exec_driver_sql(
                        _sqlite_mark_seen(len(chunk)), (seen_ms, feed, *chunk)
                    )
                else:
                    await conn.execute(
                        sa.update(entities)
                        .where(entities.c.feed == feed, entities.c.entity_id.in_(chunk))
                        .values(seen_ms=seen_ms)
                    )

    async def unseen_entities(
        self, feed: str, topic: str, prefix: str, seen_ms: int, *, after: str, limit: int
    ) -> list[str]:
        """Up to ``limit`` ids of ``topic`` starting with ``prefix``, after ``after`` in id
        order, that the cycle stamped ``seen_ms`` did not see (walked in primary-key order,
        so retiring a million entities reads the table once)."""
        query = (
            sa.select(entities.c.entity_id)
            .where(
                entities.c.feed == feed,
                entities.c.entity_id > after,
                entities.c.topic == topic,
                entities.c.seen_ms != seen_ms,
            )
            .order_by(entities.c.entity_id)
            .limit(limit)
        )
        if prefix:
            query = query.where(entities.c.entity_id.startswith(prefix, autoescape=True))
            if self.engine.dialect.name == "sqlite":
                # SQLite orders text by code point, so the ids under a prefix are one range of
                # the primary key, which it seeks; with LIKE alone it reads every row of the
                # feed (five million for a national timetable) for each entity retired.
                end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
                query = query.where(entities.c.entity_id >= prefix, entities.c.entity_id < end)
        async with self.engine.connect() as conn:
            return [row[0] for row in await conn.execute(query)]

    async def forget_entities(self, feed: str, ids: Sequence[str]) -> None:
        """Drop entities that were retired (their tombstones are acknowledged)."""
        async with write_transaction(self.engine) as conn:
            for start in range(0, len(ids), _IN_CHUNK):
                await conn.execute(
                    sa.delete(entities).where(
                        entities.c.feed == feed,
                        entities.c.entity_id.in_(ids[start : start + _IN_CHUNK]),
                    )
                )
