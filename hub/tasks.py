"""Stopping background tasks the same way everywhere: a bounded drain, then cancellation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection

__all__ = ["drain"]


async def drain(tasks: Collection[asyncio.Task[None]], timeout: float = 15.0) -> None:
    """Let ``tasks`` finish what they are doing for up to ``timeout`` seconds (they have been
    told to stop), then cancel the rest and wait for them to unwind."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError):
            await task
