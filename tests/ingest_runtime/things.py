"""A minimal adapter for testing the runtime: a JSON array of {"id", "name", "value", "t"}."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

import orjson
from pydantic import BaseModel, ConfigDict

from adapters.base import CycleContext, Emit, MalformedFeedError, NotModified


class ThingsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: float = 1.0


class ThingsAdapter:
    name: ClassVar[str] = "test-things"
    Options: ClassVar[type[BaseModel]] = ThingsOptions
    entities: ClassVar[tuple[str, ...]] = ("things",)
    entity_schemas: ClassVar[dict[str, str]] = {"things": "test.ingest.Thing"}
    reference_entities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: BaseModel) -> None:
        assert isinstance(options, ThingsOptions)
        self.options = options

    async def cycle(self, ctx: CycleContext) -> AsyncIterator[Emit]:
        assert ctx.url is not None
        fetched = await ctx.fetch(ctx.url)
        if isinstance(fetched, NotModified):
            return
        try:
            items = orjson.loads(fetched.read())
        except orjson.JSONDecodeError as exc:
            raise MalformedFeedError(f"not JSON: {exc}", "body") from exc
        if not isinstance(items, list):
            raise MalformedFeedError("expected a JSON array", "body")
        for item in items:
            value = item.get("value")
            yield Emit(
                "things",
                {
                    "id": ctx.id("Thing", str(item.get("id"))),
                    **ctx.envelope(int(item.get("t", fetched.fetched_at_ms))),
                    "name": item.get("name"),
                    "value": value * self.options.scale if isinstance(value, float) else value,
                },
            )
