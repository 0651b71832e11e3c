"""How the cyclic garbage collector runs in a hub process.

Records are dicts and tuples freed by reference counting as soon as they are written; the
collector only matters for reference cycles, which the hot paths do not make. With the
default thresholds it ran a generation-0 pass every 700 allocations and full passes over
every live object, which cost about a fifth of the CPU of ingesting a large feed or
bridging a busy topic. So: what start-up created (modules, schemas, compiled codecs) is
frozen out of the collector's view, and passes run a hundred times less often.
"""

from __future__ import annotations

import gc

__all__ = ["tune_for_throughput"]

# Generation 0 after this many net allocations (default 700); generations 1 and 2 after
# this many passes of the younger one (defaults 10 and 10).
_THRESHOLDS = (70_000, 10, 10)


def tune_for_throughput() -> None:
    """Freeze what exists now and raise the collection thresholds (idempotent)."""
    gc.freeze()
    gc.set_threshold(*_THRESHOLDS)
