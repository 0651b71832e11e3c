"""One feed, one cycle at a time: fetch and parse through the adapter, write to topics, record
state and health; and the loop that repeats it on the feed's schedule.

A cycle that fails (network, HTTP error, garbage bytes, Kafka down) marks the feed
unhealthy and is logged once when the feed starts failing and once when it recovers;
it never stops other feeds or the process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.base import (
    Adapter,
    AdapterError,
    Complete,
    CycleContext,
    Emit,
)
from hub.config import Feed
from hub.errors import TsunaguError
from hub.feed_status import FeedStatus
from hub.headers import Provenance
from hub.ingest.fetch import Fetcher
from hub.ingest.state import FeedStateStore
from hub.metrics import feeds as metrics
from hub.publish import TopicWriter, WriteResult

__all__ = ["CycleSummary", "FeedRunner", "FeedSpec"]

log = logging.getLogger(__name__)

_FLUSH_EVERY = 5_000
_WRITES_IN_FLIGHT = 2


@dataclass(frozen=True)
class FeedSpec:
    """A feed of the deployment with what its records need from its area."""

    feed_id: str
    feed: Feed
    area: str
    id_namespace: str
    timezone: str


@dataclass
class CycleSummary:
    """What one cycle did; ``tsunagu ingest --once`` prints it as one JSON line."""

    feed: str
    outcome: str = "ok"  # ok, not_modified, error
    produced: int = 0
    unchanged: int = 0
    dead_letter: int = 0
    retired: int = 0
    errors: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "feed": self.feed,
            "outcome": self.outcome,
            "produced": self.produced,
            "unchanged": self.unchanged,
            "dead_letter": self.dead_letter,
            "retired": self.retired,
            "errors": self.errors,
            "duration_s": round(self.duration_s, 3),
            "notes": self.notes,
        }


class FeedRunner:
    """Runs the cycles of one feed."""

    def __init__(
        self,
        spec: FeedSpec,
        *,
        adapter: Adapter,
        writers: Mapping[str, TopicWriter],
        fetcher: Fetcher,
        store: FeedStateStore,
        clock: Callable[[], float] = time.time,
        progress: Callable[[str, int, int | None], None] | None = None,
    ) -> None:
        self.spec = spec
        self.feed_id = spec.feed_id
        self.feed = spec.feed
        self.adapter = adapter
        self.writers = writers  # entity -> writer of its topic
        self.fetcher = fetcher
        self.store = store
        self.clock = clock
        self.progress = progress
        self.status: FeedStatus | None = None
        self.ttl_hint_s: float | None = None

    async def load_status(self) -> None:
        """Read the feed's recorded health (so a restart logs transitions correctly)."""
        self.status = await self.store.status(self.feed_id)
        if self.status is not None and self.status.newest_observed_ms is not None:
            metrics.NEWEST_DATA.labels(self.feed_id).set(self.status.newest_observed_ms / 1000)
        metrics.FRESHNESS.labels(self.feed_id).set_function(self._data_age)

    def _data_age(self) -> float:
        newest = self.status.newest_observed_ms if self.status else None
        return float("nan") if newest is None else max(0.0, self.clock() - newest / 1000)

    async def run_cycle(self) -> CycleSummary:
        """Fetch, parse, write; never raises for a feed problem (the summary says what failed)."""
        started = time.perf_counter()
        now_ms = int(self.clock() * 1000)
        summary = CycleSummary(self.feed_id)
        ctx = CycleContext(
            feed_id=self.feed_id,
            area=self.spec.area,
            id_namespace=self.spec.id_namespace,
            timezone=self.spec.timezone,
            url=self.feed.url,
            urls=dict(self.feed.urls or {}),
            now_ms=now_ms,
            fetcher=self.fetcher,
            progress=self.progress,
        )
        origin = Provenance(self.feed_id, self.spec.area, now_ms)
        newest_ms: int | None = None
        self.fetcher.bodies_fetched = 0
        results: dict[str, WriteResult] = {}
        writes = _Writes(origin, results)
        for each in self.writers.values():
            if each.hashes is not None:
                each.hashes.begin_cycle(now_ms)
        complete: list[Complete] = []
        try:
            buffers: dict[str, list[dict[str, Any]]] = {}
            async for emit in self.adapter.cycle(ctx):
                if isinstance(emit, Complete):
                    complete.append(emit)
                    continue
                writer = self._writer_for(emit, summary)
                if writer is None:
                    continue
                observed = emit.record.get("observed_at")
                if isinstance(observed, int) and (newest_ms is None or observed > newest_ms):
                    newest_ms = observed
                buffer = buffers.setdefault(emit.entity, [])
                buffer.append(emit.record)
                if len(buffer) >= _FLUSH_EVERY:
                    await writes.start(writer, buffer)
                    buffers[emit.entity] = []
            for entity, buffer in buffers.items():
                if buffer:
                    await writes.start(self.writers[entity], buffer)
            await writes.finish()
            await self._retire(complete, origin, results)
            await self.fetcher.commit()
        except Exception as exc:
            await writes.cancel()
            # Adapters' errors are TsunaguErrors too: only what nobody raised on purpose
            # (a bug) is logged with its traceback.
            if not isinstance(exc, TsunaguError | OSError):
                log.exception("feed %s: unexpected error", self.feed_id, exc_info=exc)
            self.fetcher.discard()
            return await self._failed(summary, exc, started)
        finally:
            self.fetcher.cleanup()
        self._count(summary, results)
        summary.notes += ctx.notes
        self.ttl_hint_s = ctx.ttl_hint_s
        summary.duration_s = time.perf_counter() - started
        await self._succeeded(summary, newest_ms)
        return summary

    def _count(self, summary: CycleSummary, results: dict[str, WriteResult]) -> None:
        """The cycle's counts into its summary and the feed's metrics."""
        total = WriteResult()
        for topic, result in results.items():
            total.add(result)
            for outcome, count in (
                ("produced", result.produced),
                ("unchanged", result.unchanged),
                ("dead_letter", result.dead_lettered),
                ("retired", result.retired),
            ):
                if count:
                    metrics.RECORDS.labels(self.feed_id, topic, outcome).inc(count)
        summary.produced, summary.unchanged = total.produced, total.unchanged
        summary.dead_letter, summary.errors = total.dead_lettered, total.errors
        summary.retired = total.retired
        summary.outcome = (
            "ok"
            if self.fetcher.bodies_fetched or total.produced or total.retired
            else "not_modified"
        )

    async def _retire(
        self, complete: list[Complete], origin: Provenance, results: dict[str, WriteResult]
    ) -> None:
        """Tombstones for what complete sets no longer hold, once their records are in."""
        for done in complete:
            writer = self.writers.get(done.entity)
            if writer is not None:
                retired = await writer.retire(done.prefix, origin)
                results.setdefault(writer.topic, WriteResult()).add(retired)

    def _writer_for(self, emit: Emit, summary: CycleSummary) -> TopicWriter | None:
        writer = self.writers.get(emit.entity)
        if writer is None:
            note = f"{emit.entity} records are not mapped to a topic by this feed; skipped"
            if note not in summary.notes:
                summary.notes.append(note)
        return writer

    async def _failed(
        self, summary: CycleSummary, exc: BaseException, started: float
    ) -> CycleSummary:
        summary.outcome = "error"
        summary.errors = [str(exc)]
        summary.duration_s = time.perf_counter() - started
        now_ms = int(self.clock() * 1000)
        previous = self.status
        if previous is None or previous.healthy:
            # Logged once when the feed starts failing, not on every attempt.
            log.warning("feed %s is failing: %s", self.feed_id, exc)
        self.status = FeedStatus(
            self.feed_id,
            healthy=False,
            last_success_ms=previous.last_success_ms if previous else None,
            last_error_ms=now_ms,
            last_error=f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, AdapterError)
            else str(exc),
            newest_observed_ms=previous.newest_observed_ms if previous else None,
            consecutive_failures=(previous.consecutive_failures if previous else 0) + 1,
        )
        await self._save_status_quietly()
        metrics.UP.labels(self.feed_id).set(0)
        metrics.CYCLES.labels(self.feed_id, "error").inc()
        return summary

    async def _succeeded(self, summary: CycleSummary, newest_ms: int | None) -> None:
        now_ms = int(self.clock() * 1000)
        previous = self.status
        if previous is not None and not previous.healthy:
            log.warning(
                "feed %s recovered after %d failed cycle(s)",
                self.feed_id,
                previous.consecutive_failures,
            )
        newest = previous.newest_observed_ms if previous else None
        if newest_ms is not None and (newest is None or newest_ms > newest):
            newest = newest_ms
        self.status = FeedStatus(
            self.feed_id,
            healthy=True,
            last_success_ms=now_ms,
            last_error_ms=previous.last_error_ms if previous else None,
            last_error=previous.last_error if previous else None,
            newest_observed_ms=newest,
            consecutive_failures=0,
        )
        await self._save_status_quietly()
        metrics.UP.labels(self.feed_id).set(1)
        metrics.LAST_SUCCESS.labels(self.feed_id).set(now_ms / 1000)
        if newest is not None:
            metrics.NEWEST_DATA.labels(self.feed_id).set(newest / 1000)
        metrics.CYCLES.labels(self.feed_id, summary.outcome).inc()

    async def _save_status_quietly(self) -> None:
        assert self.status is not None
        try:
            await self.store.save_status(self.status)
        except Exception:
            log.exception("could not record the status of feed %s", self.feed_id)

    async def run_forever(self, shutdown: asyncio.Event) -> None:
        """Run cycles until ``shutdown`` is set."""
        await self.load_status()
        while not shutdown.is_set():
            await self.run_cycle()
            try:
                await asyncio.wait_for(shutdown.wait(), self.feed.next_run_in_s(self.ttl_hint_s))
            except TimeoutError:
                continue


