"""The gateway as a part of ``tsunagu up``: its routes on the hub's HTTP server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.access import setup_cors
from hub.config import Deployment
from hub.gateway.catalog import CatalogDocs
from hub.gateway.publish import PublishLimits
from hub.gateway.service import Gateway
from hub.gateway.status import StatusPage
from hub.http.app import INFO_KEY
from hub.ingest.state import FeedStateStore

if TYPE_CHECKING:
    from hub.up import HubContext

__all__ = ["GatewayPart", "gateway_part"]


class GatewayPart:
    """Adds the gateway's routes; its readers start on the first request for a topic."""

    name = "gateway"

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.gateway: Gateway | None = None

    def configure(self, context: HubContext) -> None:
        self.gateway = Gateway(
            context.deployment,
            context.catalogue,
            context.connections,
            context.engine,
            limits=PublishLimits(
                publish_timeout_s=context.deployment.hub.publish_timeout.total_seconds()
            ),
        )
        self.gateway.routes(context.app)
        feed_store = FeedStateStore(context.engine)
        CatalogDocs(
            context.deployment, context.catalogue, context.app[INFO_KEY], feed_store
        ).routes(context.app)
        StatusPage(context.deployment, feed_store).routes(context.app)
        origins = context.deployment.hub.http.cors_origins
        if origins:
            setup_cors(context.app, origins)

    async def start(self, context: HubContext) -> None:
        """Nothing to start: readers open when subscribers come."""

    async def stop(self) -> None:
        if self.gateway is not None:
            await self.gateway.close()


def gateway_part(deployment: Deployment) -> GatewayPart:
    """The gateway runs in every hub."""
    return GatewayPart(deployment)
