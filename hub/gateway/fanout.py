"""One live Kafka reader per topic per process, fanned out to every subscriber, and the
catch-up that lets a subscriber start anywhere the log still holds without losing a record.

A subscriber registers with the live reader first and notes, per partition, the next
offset the live reader will hand it; a catch-up reader then replays from the
subscriber's start up to that offset, and the queued live records follow, skipping
any offset already delivered. Nothing the log still retains falls between the two.

Each subscriber has a bounded queue. A subscriber too slow to keep up is marked as
overflowed (it then gets an explicit message and is closed by its handler): memory
stays bounded whatever the clients do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from hub.errors import DecodeError, KafkaError
from hub.gateway.positions import check_positions, encode_token
from hub.kafka import Incoming, Reader

__all__ = ["Event", "Filter", "Start", "Subscription", "TopicFanout"]

log = logging.getLogger(__name__)

Decode = Callable[[bytes], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Event:
    """One record as subscribers see it, decoded once for all of them; a tombstone (the
    entity under ``key`` was deleted, e.g. retired at its source) has ``record`` None."""

    partition: int
    offset: int
    key: str | None
    timestamp_ms: int | None
    record: dict[str, Any] | None
    # The JSON every subscriber receives after its own position, serialised once.
    tail: bytes = b""

    @classmethod
    def of(
        cls,
        partition: int,
        offset: int,
        key: str | None,
        ts: int | None,
        record: dict[str, Any] | None,
    ) -> Event:
        body = orjson.dumps(
            {
                "partition": partition,
                "offset": offset,
                "key": key,
                "timestamp": ts,
                "record": record,
            }
        )
        return cls(partition, offset, key, ts, record, b"," + body[1:])


@dataclass(frozen=True)
class Start:
    """Where a subscription starts: ``latest``, ``earliest``, a time, or explicit positions."""

    kind: str = "latest"  # latest | earliest | time | positions
    timestamp_ms: int | None = None
    positions: dict[int, int] | None = None


@dataclass(frozen=True)
class Filter:
    """What a subscriber wants: a bounding box, a set of ids, field equality."""

    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat
    ids: frozenset[str] | None = None
    equals: tuple[tuple[str, str], ...] = ()

    def matches(self, event: Event) -> bool:
        record = event.record
        if record is None:
            # A deletion has no position or fields to test: every subscriber that may hold
            # the key hears of it (those that never saw the key ignore it).
            return self.ids is None or event.key in self.ids
        if self.ids is not None and event.key not in self.ids and record.get("id") not in self.ids:
            return False
        if self.bbox is not None:
            lat, lon = record.get("latitude"), record.get("longitude")
            if not isinstance(lat, int | float) or not isinstance(lon, int | float):
                return False
            min_lon, min_lat, max_lon, max_lat = self.bbox
            if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
                return False
        for name, wanted in self.equals:
            value = record.get(name)
            if value is None or str(value) != wanted:
                return False
        return True


@dataclass(eq=False)
class Subscription:
    """One subscriber's stream: replayed records first, then live ones, in order per partition."""

    fanout: TopicFanout
    filter: Filter
    positions: dict[int, int]  # next offset to deliver, per partition
    live_from: dict[int, int]
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(1000))
    overflowed: bool = False
    closed: bool = False

    def token(self) -> str:
        return encode_token(self.positions)

    def offer(self, event: Event) -> None:
        """Called by the live reader; never blocks."""
        if self.overflowed or self.closed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    def _take(self, event: Event) -> bool:
        """Advance past ``event``; True when it is new and passes the filter."""
        if event.offset < self.positions.get(event.partition, 0):
            return False
        self.positions[event.partition] = event.offset + 1
        return self.filter.matches(event)

    async def events(self) -> AsyncGenerator[Event, None]:
        """Every matching event from the start position on; stops on overflow or close."""
        async for event in self.fanout.replay(self):
            if self._take(event):
                yield event
        queue = self.queue
        while not self.closed:
            if not queue.empty():
                # The common case under load: no timer, no task, just the next event.
                event = queue.get_nowait()
            elif self.overflowed:
                return
            else:
                try:
                    event = await asyncio.wait_for(queue.get(), 1.0)
                except TimeoutError:
                    if self.fanout.failed is not None:
                        raise self.fanout.failed from None
                    continue
            if self._take(event):
                yield event

    def close(self) -> None:
        self.closed = True
        self.fanout.unsubscribe(self)


