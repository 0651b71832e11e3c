"""Run a blocking generator in a worker thread and consume it from asyncio in batches.

Parsing a national timetable takes minutes of CPU in pure Python; on the event loop it
would starve every other feed, the gateway and the health checks. The worker fills a
small bounded queue (back-pressure: the thread waits while Kafka is slow), and stops
early when the consumer goes away (a cycle that fails or is cancelled).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["batches_in_thread"]

T = TypeVar("T")
_DONE = object()


class _Worker(Generic[T]):
    """The thread's side: runs ``produce`` and hands its batches to the loop's queue."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[object], size: int
    ) -> None:
        self.loop, self.queue, self.size = loop, queue, size
        self.stop = threading.Event()

    def put(self, item: object) -> bool:
        """Queue ``item``, waiting while the queue is full; False once the consumer left."""
        future = asyncio.run_coroutine_threadsafe(self.queue.put(item), self.loop)
        while True:
            try:
                future.result(timeout=0.2)
            except concurrent.futures.TimeoutError:
                if self.stop.is_set():
                    future.cancel()
                    return False
            else:
                return True

    def work(self, produce: Callable[[], Iterator[T]]) -> None:
        try:
            batch: list[T] = []
            for item in produce():
                batch.append(item)
                if len(batch) >= self.size:
                    if not self.put(batch):
                        return
                    batch = []
            if batch and not self.put(batch):
                return
            self.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
            self.put(exc)


async def batches_in_thread(
    produce: Callable[[], Iterator[T]], *, size: int = 2_000, depth: int = 4
) -> AsyncIterator[list[T]]:
    """The items ``produce()`` yields, in lists of up to ``size``; its exceptions re-raised."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue(depth)
    worker = _Worker[T](loop, queue, size)
    running = loop.run_in_executor(None, worker.work, produce)
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        worker.stop.set()
        while not running.done():  # let a worker blocked on a full queue see ``stop``
            with_item = not queue.empty()
            if with_item:
                queue.get_nowait()
            await asyncio.sleep(0 if with_item else 0.05)
        await running
