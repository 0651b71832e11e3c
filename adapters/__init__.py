"""Adapters: each turns what one family of sources serves into canonical records.

An adapter knows nothing of Kafka. It parses fetched bytes (pure functions, testable
without a network) and yields ``Emit``s; the hub's ingest runner fetches, validates,
keys, de-duplicates and produces. Built-in adapters are listed in ``adapters.registry``;
third-party ones register under the ``tsunagu.adapters`` entry-point group.
"""

from adapters.base import (
    Adapter,
    AdapterError,
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
    "CycleContext",
    "Emit",
    "FeedUnavailableError",
    "Fetched",
    "MalformedFeedError",
    "NotModified",
    "urn",
]
