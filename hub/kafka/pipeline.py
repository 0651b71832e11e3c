"""Stream many records through ``Producer.deliver`` with a bounded number of chunks in flight.

Waiting for each chunk's acknowledgement before producing the next leaves the
connection idle for a round trip per chunk; keeping a few chunks in flight hides
that wait while bounding memory to ``max_in_flight`` chunks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Iterable, Sequence

from hub.kafka.api import Producer
from hub.kafka.types import Outgoing

__all__ = ["deliver_chunks"]


async def deliver_chunks(
    producer: Producer,
    topic: str,
    chunks: Iterable[Sequence[Outgoing]] | AsyncIterable[Sequence[Outgoing]],
    *,
    max_in_flight: int = 4,
) -> int:
    """Deliver every chunk; return the number of records acknowledged.

    The first failure cancels nothing already sent (Kafka may have it) but stops
    taking new chunks and is raised once the chunks in flight have settled.
    """
    slots = asyncio.Semaphore(max_in_flight)
    tasks: set[asyncio.Task[None]] = set()
    failure: BaseException | None = None
    total = 0

    async def send(chunk: Sequence[Outgoing]) -> None:
        try:
            await producer.deliver(topic, chunk)
        finally:
            slots.release()

    def settled(task: asyncio.Task[None]) -> None:
        nonlocal failure
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and failure is None:
            failure = task.exception()

    async def submit(chunk: Sequence[Outgoing]) -> None:
        nonlocal total
        await slots.acquire()
        task = asyncio.create_task(send(chunk))
        tasks.add(task)
        task.add_done_callback(settled)
        total += len(chunk)

    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            if failure is not None:
                break
            await submit(chunk)
    else:
        for chunk in chunks:
            if failure is not None:
                break
            await submit(chunk)
    await asyncio.gather(*tasks, return_exceptions=True)
    if failure is not None:
        raise failure
    return total
