"""The adapter contract: what an adapter is given, what it yields, how it fails.

The runner (``hub.ingest``) builds a ``CycleContext`` per polling cycle. The adapter
asks it for URLs (``fetch`` does conditional GET, time-outs, size limits and retries,
and answers ``NotModified`` when the source says nothing changed), parses the bytes
with pure functions and yields ``Emit(entity, record)``: ``entity`` names the kind of
record (``"stops"``, ``"vehicle_positions"``...), which the feed's ``topic``/``topics``
maps to a Kafka topic; ``record`` is a dict in the form of the topic's Avro schema
(timestamps as int milliseconds since the epoch, optional values as None).

An adapter that has just yielded the whole current set of some entity (a timetable's
stops, a bike system's free vehicles) says so with ``Complete(entity, prefix)``: the runner
then retires, with a tombstone, every entity it published earlier under that id prefix
that this cycle did not yield, so a compacted topic does not keep a bike that was rented
or a trip the new timetable dropped. An adapter that read only part of the set (a file
answered 304, an incremental feed) does not say so, and nothing is retired.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import quote

from pydantic import BaseModel

from adapters.errors import Blame, TsunaguError

__all__ = [
    "Adapter",
    "AdapterError",
    "Complete",
    "CycleContext",
    "Emit",
    "FeedUnavailableError",
    "Fetched",
    "MalformedFeedError",
    "NotModified",
    "SourceFetcher",
    "urn",
]


class AdapterError(TsunaguError):
    """Base of what an adapter raises; the runner marks the feed unhealthy and goes on (the
    feed's content is at fault unless a subclass says otherwise)."""

    kind = "adapter"
    blame: ClassVar[Blame] = "input"


class FeedUnavailableError(AdapterError):
    """The source could not be fetched (network, HTTP status, too large).

    ``retriable`` says whether fetching again at once may help (a timeout, a 503, with the
    ``retry_after`` seconds the source asked for) or not before the next cycle (a 404, a
    body over the size limit)."""

    kind = "fetch"
    blame = "dependency"

    def __init__(
        self, message: str, *, retriable: bool = False, retry_after: float | None = None
    ) -> None:
        self.retriable = retriable
        self.retry_after = retry_after
        super().__init__(message)


class MalformedFeedError(AdapterError):
    """The source answered with something that cannot be parsed as a whole feed.

    ``where`` locates the problem for people (e.g. ``stop_times.txt:1234``). Nothing of
    the cycle is published when a whole-feed check fails (a half-published timetable
    is worse than yesterday's).
    """

    kind = "parse"

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Fetched:
    """A body the source sent (in memory, or in a file for large downloads)."""

    url: str
    fetched_at_ms: int
    body: bytes = b""
    path: Path | None = None
    content_type: str | None = None
    last_modified_ms: int | None = None

    def read(self) -> bytes:
        """The whole body (reads the file when the body was downloaded to disk)."""
        return self.path.read_bytes() if self.path is not None else self.body


@dataclass(frozen=True)
class NotModified:
    """The source answered 304 (or the same content hash): nothing to parse."""

    url: str


# Not frozen: one is made per record, and a frozen dataclass's __init__ costs 2.5 times as
# much (it sets each field through object.__setattr__).
@dataclass(slots=True)
class Emit:
    """One canonical record for the topic the feed maps ``entity`` to."""

    entity: str
    record: dict[str, Any]


@dataclass(frozen=True)
class Complete:
    """Every current ``entity`` whose global id starts with ``prefix`` was yielded this
    cycle; the ones published before and not yielded now have gone from the source."""

    entity: str
    prefix: str = ""


class SourceFetcher(Protocol):
    """What fetches a feed's sources for its adapter (the hub's conditional-GET fetcher);
    declared here so adapters need not import the hub."""

    async def fetch(
        self, url: str, *, to_file: bool = False, conditional: bool = True
    ) -> Fetched | NotModified:
        """``url``'s body, or NotModified when the source says (or its hash shows) that
        it has not changed since the last successful cycle."""
        ...


def urn(entity_type: str, namespace: str, *local: str) -> str:
    """An NGSI-LD style global id: ``urn:ngsi-ld:<Type>:<namespace>:<local id>``.

    Parts of the local id are joined with ``:``; characters outside the URN-safe set
    are percent-encoded so any source id yields a valid, stable URN.
    """
    if len(local) == 1:  # most ids: no generator and join for them
        part = local[0]
        encoded = part if _URN_SAFE.fullmatch(part) else quote(part, safe=_URN_SAFE_PUNCTUATION)
    else:
        encoded = ":".join(
            part if _URN_SAFE.fullmatch(part) else quote(part, safe=_URN_SAFE_PUNCTUATION)
            for part in local
        )
    return f"urn:ngsi-ld:{entity_type}:{namespace}:{encoded}"


# Ids that need no escaping (nearly all) skip ``quote``, which costs microseconds per call:
# a national timetable makes tens of millions of ids.
_URN_SAFE_PUNCTUATION = "-._~!$&'()*+,;=@"
_URN_SAFE = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=@]*")


