"""A gateway on loopback over the session's broker and a served registry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from hub.gateway.problems import problem
from hub.gateway.service import Gateway
from hub.kafka import Cluster
from tests.ingest_runtime.harness import IngestEnv, ingest_env, serve

SCHEMAS = Path(__file__).parent / "schemas"


async def key_holder(request: web.Request, topic: str, permission: str) -> str:
    """A stand-in policy: the key "publisher" may do anything (access control is tested in
    tests/access_control against the real key store)."""
    del topic, permission
    if request.headers.get("X-API-Key") != "publisher":
        raise problem(401, "Unauthorized", "no valid key")
    return "publisher"


@dataclass
class GatewayEnv:
    env: IngestEnv
    gateway: Gateway
    base: str
    positions: str  # a public topic (delete cleanup)
    states: str  # a public compacted topic


@pytest.fixture
async def gw(tmp_path: Path, cluster: Cluster, unique: str) -> AsyncIterator[GatewayEnv]:
    positions = f"town.test.positions-{unique}.v1"
    states = f"town.test.states-{unique}.v1"
    yaml = f"""
    version: 1
    areas:
      town: {{title: Test Town}}
    topics:
      {positions}:
        area: town
        schema: test.gateway.Position
        partitions: 3
        licence: CC-BY-4.0
        publisher: Test Town
        access: public
      {states}:
        area: town
        schema: test.gateway.Position
        cleanup: compact
        licence: CC-BY-4.0
        publisher: Test Town
        access: public
    """
    async with ingest_env(tmp_path, cluster.bootstrap_servers, SCHEMAS, yaml) as env:
        engine = env.store.engine
        gateway = Gateway(
            env.deployment, env.catalogue, env.connections, engine, authorize=key_holder
        )
        app = web.Application()
        gateway.routes(app)
        async with serve(app) as base:
            yield GatewayEnv(env, gateway, base, positions, states)
        await gateway.close()
