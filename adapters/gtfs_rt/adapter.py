"""The GTFS-Realtime adapter: fetch the protobuf feed, normalise it off the event loop.

A full-dataset feed (the usual kind) is complete: a vehicle, trip update or alert it no
longer lists is retired. With several URLs (one per kind is usual) only a cycle that read
every URL in full knows the whole set, so a URL that answered 304 or sent an incremental
message holds retirement off until a cycle that did. Incremental feeds retire nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from adapters.base import Complete, CycleContext, Emit, MalformedFeedError, NotModified
from adapters.gtfs_rt.normalise import (
    ID_TYPES,
    MalformedRealtimeError,
    Normalised,
    Params,
    decode,
    is_full_dataset,
    normalise,
)

__all__ = ["GtfsRealtimeAdapter", "GtfsRealtimeOptions"]


def _parse_all(body: bytes, params: Params) -> tuple[list[Normalised], bool]:
    """The records, and whether the message is a full dataset."""
    message = decode(body)
    return list(normalise(message, params)), is_full_dataset(message)


class GtfsRealtimeOptions(BaseModel):
    """Options of a GTFS-Realtime feed (none needed so far: the URL says it all)."""

    model_config = ConfigDict(extra="forbid")


class GtfsRealtimeAdapter:
    """VehiclePositions, TripUpdates and Alerts from one GTFS-Realtime URL (any mix)."""

    name: ClassVar[str] = "gtfs-rt"
    Options: ClassVar[type[BaseModel]] = GtfsRealtimeOptions
    entities: ClassVar[tuple[str, ...]] = ("vehicle_positions", "trip_updates", "alerts")
    entity_schemas: ClassVar[dict[str, str]] = {
        "vehicle_positions": "tsunagu.mobility.VehiclePosition",
        "trip_updates": "tsunagu.mobility.TripUpdate",
        "alerts": "tsunagu.mobility.ServiceAlert",
    }
    reference_entities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: BaseModel) -> None:
        self.options = options

    async def cycle(self, ctx: CycleContext) -> AsyncIterator[Emit | Complete]:
        urls = [ctx.url] if ctx.url else list(ctx.urls.values())
        complete = True  # every URL read, and each a full dataset
        for url in urls:
            fetched = await ctx.fetch(url)
            if isinstance(fetched, NotModified):
                complete = False  # what it lists was not yielded: not seen this cycle
                continue
            params = Params(ctx.id, ctx.envelope, fetched.fetched_at_ms)
            body = fetched.read()
            try:
                # Decoding 100,000 entities takes a while: not on the event loop.
                records, full = await asyncio.to_thread(_parse_all, body, params)
            except MalformedRealtimeError as exc:
                raise MalformedFeedError(str(exc), url) from exc
            complete = complete and full
            for item in records:
                yield Emit(item.entity, item.record)
        # Full datasets list every vehicle in service, trip update and alert: one that is
        # gone ended. With several URLs, the set is all of them together: a URL of positions
        # says nothing about the alerts another one lists.
        if complete:
            for entity in self.entities:
                yield Complete(entity, ctx.id(ID_TYPES[entity], ""))
