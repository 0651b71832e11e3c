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
from typing import TypeVar

__all__ = ["batches_in_thread"]

T = TypeVar("T")
_DONE = object()


async def batches_in_thread(
    produce: Callable[[], Iterator[T]], *, size: int = 2_000, depth: int = 4
) -> AsyncIterator[list[T]]:
    """The items ``produce()`` yields, in lists of up to ``size``; its exceptions re-raised."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue(depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        future = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        while True:
            try:
                future.result(timeout=0.2)
            except concurrent.futures.TimeoutError:
                if stop.is_set():
                    future.cancel()
                    return False
            else:
                return True

    def work() -> None:
        try:
            batch: list[T] = []
            for item in produce():
                batch.append(item)
                if len(batch) >= size:
                    if not put(batch):
                        return
                    batch = []
            if batch and not put(batch):
                return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
            put(exc)

    worker = loop.run_in_executor(None, work)
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while not worker.done():  # let a worker blocked on a full queue see ``stop``
            with_item = not queue.empty()
            if with_item:
                queue.get_nowait()
            await asyncio.sleep(0 if with_item else 0.05)
        await worker
