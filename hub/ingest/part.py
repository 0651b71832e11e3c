"""The feeds of a deployment as a part of ``tsunagu up``: every enabled feed on its schedule,
each in its own task so one failing feed never holds up another."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import orjson
from aiohttp import web

from hub import __version__
from hub.config import Deployment
from hub.errors import IncompatibleSchemaError
from hub.ingest.build import build_feed_runner
from hub.ingest.runner import FeedRunner
from hub.ingest.state import FeedStateStore
from hub.tasks import drain

if TYPE_CHECKING:
    from hub.parts import HubContext

__all__ = ["FeedsPart", "feeds_part", "user_agent"]

log = logging.getLogger(__name__)

# How often a feed waiting for its subject to be repaired tries to start again.
_RETRY_BUILD_S = 10.0


def _waiting_reason(error: IncompatibleSchemaError) -> str:
    return f"{error}; waiting for `tsunagu schemas repair {error.subject}`"


def user_agent() -> str:
    """How the hub introduces itself to publishers (some block anonymous clients)."""
    return f"tsunagu/{__version__} (+https://github.com/tsunagu)"


class FeedsPart:
    """Runs every enabled feed of the deployment."""

    name = "feeds"

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.runners: dict[str, FeedRunner] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._downloads: tempfile.TemporaryDirectory[str] | None = None
        self._store: FeedStateStore | None = None
        #: Feeds that cannot start yet, and why (their topic's subject refuses the schema).
        self.waiting: dict[str, str] = {}

    def configure(self, context: HubContext) -> None:
        context.app.router.add_get("/v1/feeds", self._feeds)

    async def start(self, context: HubContext) -> None:
        self._store = FeedStateStore(context.engine)
        self._session = aiohttp.ClientSession(headers={"User-Agent": user_agent()})
        self._downloads = tempfile.TemporaryDirectory(prefix="tsunagu-downloads-")
        for feed_id, feed in self.deployment.feeds.items():
            if not feed.enabled:
                continue
            try:
                self.runners[feed_id] = await self._build(feed_id, context)
            except IncompatibleSchemaError as exc:
                # Its topic's subject holds another schema (a damaged registry): this feed
                # cannot encode, the others can. It waits for the repair and then starts.
                self.waiting[feed_id] = _waiting_reason(exc)
                log.warning("feed %s waits: %s", feed_id, self.waiting[feed_id])
                task = asyncio.create_task(self._start_later(feed_id, context))
                self._tasks.append(task)
        for feed_id, runner in self.runners.items():
            task = asyncio.create_task(runner.run_forever(self._stop), name=f"feed:{feed_id}")
            self._tasks.append(task)

    async def _build(self, feed_id: str, context: HubContext) -> FeedRunner:
        assert self._store is not None
        assert self._session is not None
        assert self._downloads is not None
        return await build_feed_runner(
            feed_id,
            self.deployment,
            context.catalogue,
            context.connections,
            self._store,
            session=self._session,
            download_dir=Path(self._downloads.name),
        )

    async def _start_later(self, feed_id: str, context: HubContext) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), _RETRY_BUILD_S)
                return
            try:
                runner = await self._build(feed_id, context)
            except IncompatibleSchemaError as exc:
                self.waiting[feed_id] = _waiting_reason(exc)
                continue
            except Exception:
                log.exception("feed %s could not start; trying again", feed_id)
                continue
            log.info("feed %s starts: its schema is registered now", feed_id)
            self.waiting.pop(feed_id, None)
            self.runners[feed_id] = runner
            await runner.run_forever(self._stop)
            return

    async def stop(self) -> None:
        self._stop.set()
        # A cycle in progress gets a bounded time to finish what it is producing.
        await drain(self._tasks)
        if self._session is not None:
            await self._session.close()
        if self._downloads is not None:
            self._downloads.cleanup()

    async def _feeds(self, _: web.Request) -> web.Response:
        statuses = {s.feed: s for s in await self._store.all_statuses()} if self._store else {}
        body = []
        for feed_id, feed in self.deployment.feeds.items():
            status = statuses.get(feed_id)
            waiting = self.waiting.get(feed_id)
            body.append(
                {
                    "id": feed_id,
                    "adapter": feed.adapter,
                    "enabled": feed.enabled,
                    "topics": feed.target_topics,
                    "healthy": False if waiting else (status.healthy if status else None),
                    "last_success_ms": status.last_success_ms if status else None,
                    "last_error": waiting or (status.last_error if status else None),
                    "last_error_ms": status.last_error_ms if status else None,
                    "newest_observed_ms": status.newest_observed_ms if status else None,
                    "consecutive_failures": status.consecutive_failures if status else 0,
                }
            )
        return web.Response(body=orjson.dumps(body), content_type="application/json")


def feeds_part(deployment: Deployment) -> FeedsPart | None:
    """The part ``up`` runs for feeds, or None when the deployment has no enabled feed."""
    if not any(feed.enabled for feed in deployment.feeds.values()):
        return None
    return FeedsPart(deployment)
