"""Where each data area's Kafka cluster and schema registry are, and one client of each.

Every command that talks to Kafka or a registry (``up``, ``apply``, ``schemas check``,
``ingest``, ``bridge``) gets its clients here, so secrets are read, clients are shared
per cluster and everything is closed in one place. An area without a cluster or
registry of its own uses the deployment's, else the hub's embedded ones; a command
run beside ``tsunagu up`` finds those through the running hub's ``/v1/info``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import aiohttp
import orjson

from hub.config import Deployment, KafkaCluster, RegistryConnection, resolve_secret
from hub.errors import HubNotRunningError, TsunaguError
from hub.kafka import Admin, Backend, Cluster, Producer, get_backend
from hub.registry.client import RegistryClient

__all__ = ["Connections", "EmbeddedEndpoints", "discover_running_hub", "hub_url"]


@dataclass(frozen=True)
class EmbeddedEndpoints:
    """The embedded broker and registry of a hub: None where it runs none.

    `registry_auth` is the (user, password) the clients of the embedded registry send:
    the hub's internal credential inside ``tsunagu up``, an API key (key id, secret) for
    a command run beside it, or None to read only (registering a schema the registry
    already has still works: it is found by a lookup).
    """

    kafka_bootstrap: str | None
    registry_url: str | None
    #: The hub that would not tell this caller its broker address, if one did not.
    kafka_withheld_by: str | None = None
    registry_auth: tuple[str, str] | None = field(default=None, repr=False)


def hub_url(deployment: Deployment) -> str:
    """The base URL of the hub's HTTP server as the deployment configures it."""
    return deployment.hub.self_url


async def discover_running_hub(
    base_url: str, timeout: float = 5.0, *, registry_auth: tuple[str, str] | None = None
) -> EmbeddedEndpoints:
    """Ask a running hub (``GET /v1/info``) where its embedded broker and registry are;
    `registry_auth` is what to write its registry with (see `EmbeddedEndpoints`)."""
    url = f"{base_url.rstrip('/')}/v1/info"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url) as response,
        ):
            response.raise_for_status()
            info = orjson.loads(await response.read())
    except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
        raise HubNotRunningError(url, str(exc) or type(exc).__name__) from exc
    bootstrap = info["kafka"].get("bootstrap_servers")
    return EmbeddedEndpoints(
        bootstrap,
        info["registry"]["url"],
        kafka_withheld_by=None if bootstrap is not None else base_url,
        registry_auth=registry_auth,
    )


def _cluster(settings: KafkaCluster, purpose: str) -> Cluster:
    props = settings.client_properties(purpose)
    props.pop("bootstrap.servers", None)
    return Cluster(settings.bootstrap_servers, props)


def _registry(conn: RegistryConnection, purpose: str) -> RegistryClient:
    auth = None
    if conn.username_env is not None and conn.password_env is not None:
        auth = (
            resolve_secret(conn.username_env, f"{purpose}.username_env"),
            resolve_secret(conn.password_env, f"{purpose}.password_env"),
        )
    return RegistryClient(conn.url, auth=auth)


class Connections:
    """Clients per area, created on first use, shared per cluster, closed by ``close``."""

    def __init__(
        self,
        deployment: Deployment,
        embedded: EmbeddedEndpoints,
        backend: Backend | None = None,
    ) -> None:
        self.deployment = deployment
        self.embedded = embedded
        self.backend = backend or get_backend(deployment.hub.kafka_client)
        self._admins: dict[str, Admin] = {}
        self._producers: dict[str, Producer] = {}
        self._producer_lock = asyncio.Lock()
        self._registries: dict[str, RegistryClient] = {}

    def cluster_for(self, area: str | None = None) -> Cluster:
        """The cluster of ``area`` (None: the deployment's default cluster)."""
        settings = self.deployment.kafka_for(area) if area else self.deployment.kafka
        if settings is not None:
            purpose = (
                f"areas.{area}.kafka" if area and self.deployment.area(area).kafka else "kafka"
            )
            return _cluster(settings, purpose)
        if self.embedded.kafka_withheld_by is not None:
            raise TsunaguError(
                f"the hub at {self.embedded.kafka_withheld_by} does not give its broker address "
                "to this caller: run the command on the hub's machine (its embedded broker "
                "listens on loopback only)"
            )
        if self.embedded.kafka_bootstrap is None:
            where = f"area {area!r}" if area else "the deployment"
            raise TsunaguError(f"{where} has no Kafka cluster and no broker is embedded")
        return Cluster(self.embedded.kafka_bootstrap)

    def registry_url_for(self, area: str) -> str:
        """The registry URL ``area`` registers and resolves its schemas with."""
        conn = self.deployment.registry_for(area)
        if conn is not None:
            return conn.url
        if self.embedded.registry_url is None:
            raise TsunaguError(f"area {area!r} has no schema registry and none is embedded")
        return self.embedded.registry_url

    def admin_for(self, area: str | None = None) -> Admin:
        """An admin client of the area's cluster (one per cluster)."""
        cluster = self.cluster_for(area)
        if cluster.bootstrap_servers not in self._admins:
            self._admins[cluster.bootstrap_servers] = self.backend.admin(cluster)
        return self._admins[cluster.bootstrap_servers]

    async def producer_for(self, area: str) -> Producer:
        """A started producer on the area's cluster (one per cluster)."""
        cluster = self.cluster_for(area)
        async with self._producer_lock:
            producer = self._producers.get(cluster.bootstrap_servers)
            if producer is None:
                producer = self.backend.producer(cluster)
                await producer.start()
                self._producers[cluster.bootstrap_servers] = producer
            return producer

    def registry_for(self, area: str) -> RegistryClient:
        """A client of the area's registry (one per registry URL)."""
        url = self.registry_url_for(area)
        if url not in self._registries:
            conn = self.deployment.registry_for(area)
            if conn is None:
                self._registries[url] = RegistryClient(url, auth=self.embedded.registry_auth)
            else:
                purpose = (
                    f"areas.{area}.registry" if self.deployment.area(area).registry else "registry"
                )
                self._registries[url] = _registry(conn, purpose)
        return self._registries[url]

    async def close(self) -> None:
        """Stop producers (delivering what is in flight), close admins and registry clients."""
        producers, self._producers = list(self._producers.values()), {}
        admins, self._admins = list(self._admins.values()), {}
        registries, self._registries = list(self._registries.values()), {}
        await asyncio.gather(*(p.stop() for p in producers), return_exceptions=True)
        await asyncio.gather(*(a.close() for a in admins), return_exceptions=True)
        await asyncio.gather(*(r.close() for r in registries), return_exceptions=True)
