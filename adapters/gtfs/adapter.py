"""The GTFS static adapter (GTFS-JP included): download, check the whole feed, publish.

The zip is streamed to disk by the fetcher, checked in full in a worker thread (a
broken feed publishes nothing: the error names file, line and problem), then read a
second time to produce stops, routes, trips and stop times, batch by batch, so memory
does not grow with the feed. Reading twice costs CPU but never holds a table in memory,
and a national feed's stop_times do not fit in the memory a hub should need.

A feed is the whole timetable: once every zip of the feed has been read, each table it
had is complete, and stops, trips... the new timetable dropped are retired.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from adapters.base import Complete, CycleContext, Emit, Fetched, NotModified
from adapters.gtfs.check import FeedIndex, check_feed
from adapters.gtfs.normalise import ID_TYPES, Params, records
from adapters.gtfs.reader import ZipLimits, open_zip
from adapters.threaded import batches_in_thread

__all__ = ["GtfsAdapter", "GtfsOptions"]


class GtfsOptions(BaseModel):
    """Options of a GTFS / GTFS-JP feed."""

    model_config = ConfigDict(extra="forbid")

    encoding: Literal["auto", "utf-8", "cp932"] = Field(
        "auto", description="auto: UTF-8 (with or without BOM), else CP932 (Shift_JIS)"
    )
    partial: bool = Field(
        False, description="publish a feed that has no stop_times.txt instead of rejecting it"
    )
    max_uncompressed_mb: int = Field(
        8192, ge=1, le=1024 * 1024, strict=True, description="zip-bomb limit, whole archive"
    )
    max_compression_ratio: float = Field(
        100.0, gt=1, le=100_000, allow_inf_nan=False, description="zip-bomb limit, per file"
    )


class GtfsAdapter:
    """Stops, routes, trips and stop times of one GTFS zip."""

    name: ClassVar[str] = "gtfs"
    Options: ClassVar[type[BaseModel]] = GtfsOptions
    entities: ClassVar[tuple[str, ...]] = ("stops", "routes", "trips", "stop_times")
    entity_schemas: ClassVar[dict[str, str]] = {
        "stops": "tsunagu.mobility.Stop",
        "routes": "tsunagu.mobility.Route",
        "trips": "tsunagu.mobility.Trip",
        "stop_times": "tsunagu.mobility.StopTime",
    }
    # A timetable is reference data: republishing a stop because the feed's file date
    # moved would resend a national timetable every day.
    reference_entities: ClassVar[frozenset[str]] = frozenset(entities)

    def __init__(self, options: BaseModel) -> None:
        assert isinstance(options, GtfsOptions)
        self.options = options
        self.limits = ZipLimits(
            max_total_bytes=options.max_uncompressed_mb << 20,
            max_ratio=options.max_compression_ratio,
        )

    async def cycle(self, ctx: CycleContext) -> AsyncIterator[Emit | Complete]:
        urls = [ctx.url] if ctx.url else list(ctx.urls.values())
        read_all = True  # a zip that answered 304 was not re-read: its entities were not seen
        tables: set[str] = set()
        for url in urls:
            fetched = await ctx.fetch(url, to_file=True)
            if isinstance(fetched, NotModified):
                read_all = False
                continue
            index = await asyncio.to_thread(self._check, fetched, ctx)
            tables.update(index.rows)
            for note in index.notes:
                ctx.note(note)
            observed = fetched.last_modified_ms or fetched.fetched_at_ms
            params = Params(ctx.id, ctx.envelope(observed), ctx.report_progress)
            produce = functools.partial(records, index, params)
            async for batch in batches_in_thread(produce):
                for entity, record in batch:
                    yield Emit(entity, record)
        if read_all:
            for entity in self.entities:
                if f"{entity}.txt" in tables:
                    yield Complete(entity, ctx.id(ID_TYPES[entity], ""))

    def _check(self, fetched: Fetched, ctx: CycleContext) -> FeedIndex:
        import io  # noqa: PLC0415 - only for feeds small enough to stay in memory

        source = fetched.path if fetched.path is not None else io.BytesIO(fetched.body)
        archive = open_zip(source, fetched.url, self.limits)
        return check_feed(
            archive,
            encoding=self.options.encoding,
            partial=self.options.partial,
            progress=ctx.report_progress,
        )
