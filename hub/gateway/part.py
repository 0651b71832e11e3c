"""The gateway as a part of ``tsunagu up``: its routes on the hub's HTTP server."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hub.access import setup_cors
from hub.access.checkpoints import KafkaCheckpoints, publish_checkpoints
from hub.config import Deployment
from hub.errors import TsunaguError
from hub.feed_status import FeedStatuses
from hub.gateway.docs.routes import CatalogDocs
from hub.gateway.service import Gateway
from hub.gateway.status import StatusPage
from hub.http.app import INFO_KEY

if TYPE_CHECKING:
    from hub.parts import HubContext

__all__ = ["GatewayPart", "gateway_part"]

log = logging.getLogger(__name__)


class GatewayPart:
    """Adds the gateway's routes; its readers start on the first request for a topic."""

    name = "gateway"

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.gateway: Gateway | None = None
        self._checkpoints: KafkaCheckpoints | None = None

    def configure(self, context: HubContext) -> None:
        self.gateway = Gateway(
            context.deployment,
            context.catalogue,
            context.connections,
            context.engine,
            access=context.access,
        )
        self.gateway.routes(context.app)
        feed_store = FeedStatuses(context.engine)
        CatalogDocs(
            context.deployment, context.catalogue, context.app[INFO_KEY], feed_store
        ).routes(context.app)
        StatusPage(context.deployment, feed_store).routes(context.app)
        origins = context.deployment.hub.http.cors_origins
        if origins:
            setup_cors(context.app, origins)

    async def start(self, context: HubContext) -> None:
        """Publish the audit log's checkpoints to Kafka; readers open when subscribers come."""
        if self.gateway is None:
            return
        deployment, connections = context.deployment, context.connections
        try:
            cluster = connections.cluster_for(None)
        except TsunaguError as exc:
            log.warning("audit checkpoints stay local: %s", exc)
            return
        self._checkpoints = await publish_checkpoints(
            self.gateway.access.audit,
            connections.backend,
            cluster,
            connections.admin_for(None),
            replication_factor=max(
                (t.replication_factor for t in deployment.topics.values()), default=1
            ),
        )

    async def stop(self) -> None:
        if self.gateway is not None:
            await self.gateway.close()  # the last audit entries are committed here
        if self._checkpoints is not None:
            await self._checkpoints.close()


def gateway_part(deployment: Deployment) -> GatewayPart:
    """The gateway runs in every hub."""
    return GatewayPart(deployment)
