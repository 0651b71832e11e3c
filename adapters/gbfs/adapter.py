"""The GBFS adapter: from the auto-discovery URL to stations, vehicles, types and alerts.

The feed's ``url`` is a ``gbfs.json`` (2.3: keyed by language; 3.0: one list) or a 3.0
``manifest.json`` listing several systems, each of which is followed to its newest
supported version. Every file is validated against the official JSON Schema of its
version; each file's ``ttl`` tells the scheduler when to come back. Files are fetched
with conditional GET, except that a changed ``station_status`` is joined with
``station_information`` even when that one did not change (and the other way round).
Each file is a system's whole current set: a station, vehicle, type or alert that a read
file no longer lists is retired (a file that answered 304 retires nothing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

from adapters.base import (
    Complete,
    CycleContext,
    Emit,
    Fetched,
    MalformedFeedError,
    NotModified,
)
from adapters.gbfs import normalise as n
from adapters.gbfs.validate import VERSIONS, validate

__all__ = ["GbfsAdapter", "GbfsOptions"]


class GbfsOptions(BaseModel):
    """Options of a GBFS feed."""

    model_config = ConfigDict(extra="forbid")

    language: str | None = Field(
        None,
        description="language of a 2.3 gbfs.json to follow, and of the primary name "
        "(default: the first the publisher lists)",
    )


#: Each entity read whole from files of the system (vehicles: 3.0's name, then 2.3's), in
#: the order they are fetched and yielded.
_WHOLE_SETS: tuple[
    tuple[str, tuple[str, ...], Callable[[n.Doc, n.Params], Iterator[n.Record]]], ...
] = (
    ("vehicles", ("vehicle_status", "free_bike_status"), n.vehicles),
    ("vehicle_types", ("vehicle_types",), n.vehicle_types),
    ("alerts", ("system_alerts",), n.alerts),
)


class GbfsAdapter:
    """One GBFS system (or every system of a 3.0 manifest)."""

    name: ClassVar[str] = "gbfs"
    Options: ClassVar[type[BaseModel]] = GbfsOptions
    entities: ClassVar[tuple[str, ...]] = ("stations", "vehicles", "vehicle_types", "alerts")
    entity_schemas: ClassVar[dict[str, str]] = {
        "stations": "tsunagu.mobility.SharedMobilityStation",
        "vehicles": "tsunagu.mobility.SharedVehicle",
        "vehicle_types": "tsunagu.mobility.VehicleType",
        "alerts": "tsunagu.mobility.ServiceAlert",
    }
    reference_entities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: BaseModel) -> None:
        assert isinstance(options, GbfsOptions)
        self.options = options

    async def cycle(self, ctx: CycleContext) -> AsyncIterator[Emit | Complete]:
        if ctx.url is None:
            raise MalformedFeedError("a GBFS feed needs url: (its gbfs.json or manifest.json)")
        root = await self._document(ctx, ctx.url, None, conditional=False)
        assert root is not None
        if "datasets" in root.get("data", {}):  # 3.0 manifest.json
            validate(root, "3.0", "manifest", ctx.url)
            ctx.suggest_ttl(root.get("ttl", 0))
            for system_id, url in _systems(root):
                async for emit in self._system(ctx, url, system_id):
                    yield emit
        else:
            async for emit in self._system(ctx, ctx.url, None, root):
                yield emit

    async def _system(
        self, ctx: CycleContext, url: str, system_id: str | None, doc: Any = None
    ) -> AsyncIterator[Emit | Complete]:
        files, version, p = await self._discover(ctx, url, system_id, doc)

        def every(entity: str) -> Complete:
            return Complete(entity, ctx.id(n.ID_TYPES[entity], p.system_id, ""))

        stations, complete = await self._stations(ctx, files, version, p)
        for record in stations:
            yield Emit("stations", record)
        if complete:
            yield every("stations")
        for entity, names, records in _WHOLE_SETS:
            complete = True
            for name in names:
                read = await self._file(ctx, files, name, version)
                if read is not None:
                    for record in records(read, p):
                        yield Emit(entity, record)
                # A file that answered 304 says nothing of what went (a rented bike leaves
                # free_bike_status): the set is complete only when every file was read.
                complete = complete and (read is not None or name not in files)
            if complete:
                yield every(entity)

    async def _discover(
        self, ctx: CycleContext, url: str, system_id: str | None, doc: Any
    ) -> tuple[dict[str, str], str, n.Params]:
        """The system's files, GBFS version and what its records need (its id, language)."""
        if doc is None:
            doc = await self._document(ctx, url, None, conditional=False)
        version = str(doc.get("version", ""))
        if version not in VERSIONS:
            raise MalformedFeedError(
                f"GBFS version {version or '(none)'} is not supported (only {', '.join(VERSIONS)})",
                url,
            )
        validate(doc, version, "gbfs", url)
        ctx.suggest_ttl(doc.get("ttl", 0))
        files, language = n.discovery(doc, self.options.language)
        language = self.options.language or language
        info = await self._file(ctx, files, "system_information", version, conditional=False)
        if info is not None:
            system_id = info["data"]["system_id"]
            if not language:
                language = (info["data"].get("languages") or [info["data"].get("language")])[0]
        if system_id is None:
            raise MalformedFeedError("no system_information.json to name the system", url)
        return files, version, n.Params(ctx.id, ctx.envelope, system_id, language or "", ctx.now_ms)

    async def _stations(
        self, ctx: CycleContext, files: dict[str, str], version: str, p: n.Params
    ) -> tuple[Iterator[dict[str, Any]], bool]:
        """The stations, and whether they are all of the system's current stations."""
        information = await self._file(ctx, files, "station_information", version)
        status = await self._file(ctx, files, "station_status", version)
        if information is None and status is None:
            # Both unchanged (nothing seen), or the system has no stations at all.
            return iter(()), "station_information" not in files and "station_status" not in files
        # One of the two changed: the join needs the other as well.
        if information is None:
            information = await self._file(
                ctx, files, "station_information", version, conditional=False
            )
        elif status is None and "station_status" in files:
            status = await self._file(ctx, files, "station_status", version, conditional=False)
        if information is None:
            ctx.note("station_status without station_information: stations skipped")
            return iter(()), False
        known = {s["station_id"] for s in information["data"]["stations"]}
        orphans = [
            s["station_id"]
            for s in (status or {}).get("data", {}).get("stations", [])
            if s["station_id"] not in known
        ]
        if orphans:
            ctx.note(f"station_status has {len(orphans)} station(s) not in station_information")
        return n.stations(information, status, p), True

    async def _file(
        self,
        ctx: CycleContext,
        files: dict[str, str],
        name: str,
        version: str,
        *,
        conditional: bool = True,
    ) -> Any:
        """The parsed, validated file ``name`` of the system; None when absent or unchanged."""
        url = files.get(name)
        if url is None:
            return None
        doc = await self._document(ctx, url, (version, name), conditional=conditional)
        if doc is not None:
            ctx.suggest_ttl(doc.get("ttl", 0))
        return doc

    @staticmethod
    async def _document(
        ctx: CycleContext, url: str, schema: tuple[str, str] | None, *, conditional: bool
    ) -> Any:
        fetched = await ctx.fetch(url, conditional=conditional)
        if isinstance(fetched, NotModified):
            return None
        return _parse(fetched, schema)


def _parse(fetched: Fetched, schema: tuple[str, str] | None) -> Any:
    try:
        doc = orjson.loads(fetched.read())
    except orjson.JSONDecodeError as exc:
        raise MalformedFeedError(f"not JSON ({exc})", fetched.url) from exc
    if not isinstance(doc, dict):
        raise MalformedFeedError("not a GBFS document (a JSON object is expected)", fetched.url)
    if schema is not None:
        validate(doc, *schema, fetched.url)
    return doc


def _systems(manifest: Any) -> Iterator[tuple[str, str]]:
    """(system_id, gbfs.json URL of the newest supported version) per manifest dataset."""
    for dataset in manifest["data"]["datasets"]:
        supported = [v for v in dataset["versions"] if v["version"] in VERSIONS]
        if supported:
            newest = max(supported, key=lambda v: tuple(int(x) for x in v["version"].split(".")))
            yield dataset["system_id"], newest["url"]
