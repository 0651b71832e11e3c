"""The routes that serve the four catalogue documents."""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from hub.config import Deployment
from hub.feed_status import FeedStatus, FeedStatuses
from hub.gateway.docs.asyncapi import asyncapi_document
from hub.gateway.docs.catalog import catalog_document
from hub.gateway.docs.common import HubAddresses
from hub.gateway.docs.dcat import JSON_LD, dcat_document
from hub.gateway.openapi import openapi_document
from hub.http.app import HubInfo
from hub.schemas.catalogue import SchemaCatalogue

__all__ = ["CatalogDocs"]


class CatalogDocs:
    """Serves the four catalogue documents of a deployment."""

    def __init__(
        self,
        deployment: Deployment,
        catalogue: SchemaCatalogue,
        info: HubInfo,
        feed_store: FeedStatuses | None,
    ) -> None:
        self.deployment = deployment
        self.catalogue = catalogue
        self.addresses = HubAddresses.of(info)
        self.feed_store = feed_store
        # Read from the package once, here, rather than in the event loop.
        self._openapi_body = orjson.dumps(openapi_document(self.addresses.gateway_url))

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/catalog", self._catalog)
        app.router.add_get("/catalog.jsonld", self._dcat)
        app.router.add_get("/asyncapi.json", self._asyncapi)
        app.router.add_get("/openapi.json", self._openapi)

    async def _statuses(self) -> list[FeedStatus]:
        return await self.feed_store.all_statuses() if self.feed_store is not None else []

    async def _catalog(self, _: web.Request) -> web.Response:
        document = catalog_document(
            self.deployment, self.catalogue, self.addresses, await self._statuses(), _now_ms()
        )
        return _json(document)

    async def _dcat(self, _: web.Request) -> web.Response:
        document = dcat_document(self.deployment, self.addresses, await self._statuses(), _now_ms())
        return _json(document, JSON_LD)

    async def _asyncapi(self, _: web.Request) -> web.Response:
        return _json(asyncapi_document(self.deployment, self.catalogue, self.addresses))

    async def _openapi(self, _: web.Request) -> web.Response:
        return web.Response(body=self._openapi_body, content_type="application/json")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _json(document: object, content_type: str = "application/json") -> web.Response:
    return web.Response(body=orjson.dumps(document), content_type=content_type)
