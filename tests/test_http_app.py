"""The hub's HTTP endpoints over a real loopback server, with the embedded registry mounted."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from hub.db import create_schema, make_engine
from hub.http.app import HubInfo, add_readiness_check, create_app
from hub.metrics import REGISTRY
from hub.registry.server import create_registry_app
from hub.registry.store import RegistryStore


async def test_health_ready_info_metrics_and_registry(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    await create_schema(engine)
    info = HubInfo("127.0.0.1:9092", "http://127.0.0.1:8080/registry", "http://127.0.0.1:8080")
    app = create_app(info, create_registry_app(RegistryStore(engine)))
    broker_up = {"value": False}

    async def broker_ready() -> bool:
        return broker_up["value"]

    add_readiness_check(app, "broker", broker_ready)
    # The metrics registry is the process's: count from what earlier tests left there.
    failed_before = (
        REGISTRY.get_sample_value(
            "tsunagu_http_requests_total", {"route": "/readyz", "status": "5xx"}
        )
        or 0.0
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/healthz")).status == 200

        not_ready = await client.get("/readyz")
        assert not_ready.status == 503
        assert await not_ready.json() == {"ready": False, "checks": {"broker": False}}
        broker_up["value"] = True
        assert (await client.get("/readyz")).status == 200

        body = await (await client.get("/v1/info")).json()
        assert body["kafka"]["bootstrap_servers"] == "127.0.0.1:9092"
        assert body["registry"]["url"].endswith("/registry")
        assert body["endpoints"]["metrics"] == "http://127.0.0.1:8080/metrics"

        assert (await client.get("/registry/subjects")).status == 200

        metrics = await (await client.get("/metrics")).text()
        assert "process_cpu_seconds_total" in metrics
        failed = f'tsunagu_http_requests_total{{route="/readyz",status="5xx"}} {failed_before + 1}'
        assert failed in metrics
        assert 'tsunagu_build_info{version="' in metrics
    await engine.dispose()


async def test_the_hub_is_not_ready_until_its_topics_and_parts_are(tmp_path: Path) -> None:
    from hub.config import load_config  # noqa: PLC0415
    from hub.up import _hub_app  # noqa: PLC0415

    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    await create_schema(engine)
    config = tmp_path / "topics.yaml"
    config.write_text("version: 1\nareas:\n  town: {}\n")
    running = asyncio.Event()
    info = HubInfo("127.0.0.1:9092", "http://127.0.0.1:8080/registry", "http://127.0.0.1:8080")
    app = _hub_app(load_config(config), info, engine, {}, running)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        starting = await client.get("/readyz")
        assert starting.status == 503
        assert "creating topics" in (await starting.json())["reasons"]["started"]
        running.set()
        assert (await client.get("/readyz")).status == 200
    await engine.dispose()
