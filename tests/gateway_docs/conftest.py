"""A running hub for the catalogue document tests."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.kafka import Cluster
from tests.gateway_docs.running_hub import RunningHub, feed_positions, running_hub

#: The feed's positions were observed this long before the test started.
FEED_AGE_S = 120


@pytest.fixture
async def hub(tmp_path: Path, cluster: Cluster, unique: str) -> AsyncIterator[RunningHub]:
    observed = int(time.time() * 1000) - FEED_AGE_S * 1000
    body = feed_positions(("bus-1", 36.30, 136.31, observed), ("bus-2", 36.32, 136.35, observed))
    async with running_hub(tmp_path, cluster.bootstrap_servers, unique, body) as running:
        yield running
