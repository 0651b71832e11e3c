"""What a running hub offers its parts, and what a part is.

Low in the layers on purpose: every part (feeds, bridges, gateway) names these types, and
only the entry points (``hub.up``, ``hub.cli``) may import the start-up module itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aiohttp import web
    from sqlalchemy.ext.asyncio import AsyncEngine

    from hub.access.http import AccessControl
    from hub.config import Deployment
    from hub.connections import Connections
    from hub.schemas.catalogue import SchemaCatalogue

__all__ = ["HubContext", "Part"]


@dataclass
class HubContext:
    """What a running hub offers its parts."""

    deployment: Deployment
    catalogue: SchemaCatalogue
    connections: Connections
    engine: AsyncEngine
    app: web.Application
    shutdown: asyncio.Event
    #: The one access control (keys, grants, audit log) every part audits through: two
    #: would append to one keyed chain from two batches.
    access: AccessControl | None = None


class Part(Protocol):
    """One capability ``up`` runs (the feeds, the bridges, the gateway...)."""

    name: str

    def configure(self, context: HubContext) -> None:
        """Add routes and readiness checks; called before the HTTP server starts."""

    async def start(self, context: HubContext) -> None:
        """Start working; called after topics exist and schemas are registered."""

    async def stop(self) -> None:
        """Stop, finishing or abandoning in-flight work within a bounded time."""
