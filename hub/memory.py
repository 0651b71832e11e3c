"""Handing memory the process has freed back to the operating system.

glibc keeps what a thread frees in that thread's arena for reuse, and librdkafka's threads
free whole fetch buffers: after a gateway reads a topic from its start (its latest state),
the process keeps tens of MB it no longer uses. `malloc_trim` returns them. Elsewhere than
glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

__all__ = ["release_freed_memory"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


def release_freed_memory() -> bool:
    """Return the heap's free pages to the system; False where the C library cannot.

    Walks the heap (milliseconds for a few hundred MB): call it after a large transient
    allocation has been freed, from a worker thread, not on a hot path.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
