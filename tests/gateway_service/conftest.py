"""A gateway on loopback over the session's broker and a served registry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.kafka import Cluster
from tests.gateway_service.harness import ServedGateway, served_gateway


class GatewayEnv(ServedGateway):
    @property
    def positions(self) -> str:
        """A public topic of 3 partitions (delete cleanup)."""
        return self.topics["positions"]

    @property
    def states(self) -> str:
        """A public compacted topic."""
        return self.topics["states"]


@pytest.fixture
async def gw(tmp_path: Path, cluster: Cluster, unique: str) -> AsyncIterator[GatewayEnv]:
    topics: dict[str, dict[str, object]] = {
        "positions": {"partitions": 3},
        "states": {"cleanup": "compact"},
    }
    async with served_gateway(GatewayEnv, tmp_path, cluster, topics, unique) as served:
        yield served
