"""Adapters: each turns what one family of sources serves into canonical records.

An adapter knows nothing of Kafka. It parses fetched bytes (pure functions, testable
without a network) and yields ``Emit``s, and ``Complete`` for a set it yielded in full;
the hub's ingest runner fetches, validates, keys, de-duplicates, produces and retires.
Built-in adapters are listed in ``adapters.registry``; third-party ones register under
the ``tsunagu.adapters`` entry-point group.
"""

from adapters.base import (
    Adapter,
    AdapterError,
    Complete,
    CycleContext,
    Emit,
    FeedUnavailableError,
    Fetched,
    MalformedFeedError,
    NotModified,
    urn,
)

__all__ = [
    "Adapter",
    "AdapterError",
    "Complete",
    "CycleContext",
    "Emit",
    "FeedUnavailableError",
    "Fetched",
    "MalformedFeedError",
    "NotModified",
    "urn",
]
