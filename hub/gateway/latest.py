"""``GET /v1/topics/{topic}/latest``: the latest value per key of a topic, held in memory by
each gateway process and rebuilt from Kafka at start: a cache, not a central store.

Memory is budgeted, per topic and for all topics together (``hub.gateway.latest`` in
topics.yaml), because one anonymous request makes a gateway read a whole topic into memory.
Each key keeps its value's encoded bytes (a decoded record takes about ten times more), and
the state's size is accounted as it is stored: a topic whose state would pass its budget, or
would take the total past the gateway's, stops, frees what it held and is answered with a
problem from then on. Values are decoded once as they arrive (an undecodable one is skipped,
counted and logged by the topic's decoder) and again when an answer needs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Callable
from typing import Any

from hub.config.size import format_size
from hub.errors import DecodeError
from hub.gateway import metrics
from hub.gateway.fanout import Decode, Event, Filter
from hub.kafka import Incoming, Reader
from hub.memory import release_freed_memory

__all__ = ["ENTRY_OVERHEAD", "LatestBudget", "LatestState", "OverBudget"]

log = logging.getLogger(__name__)

#: Bytes an entry costs beyond its key's and value's own bytes: the dict slot, the key
#: string's and the value bytes' headers, the entry tuple and its offset and timestamp ints
#: (measured with tracemalloc on CPython 3.11: about 250; rounded up).
ENTRY_OVERHEAD = 256

# How many records an answer decodes before letting other requests run.
_YIELD_EVERY = 500


class OverBudget(Exception):
    """The latest state of a topic passed its memory budget (or the gateway's total)."""

    def __init__(self, topic: str, setting: str, budget: int, detail: str) -> None:
        self.topic = topic
        self.setting = setting
        self.budget = budget
        super().__init__(detail)


class LatestBudget:
    """The memory the latest states of one gateway may hold, per topic and in total."""

    def __init__(self, per_topic: int, total: int) -> None:
        self.per_topic = per_topic
        self.total = total
        self.used = 0

    def take(self, topic: str, held: int, more: int) -> None:
        """Account ``more`` bytes for ``topic`` (which holds ``held``), or raise OverBudget."""
        if held + more > self.per_topic:
            raise OverBudget(
                topic,
                "hub.gateway.latest.max_bytes_per_topic",
                self.per_topic,
                f"the latest state of {topic} needs more than its budget of "
                f"{format_size(self.per_topic)}; raise hub.gateway.latest.max_bytes_per_topic "
                "in topics.yaml (and max_bytes_total with it) and restart the hub, or read "
                "the topic as a stream",
            )
        if self.used + more > self.total:
            raise OverBudget(
                topic,
                "hub.gateway.latest.max_bytes_total",
                self.total,
                f"the latest states of this gateway's topics have used its total budget of "
                f"{format_size(self.total)}, leaving none for {topic}; raise "
                "hub.gateway.latest.max_bytes_total in topics.yaml and restart the hub, or "
                "read the topic as a stream",
            )
        self.used += more

    def give_back(self, amount: int) -> None:
        self.used -= amount


# An entry is one bytes object: partition, offset and timestamp (-1: none) packed before the
# encoded value. A tuple of the four cost 128 bytes more per key (the tuple and two large
# ints), a third of what a small record's state costs.
_HEAD = struct.Struct("<iqq")


def _pack(message: Incoming, value: bytes) -> bytes:
    timestamp = -1 if message.timestamp_ms is None else message.timestamp_ms
    return _HEAD.pack(message.partition, message.offset, timestamp) + value


def _value_of(entry: bytes) -> bytes:
    return entry[_HEAD.size :]


def _size(key: str, value: bytes) -> int:
    return len(key) + len(value) + ENTRY_OVERHEAD


class LatestState:
    """Reads a topic from its first retained record on, keeping the last value per key."""

    def __init__(
        self,
        topic: str,
        make_reader: Callable[[], Reader],
        decode: Decode,
        budget: LatestBudget,
    ) -> None:
        self.topic = topic
        self.make_reader = make_reader
        self.decode = decode
        self.budget = budget
        self._values: dict[str, bytes] = {}
        self.held = 0  # accounted bytes of _values
        self.peak = 0  # the most ever held, for tests and benchmarks
        self.ready = asyncio.Event()
        self.failed: BaseException | None = None
        self.over_budget: OverBudget | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._follow(), name=f"latest:{self.topic}")

    async def _follow(self) -> None:
        reader = self.make_reader()
        try:
            marks = await reader.watermarks()
            # Caught up once every partition has been read to where it ended at the start.
            behind = {p: high for p, (low, high) in marks.items() if high > low}
            await reader.assign({p: low for p, (low, _) in marks.items()})
            idle = 0
            while True:
                if not behind and not self.ready.is_set():
                    await self._caught_up()
                batch = await reader.get_batch(1000, 0.5)
                if not batch:
                    idle += 1
                    if idle >= 2 and not self.ready.is_set():
                        # Nothing more comes although an end was not reached (its last
                        # offsets hold no record, e.g. transaction markers): caught up too.
                        await self._caught_up()
                    continue
                idle = 0
                for message in batch:
                    end = behind.get(message.partition)
                    if end is not None and message.offset + 1 >= end:
                        del behind[message.partition]
                    if message.key is not None:
                        await self._store(message.key.decode("utf-8", "replace"), message)
                metrics.LATEST_BYTES.labels(self.topic).set(self.held)
        except asyncio.CancelledError:
            raise
        except OverBudget as exc:
            log.warning("%s", exc)
            metrics.LATEST_OVER_BUDGET.labels(self.topic).inc()
            self.over_budget = exc
            self._free()
        except Exception as exc:
            log.exception("latest state of %s failed", self.topic)
            self.failed = exc
        finally:
            with contextlib.suppress(Exception):
                await reader.close()
        # Over budget or failed: answered as such once the reader is released (and what
        # the state held is handed back).
        await self._caught_up()

    async def _caught_up(self) -> None:
        # Reading the log from its start left freed fetch buffers and batches in the C
        # heap (measured: 70 MB for a 37 MB state of 120,000 keys, 27 MB after the trim).
        await asyncio.to_thread(release_freed_memory)
        self.ready.set()

    async def _store(self, key: str, message: Incoming) -> None:
        old = self._values.get(key)
        freed = 0 if old is None else _size(key, _value_of(old))
        value: bytes | None = message.value
        if value is None:  # a tombstone deletes the key
            if old is not None:
                del self._values[key]
                self._release(freed)
            return
        try:
            await self.decode(value)  # only decodable values are kept
        except DecodeError:
            return  # counted and logged (at a bounded rate) by the decoder
        size = _size(key, value)
        if size > freed:
            self.budget.take(self.topic, self.held, size - freed)
        else:
            self.budget.give_back(freed - size)
        self.held += size - freed
        self.peak = max(self.peak, self.held)
        self._values[key] = _pack(message, value)

    def _release(self, amount: int) -> None:
        self.held -= amount
        self.budget.give_back(amount)

    def _free(self) -> None:
        self._values = {}
        self._release(self.held)
        metrics.LATEST_BYTES.labels(self.topic).set(0)

    async def wait_ready(self, timeout: float) -> bool:
        """True once the state has caught up with the log (False after ``timeout`` seconds
        or when it failed); ``over_budget`` tells when it was refused."""
        self.start()
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
        except TimeoutError:
            return False
        return self.failed is None and self.over_budget is None

    async def _event(self, key: str, entry: bytes) -> Event | None:
        partition, offset, timestamp = _HEAD.unpack_from(entry)
        try:
            record = await self.decode(_value_of(entry))
        except DecodeError:
            return None
        return Event(partition, offset, key, None if timestamp < 0 else timestamp, record)

    async def get(self, key: str) -> dict[str, Any] | None:
        """The latest record under ``key``."""
        entry = self._values.get(key)
        if entry is None:
            return None
        event = await self._event(key, entry)
        return None if event is None else event.record

    async def select(self, wanted: Filter, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` latest records that pass ``wanted``."""
        out: list[dict[str, Any]] = []
        # A snapshot: the state goes on changing while an answer yields to other tasks.
        values = self._values
        for scanned, key in enumerate(list(values), 1):
            entry = values.get(key)
            event = None if entry is None else await self._event(key, entry)
            if event is not None and wanted.matches(event):
                out.append(event.record or {})
                if len(out) >= limit:
                    break
            if scanned % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
        return out

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._free()