@dataclass
class CycleContext:
    """What one polling cycle of one feed offers its adapter."""

    feed_id: str
    area: str
    id_namespace: str
    timezone: str
    url: str | None
    urls: Mapping[str, str]
    now_ms: int
    fetcher: SourceFetcher
    ttl_hint_s: float | None = None
    notes: list[str] = field(default_factory=list)
    # Called as progress(stage, done, total) by long imports; the CLI draws a bar from it.
    progress: Callable[[str, int, int | None], None] | None = None

    async def fetch(
        self, url: str, *, to_file: bool = False, conditional: bool = True
    ) -> Fetched | NotModified:
        """Fetch ``url`` (conditional GET); ``to_file`` streams a large body to disk;
        ``conditional=False`` always gets the body (for joining an unchanged file with a
        changed one)."""
        return await self.fetcher.fetch(url, to_file=to_file, conditional=conditional)

    def suggest_ttl(self, seconds: float) -> None:
        """Tell the scheduler when the source says its data goes stale (GBFS ``ttl``); a feed
        with ``schedule: {ttl: source}`` runs next after the shortest TTL told, within its
        bounds (the hub's ``Feed.next_run_in_s`` decides)."""
        self.ttl_hint_s = seconds if self.ttl_hint_s is None else min(self.ttl_hint_s, seconds)

    def report_progress(self, stage: str, done: int, total: int | None = None) -> None:
        """Say how far a long stage (e.g. ``"stop_times.txt"``) has come, in rows."""
        if self.progress is not None:
            self.progress(stage, done, total)

    def note(self, message: str) -> None:
        """Record something worth telling the operator that is not an error (once per cycle)."""
        self.notes.append(message)

    def id(self, entity_type: str, *local: str) -> str:
        """A global id in this feed's area namespace."""
        return urn(entity_type, self.id_namespace, *local)

    def envelope(self, observed_at_ms: int) -> dict[str, Any]:
        """The five envelope fields every canonical record starts with, less its id."""
        return {
            "area": self.area,
            "source_feed": self.feed_id,
            "observed_at": observed_at_ms,
            "ingested_at": self.now_ms,
        }


class Adapter(Protocol):
    """A source family. ``Options`` validates the feed's ``options:`` (extra keys are errors)."""

    name: ClassVar[str]
    Options: ClassVar[type[BaseModel]]
    entities: ClassVar[tuple[str, ...]]  # what ``Emit.entity`` may be
    # entity -> full name of the canonical schema its records follow; lets a feed with a
    # single ``topic:`` take just the entities that fit that topic.
    entity_schemas: ClassVar[Mapping[str, str]]
    # Entities that are reference data (a timetable's stops), for which a new
    # ``observed_at`` alone is not a change worth republishing; empty for most adapters.
    # (An installed adapter written before it gets an empty set from adapters.registry.)
    reference_entities: ClassVar[frozenset[str]]

    def __init__(self, options: BaseModel) -> None: ...

    def cycle(self, ctx: CycleContext) -> AsyncIterator[Emit | Complete]:
        """Fetch, parse and yield this cycle's records (an async generator), and
        ``Complete`` for each set of entities it yielded in full."""
        ...
