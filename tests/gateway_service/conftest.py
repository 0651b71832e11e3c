"""A gateway on loopback over the session's broker and a served registry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from hub.access import AccessControl, Grant, KeyStore
from hub.gateway.service import Gateway
from hub.kafka import Cluster
from tests.ingest_runtime.harness import IngestEnv, ingest_env, serve

SCHEMAS = Path(__file__).parent / "schemas"


@dataclass
class GatewayEnv:
    env: IngestEnv
    gateway: Gateway
    base: str
    positions: str  # a public topic (delete cleanup)
    states: str  # a public compacted topic
    key: str  # may publish to every town topic
    access: AccessControl


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
        access = AccessControl.from_deployment(engine, env.deployment)
        issued = await KeyStore(engine).create(
            "publisher", grants=(Grant("town.*", "publish"), Grant("town.*", "read"))
        )
        gateway = Gateway(env.deployment, env.catalogue, env.connections, engine, access=access)
        app = web.Application()
        gateway.routes(app)
        async with serve(app) as base:
            yield GatewayEnv(env, gateway, base, positions, states, issued.plaintext, access)
        await gateway.close()
