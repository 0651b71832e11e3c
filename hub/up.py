"""``tsunagu up``: run a whole hub on one machine from a deployment file.

Start order: embedded broker (only when no cluster is configured), runtime
store, HTTP server (registry, health, metrics), then ``apply``. Later
capabilities (feeds, bridges, gateway) plug in as extra parts started after
apply. Shutdown runs in reverse, and the broker also dies with this process.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from hub.apply import apply
from hub.broker import EmbeddedBroker, ensure_port_free
from hub.config import Deployment, KafkaCluster, load_config
from hub.db import create_schema, make_engine
from hub.http.app import HubInfo, add_readiness_check, create_app
from hub.kafka import Admin, Cluster, get_backend
from hub.metrics import set_ready
from hub.registry.client import RegistryClient
from hub.registry.server import create_registry_app
from hub.registry.store import RegistryStore
from hub.schemas.catalogue import SchemaCatalogue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpOptions:
    """What ``up`` runs: the deployment file and the schema directory."""

    config: Path
    schemas: Path


def _cluster(settings: KafkaCluster | None, embedded: str | None) -> Cluster:
    if settings is None:
        assert embedded is not None, "embedded broker must run when an area has no cluster"
        return Cluster(embedded)
    props = settings.client_properties()
    props.pop("bootstrap.servers", None)
    return Cluster(settings.bootstrap_servers, props)


async def run_up(  # noqa: PLR0915 - one linear start-up sequence, split when feeds plug in
    options: UpOptions,
    shutdown: asyncio.Event | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Run until ``shutdown`` is set (by default: SIGINT or SIGTERM)."""
    catalogue = await asyncio.to_thread(SchemaCatalogue.load, options.schemas)
    deployment: Deployment = await asyncio.to_thread(load_config, options.config, catalogue)
    settings = deployment.hub
    if shutdown is None:
        shutdown = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, shutdown.set)

    ensure_port_free("the hub's HTTP server", settings.http.host, settings.http.port)
    broker: EmbeddedBroker | None = None
    engine = make_engine(settings.store.resolved_url())
    runner: web.AppRunner | None = None
    registries: dict[str, RegistryClient] = {}
    admins: dict[str, Admin] = {}
    try:
        embedded: str | None = None
        if deployment.uses_embedded_broker:
            broker = EmbeddedBroker(settings.embedded_broker.host, settings.embedded_broker.port)
            embedded = await asyncio.to_thread(broker.start)
        set_ready("broker", True)
        await create_schema(engine)
        set_ready("store", True)

        http = settings.http
        base = f"http://{http.host}:{http.port}"
        registry_url = f"{base}/registry"
        default_cluster = _cluster(deployment.kafka, embedded)
        info = HubInfo(default_cluster.bootstrap_servers, registry_url, base, settings.kafka_client)
        app = create_app(info, create_registry_app(RegistryStore(engine)))
        backend = get_backend(settings.kafka_client)
        main_admin = backend.admin(default_cluster)

        async def broker_ready() -> bool:
            await main_admin.ping(timeout=2.0)
            return True

        add_readiness_check(app, "kafka", broker_ready)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, http.host, http.port).start()
        set_ready("http", True)

        def admin_for(area: str) -> Admin:
            if area not in admins:
                admins[area] = backend.admin(_cluster(deployment.kafka_for(area), embedded))
            return admins[area]

        def registry_for(area: str) -> RegistryClient:
            if area not in registries:
                conn = deployment.registry_for(area)
                registries[area] = RegistryClient(conn.url if conn else registry_url)
            return registries[area]

        report = await apply(deployment, catalogue, admin_for, registry_for)
        set_ready("registry", True)
        announce(f"Kafka bootstrap: {default_cluster.bootstrap_servers}")
        announce(f"Schema registry: {registry_url}")
        announce(f"Gateway:         {base}  (/v1/info, /healthz, /readyz, /metrics)")
        announce(
            f"Topics: {len(report.created_topics)} created, {len(report.existing_topics)} "
            f"existing; {len(report.registered)} schemas registered. Ctrl-C to stop."
        )
        await shutdown.wait()
        announce("shutting down")
    finally:
        for client in registries.values():
            await client.close()
        for admin in admins.values():
            await admin.close()
        if runner is not None:
            await runner.cleanup()
        await engine.dispose()
        if broker is not None:
            await asyncio.to_thread(broker.stop)
        for component in ("broker", "store", "http", "registry"):
            set_ready(component, False)
