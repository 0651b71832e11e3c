"""``tsunagu up``: run a whole hub on one machine from a deployment file.

Start order: embedded broker (only when no cluster is configured), runtime store,
HTTP server (registry, health, metrics, and whatever routes the parts add), then
``apply``, then the parts (feeds, bridges, gateway subscriptions). Shutdown runs
in reverse; the broker also dies with this process, even on SIGKILL.

A part is anything with ``configure`` (add routes and readiness checks before the
HTTP server starts), ``start`` and ``stop``; the table ``PARTS`` names the
factories, imported lazily so a deployment without feeds never loads adapters.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.access.http import AccessControl, kafka_disclosure
from hub.access.tables import upgrade_grants
from hub.apply import ApplyReport, apply
from hub.broker import EmbeddedBroker, ensure_port_free
from hub.config import Deployment, load_config
from hub.connections import Connections, EmbeddedEndpoints, hub_url
from hub.db import create_schema, make_engine
from hub.demo import serve_demo_feeds
from hub.errors import IncompatibleSchemaError
from hub.http.app import HubInfo, NotReady, add_readiness_check, create_app
from hub.kafka import Admin
from hub.metrics import set_ready
from hub.parts import HubContext, Part
from hub.registry.auth import INTERNAL_USER, RegistryWriters
from hub.registry.binding import subject_topics
from hub.registry.server import create_registry_app
from hub.registry.store import RegistryStore
from hub.schemas.catalogue import SchemaCatalogue
from hub.signals import shutdown_event
from hub.tasks import drain

log = logging.getLogger(__name__)

__all__ = ["PARTS", "UpOptions", "run_up"]


@dataclass(frozen=True)
class UpOptions:
    """What ``up`` runs: the deployment file and the schema directory."""

    config: Path
    schemas: Path


# "module:function" taking the Deployment and returning a Part, or None when the
# deployment has nothing for it to do.
PARTS: list[str] = [
    "hub.ingest.part:feeds_part",
    "hub.bridge.command:bridges_part",
    "hub.gateway.part:gateway_part",
]


def _load_parts(deployment: Deployment) -> list[Part]:
    parts: list[Part] = []
    for target in PARTS:
        module_name, _, factory_name = target.partition(":")
        factory: Callable[[Deployment], Part | None] = getattr(
            importlib.import_module(module_name), factory_name
        )
        part = factory(deployment)
        if part is not None:
            parts.append(part)
    return parts


_SLOW_STOP_S = 5.0


async def _start_http(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def _stop_parts(parts: list[Part]) -> None:
    for part in reversed(parts):
        started = time.monotonic()
        try:
            await part.stop()
        except Exception:
            log.exception("stopping %s failed", part.name)
        took = time.monotonic() - started
        if took > _SLOW_STOP_S:  # said, so a shutdown cut short by an orchestrator has a cause
            log.warning("stopping %s took %.1f s", part.name, took)


def _mark_not_ready() -> None:
    for component in ("broker", "store", "http", "registry"):
        set_ready(component, False)


def _cluster_admins(deployment: Deployment, connections: Connections) -> dict[str, Admin]:
    """An admin client per cluster the deployment uses, by bootstrap address, the default
    cluster first (a deployment whose every area has a cluster of its own has none)."""
    admins: dict[str, Admin] = {}
    for area in [None, *deployment.areas]:
        if area is None and deployment.kafka is None and not deployment.uses_embedded_broker:
            continue
        cluster = connections.cluster_for(area)
        admins.setdefault(cluster.bootstrap_servers, connections.admin_for(area))
    return admins


#: How often the broker gauge is refreshed, and how long one probe may take.
BROKER_PROBE_INTERVAL_S = 2.0
_BROKER_PROBE_TIMEOUT_S = 2.0


async def _brokers_answer(admins: dict[str, Admin]) -> bool:
    """Whether every cluster answers a metadata request now; sets the broker gauge."""
    try:
        await asyncio.wait_for(
            asyncio.gather(
                *(admin.ping(timeout=_BROKER_PROBE_TIMEOUT_S) for admin in admins.values())
            ),
            _BROKER_PROBE_TIMEOUT_S * 2,
        )
    except Exception:  # noqa: BLE001 - whatever the failure, the broker is not usable now
        ready = False
    else:
        ready = True
    set_ready("broker", ready)
    return ready


async def _follow_brokers(admins: dict[str, Admin], shutdown: asyncio.Event) -> None:
    """Keep ``tsunagu_component_ready{component="broker"}`` following the clusters, even
    when nothing polls /readyz: a frozen or stopped broker shows within a few seconds."""
    while not shutdown.is_set():
        await _brokers_answer(admins)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(shutdown.wait(), BROKER_PROBE_INTERVAL_S)


def _hub_app(
    deployment: Deployment,
    info: HubInfo,
    engine: AsyncEngine,
    admins: dict[str, Admin],
    all_running: asyncio.Event,
    *,
    registry_writers: RegistryWriters | None = None,
) -> web.Application:
    """The HTTP app before the parts add theirs: info, health, metrics, the registry
    (written by `registry_writers`, by default admin keys only)."""
    app = create_app(info, create_registry_app(RegistryStore(engine), registry_writers))
    if deployment.hub.demo_feeds:
        serve_demo_feeds(app)

    async def hub_started() -> bool:
        # HTTP serves before the topics and schemas exist: not ready until they do and
        # every part runs, or a probe would send traffic to a hub still setting up.
        if not all_running.is_set():
            raise NotReady("creating topics, registering schemas, starting feeds and bridges")
        return True

    add_readiness_check(app, "started", hub_started)

    async def kafka_ready() -> bool:
        # Every cluster the deployment uses: a bridge's target cluster counts too.
        ready = await _brokers_answer(admins)
        if not ready:
            raise NotReady("a Kafka cluster does not answer")
        return True

    add_readiness_check(app, "kafka", kafka_ready)
    return app


def _check_damaged_subjects(
    app: web.Application,
    context: HubContext,
    damaged: dict[str, IncompatibleSchemaError],
) -> None:
    """Not ready while a subject refuses its topic's schema (filled by `apply`), naming
    each and why; ready again once the schema is registered there (schemas repair)."""
    topics = subject_topics(context.deployment)

    async def schemas_ready() -> bool:
        for subject in list(damaged):
            topic = context.deployment.topic(topics[subject])
            text = context.catalogue.get(topic.schema_name).text
            registry = context.connections.registry_for(topic.area)
            if await registry.lookup(subject, text) is not None:
                log.info("subject %s holds its schema again", subject)
                del damaged[subject]
        set_ready("registry", not damaged)
        if damaged:
            raise NotReady(
                "; ".join(
                    f"{error} (its topic's feeds wait and publishing to it fails; repair "
                    f"with `tsunagu schemas repair {subject}`)"
                    for subject, error in damaged.items()
                )
            )
        return True

    add_readiness_check(app, "schemas", schemas_ready)


async def _open_store(
    deployment: Deployment, stack: contextlib.AsyncExitStack
) -> tuple[AsyncEngine, RegistryWriters, str]:
    """The runtime store (tables made or upgraded) and who may write the embedded registry.

    The registry takes writes from admin keys, and from this process's own parts with a
    credential (the returned secret) made now, kept in memory and never shown, so a
    default ``up`` needs no key.
    """
    engine = make_engine(deployment.hub.store.resolved_url())
    stack.push_async_callback(engine.dispose)
    await create_schema(engine)
    await upgrade_grants(engine)
    set_ready("store", True)
    internal_secret = secrets.token_urlsafe(32)
    # Keyed with the deployment's audit key, like every audit entry of this process.
    access = AccessControl.from_deployment(engine, deployment)
    stack.push_async_callback(access.close)
    return engine, RegistryWriters(access, internal_secret=internal_secret), internal_secret


async def _apply(context: HubContext, damaged: dict[str, IncompatibleSchemaError]) -> ApplyReport:
    """Topics and schemas; a subject that refuses its schema is reported in `damaged`
    (and /readyz), never a reason not to start."""
    report = await apply(
        context.deployment,
        context.catalogue,
        context.connections.admin_for,
        context.connections.registry_for,
        skip_incompatible=True,
    )
    damaged.update(report.incompatible)
    for error in report.incompatible.values():
        log.error("%s; repair with `tsunagu schemas repair %s`", error, error.subject)
    set_ready("registry", not damaged)
    return report


async def run_up(
    options: UpOptions,
    shutdown: asyncio.Event | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Run until ``shutdown`` is set (by default: SIGINT or SIGTERM)."""
    catalogue = await asyncio.to_thread(SchemaCatalogue.load, options.schemas)
    deployment: Deployment = await asyncio.to_thread(load_config, options.config, catalogue)
    parts = _load_parts(deployment)
    settings = deployment.hub
    shutdown = shutdown_event(shutdown)
    ensure_port_free("the hub's HTTP server", settings.http.host, settings.http.port)

    # Each resource registers its own clean-up as it starts: they run in reverse order,
    # whatever failed part-way.
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(_mark_not_ready)
        embedded_bootstrap: str | None = None
        if deployment.uses_embedded_broker:
            broker = EmbeddedBroker(settings.embedded_broker.host, settings.embedded_broker.port)
            embedded_bootstrap = await asyncio.to_thread(broker.start)
            stack.push_async_callback(asyncio.to_thread, broker.stop)
        set_ready("broker", True)
        engine, writers, internal_secret = await _open_store(deployment, stack)

        local = hub_url(deployment)  # how this process reaches itself
        base = (settings.http.public_url or local).rstrip("/")  # how clients reach it
        registry_url = f"{base}/registry"
        connections = Connections(
            deployment,
            EmbeddedEndpoints(
                embedded_bootstrap,
                f"{local}/registry",
                registry_auth=(INTERNAL_USER, internal_secret),
            ),
        )
        admins = _cluster_admins(deployment, connections)
        default_bootstrap = next(iter(admins))
        disclosure = kafka_disclosure(
            engine,
            advertise=settings.http.advertise_kafka,
            embedded=default_bootstrap == embedded_bootstrap,
        )
        info = HubInfo(
            default_bootstrap, registry_url, base, settings.kafka_client, may_see_kafka=disclosure
        )
        all_running = asyncio.Event()
        app = _hub_app(deployment, info, engine, admins, all_running, registry_writers=writers)
        context = HubContext(
            deployment, catalogue, connections, engine, app, shutdown, writers.access
        )
        damaged: dict[str, IncompatibleSchemaError] = {}
        _check_damaged_subjects(app, context, damaged)
        for part in parts:
            part.configure(context)
        runner = await _start_http(app, settings.http.host, settings.http.port)
        stack.push_async_callback(runner.cleanup)
        stack.push_async_callback(connections.close)
        set_ready("http", True)

        report = await _apply(context, damaged)
        started: list[Part] = []
        stack.push_async_callback(_stop_parts, started)
        for part in parts:
            await part.start(context)
            started.append(part)
        all_running.set()
        # The broker gauge follows the clusters from now on (stopped at shutdown).
        stack.push_async_callback(
            drain, [asyncio.create_task(_follow_brokers(admins, shutdown))], 0.0
        )
        announce(f"Kafka bootstrap: {default_bootstrap}")
        announce(f"Schema registry: {registry_url}")
        announce(f"Gateway:         {base}  (/v1/info, /healthz, /readyz, /metrics)")
        announce(
            f"Topics: {len(report.created_topics)} created, {len(report.existing_topics)} "
            f"existing; {len(report.registered)} schemas registered"
            + (
                f"; {len(report.incompatible)} subject(s) refuse their schema (see /readyz)"
                if report.incompatible
                else ""
            )
            + "".join(f"; {part.name} running" for part in started)
            + ". Ctrl-C to stop."
        )
        await shutdown.wait()
        announce("shutting down")