class _Writes:
    """Batches being written, two at a time: while Kafka acknowledges one batch the next is
    already being encoded (a large import would otherwise wait on every round trip). A third
    gained no speed and held 5,000 more records. Batches are started in order, so records
    of one key keep their order on the topic."""

    def __init__(self, origin: Provenance, results: dict[str, WriteResult]) -> None:
        self.origin = origin
        self.results = results
        self.pending: set[asyncio.Task[None]] = set()

    async def _write(self, writer: TopicWriter, records: list[dict[str, Any]]) -> None:
        result = await writer.write(records, self.origin)
        self.results.setdefault(writer.topic, WriteResult()).add(result)

    async def start(self, writer: TopicWriter, records: list[dict[str, Any]]) -> None:
        while len(self.pending) >= _WRITES_IN_FLIGHT:
            await self._one_done()
        self.pending.add(asyncio.create_task(self._write(writer, records)))

    async def finish(self) -> None:
        while self.pending:
            await self._one_done()

    async def _one_done(self) -> None:
        done, self.pending = await asyncio.wait(self.pending, return_when=asyncio.FIRST_COMPLETED)
        errors = [e for task in done if (e := task.exception()) is not None]
        if errors:
            raise errors[0]  # a failed write fails the cycle (the rest are cancelled)

    async def cancel(self) -> None:
        pending, self.pending = self.pending, set()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
