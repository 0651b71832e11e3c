"""``GET /v1/topics/{topic}/latest``: the latest value per key of a compacted topic, held in
memory by each gateway process and rebuilt from Kafka at start: a cache, not a central store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from hub.gateway.fanout import Decode, Event, Filter
from hub.kafka import Reader

__all__ = ["LatestState"]

log = logging.getLogger(__name__)


class LatestState:
    """Reads a topic from its first retained record on, keeping the last value per key."""

    def __init__(self, topic: str, make_reader: Callable[[], Reader], decode: Decode) -> None:
        self.topic = topic
        self.make_reader = make_reader
        self.decode = decode
        self.values: dict[str, Event] = {}
        self.ready = asyncio.Event()
        self.failed: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._follow(), name=f"latest:{self.topic}")

    async def _follow(self) -> None:
        reader = self.make_reader()
        try:
            marks = await reader.watermarks()
            await reader.assign({p: low for p, (low, _) in marks.items()})
            idle = 0
            while True:
                batch = await reader.get_batch(1000, 0.5)
                if not batch:
                    idle += 1
                    if idle >= 2:
                        self.ready.set()  # caught up with the log
                    continue
                idle = 0
                for message in batch:
                    if message.key is None:
                        continue
                    key = message.key.decode("utf-8", "replace")
                    if message.value is None:
                        self.values.pop(key, None)  # a tombstone deletes the key
                        continue
                    record = await self.decode(message.value)
                    self.values[key] = Event(
                        message.partition, message.offset, key, message.timestamp_ms, record
                    )  # no tail: latest answers serialise records themselves
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("latest state of %s failed", self.topic)
            self.failed = exc
            self.ready.set()
        finally:
            with contextlib.suppress(Exception):
                await reader.close()

    async def wait_ready(self, timeout: float) -> bool:
        """True once the state has caught up with the log (False after ``timeout`` seconds)."""
        self.start()
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
        except TimeoutError:
            return False
        return self.failed is None

    def get(self, key: str) -> Event | None:
        return self.values.get(key)

    def select(self, wanted: Filter, limit: int) -> list[Event]:
        out = []
        for event in self.values.values():
            if wanted.matches(event):
                out.append(event)
                if len(out) >= limit:
                    break
        return out

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
