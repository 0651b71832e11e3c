"""A small adapter for these tests: a JSON array of {"id", "lat", "lon", "t"} positions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

import orjson
from pydantic import BaseModel, ConfigDict

from adapters.base import CycleContext, Emit, NotModified


class PositionsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PositionsAdapter:
    name: ClassVar[str] = "test-docs-positions"
    Options: ClassVar[type[BaseModel]] = PositionsOptions
    entities: ClassVar[tuple[str, ...]] = ("positions",)
    entity_schemas: ClassVar[dict[str, str]] = {"positions": "test.docs.Position"}
    reference_entities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: BaseModel) -> None:
        self.options = options

    async def cycle(self, ctx: CycleContext) -> AsyncIterator[Emit]:
        assert ctx.url is not None
        fetched = await ctx.fetch(ctx.url)
        if isinstance(fetched, NotModified):
            return
        for item in orjson.loads(fetched.read()):
            yield Emit(
                "positions",
                {
                    "id": ctx.id("Vehicle", str(item["id"])),
                    **ctx.envelope(int(item["t"])),
                    "route_id": None,
                    "latitude": float(item["lat"]),
                    "longitude": float(item["lon"]),
                },
            )