class TopicFanout:
    """The live reader of one topic and its subscribers."""

    def __init__(
        self,
        topic: str,
        make_reader: Callable[[], Reader],
        decode: Decode,
        *,
        queue_size: int = 1000,
    ) -> None:
        self.topic = topic
        self.make_reader = make_reader
        self.decode = decode
        self.queue_size = queue_size
        self.subscribers: set[Subscription] = set()
        self.next_offsets: dict[int, int] = {}
        self.failed: BaseException | None = None
        self._reader: Reader | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Lock()

    async def _ensure_live(self) -> None:
        async with self._started:
            if self._task is not None:
                return
            reader = self.make_reader()
            marks = await reader.watermarks()
            # Explicit offsets, not "end": the live reader starts exactly where the
            # catch-up of the first subscribers stops.
            self.next_offsets = {p: high for p, (_, high) in marks.items()}
            await reader.assign(self.next_offsets)
            self._reader = reader
            self._task = asyncio.create_task(self._live(reader), name=f"fanout:{self.topic}")

    async def _live(self, reader: Reader) -> None:
        try:
            while True:
                # consume returns when the batch fills or the time is up: 10 ms bounds what
                # a lone record waits here.
                batch = await reader.get_batch(500, 0.01)
                for event in await self._events(batch):
                    self.next_offsets[event.partition] = event.offset + 1
                    for subscriber in list(self.subscribers):
                        subscriber.offer(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("live reader of %s failed", self.topic)
            self.failed = exc

    async def _events(self, batch: list[Incoming]) -> list[Event]:
        events = []
        for message in batch:
            if message.value is None:
                if message.key is not None:  # a deletion: subscribers drop the key
                    deleted = message.key.decode("utf-8", "replace")
                    events.append(
                        Event.of(
                            message.partition, message.offset, deleted, message.timestamp_ms, None
                        )
                    )
                continue
            try:
                record = await self.decode(message.value)
            except DecodeError:
                continue  # counted and logged (at a bounded rate) by the decoder
            key = message.key.decode("utf-8", "replace") if message.key is not None else None
            events.append(
                Event.of(message.partition, message.offset, key, message.timestamp_ms, record)
            )
        return events

    async def subscribe(self, start: Start, wanted: Filter) -> Subscription:
        """Register a subscriber; its events() replay from ``start`` then go live.

        PositionError when ``start`` names positions the topic does not have."""
        await self._ensure_live()
        if self.failed is not None:
            raise KafkaError(f"the live reader of {self.topic} failed: {self.failed}")
        # No await between the snapshot and the registration: the live reader cannot
        # deliver in between, so live_from is exactly where its queue begins.
        positions = await self._start_positions(start)
        live_from = dict(self.next_offsets)
        subscription = Subscription(
            self, wanted, positions, live_from, asyncio.Queue(self.queue_size)
        )
        self.subscribers.add(subscription)
        return subscription

    async def _start_positions(self, start: Start) -> dict[int, int]:
        if start.kind == "latest":
            return dict(self.next_offsets)
        reader = self.make_reader()
        try:
            marks = await reader.watermarks()
            if start.kind == "earliest":
                return {p: low for p, (low, _) in marks.items()}
            if start.kind == "time" and start.timestamp_ms is not None:
                return await reader.offsets_for_time(start.timestamp_ms)
            given = start.positions or {}
            # The live reader's own next offsets count too: a broker may report an end
            # below what it has already served.
            check_positions(
                given,
                {p: max(high, self.next_offsets.get(p, 0)) for p, (_, high) in marks.items()},
            )
            # Positions the log no longer holds start at what it still has.
            return {p: max(low, given.get(p, low)) for p, (low, _) in marks.items()}
        finally:
            await reader.close()

    async def replay(self, subscription: Subscription) -> AsyncIterator[Event]:
        """Records from the subscriber's positions up to where its live queue begins."""
        todo = {
            p: end
            for p, end in subscription.live_from.items()
            if subscription.positions.get(p, 0) < end
        }
        if not todo:
            return
        reader = self.make_reader()
        try:
            await reader.assign({p: subscription.positions.get(p, 0) for p in todo})
            idle = 0
            while todo and idle < 4:
                batch = await reader.get_batch(500, 0.5)
                idle = 0 if batch else idle + 1
                for event in await self._events(batch):
                    end = todo.get(event.partition)
                    if end is None or event.offset >= end:
                        todo.pop(event.partition, None)
                        continue
                    yield event
                    if event.offset + 1 >= end:
                        todo.pop(event.partition, None)
        finally:
            await reader.close()

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscribers.discard(subscription)

    async def close(self) -> None:
        for subscription in list(self.subscribers):
            subscription.closed = True
        self.subscribers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._reader is not None:
            await self._reader.close()
            self._reader = None


def event_json(event: Event, token: str) -> bytes:
    """The JSON body of one event as clients receive it: its position, then the event."""
    return b'{"position":"' + token.encode() + b'"' + event.tail
