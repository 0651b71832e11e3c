"""How a long-running command learns to stop: SIGINT and SIGTERM set an event.

The one place the commands (``up``, ``ingest``, ``bridge``) turn signals into a shutdown;
a caller that passes its own event (a test, an embedding program) owns the trigger and no
handler is installed.
"""

from __future__ import annotations

import asyncio
import signal

__all__ = ["shutdown_event"]


def shutdown_event(shutdown: asyncio.Event | None = None) -> asyncio.Event:
    """``shutdown`` when given; otherwise a new event set by SIGINT or SIGTERM (installed on
    the running loop, so call it from inside it)."""
    if shutdown is not None:
        return shutdown
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, event.set)
    return event
