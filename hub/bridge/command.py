"""``tsunagu bridge --name NAME`` and the bridges part of ``tsunagu up``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from hub.bridge.build import build_bridge
from hub.bridge.runner import BridgeRunner
from hub.config import Deployment
from hub.connections import Connections
from hub.errors import ConfigError, Problem
from hub.http.app import NotReady, add_readiness_check
from hub.schemas.catalogue import SchemaCatalogue
from hub.signals import shutdown_event
from hub.tasks import drain

if TYPE_CHECKING:
    from hub.parts import HubContext

__all__ = ["BridgesPart", "bridges_part", "run_bridge"]

log = logging.getLogger(__name__)


async def run_bridge(
    deployment: Deployment,
    catalogue: SchemaCatalogue,
    connections: Connections,
    name: str,
    *,
    announce: bool = True,
    shutdown: asyncio.Event | None = None,
) -> None:
    """Run bridge ``name`` until ``shutdown`` is set (by default: SIGINT or SIGTERM); more
    processes share its partitions."""
    if name not in deployment.bridges:
        known = ", ".join(sorted(deployment.bridges)) or "none"
        raise ConfigError(
            [Problem("topics.yaml", None, f"bridges.{name}", f"no such bridge (known: {known})")]
        )
    runner = await build_bridge(name, deployment, catalogue, connections)
    shutdown = shutdown_event(shutdown)
    if announce:
        ends = runner.ends
        print(
            f"bridge {name}: {ends.source_topic} ({ends.source_area}) -> "
            f"{ends.target_topic} ({ends.target_area}); Ctrl-C to stop",
            flush=True,
        )
    await runner.run(shutdown)


class BridgesPart:
    """Runs every bridge of the deployment inside ``tsunagu up``; each is a readiness check
    (``bridge:NAME``) that says why it is not moving."""

    name = "bridges"

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.runners: dict[str, BridgeRunner] = {}
        self.problems: dict[str, str] = {}
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def configure(self, context: HubContext) -> None:
        for name in self.deployment.bridges:
            add_readiness_check(context.app, f"bridge:{name}", self._readiness(name))

    def _readiness(self, name: str) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            runner = self.runners.get(name)
            problem = runner.problem if runner is not None else None
            problem = problem or self.problems.get(name)
            if problem is not None:
                raise NotReady(problem)
            if runner is None:
                raise NotReady("starting")
            return True

        return check

    async def start(self, context: HubContext) -> None:
        for name in self.deployment.bridges:
            self._tasks.append(asyncio.create_task(self._run(name, context), name=f"bridge:{name}"))

    async def _run(self, name: str, context: HubContext) -> None:
        # A bridge whose cluster or registry is down keeps retrying; it never takes the
        # hub down, and its readiness check says what it waits for.
        while not self._stop.is_set():
            try:
                runner = self.runners.get(name)
                if runner is None:
                    runner = await build_bridge(
                        name, self.deployment, context.catalogue, context.connections
                    )
                    self.runners[name] = runner
                self.problems.pop(name, None)
                await runner.run(self._stop)
            except Exception as exc:
                self.problems[name] = f"{type(exc).__name__}: {exc}; retrying in 5 s"
                log.exception("bridge %s failed; restarting in 5 s", name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 5)

    async def stop(self) -> None:
        self._stop.set()
        await drain(self._tasks)


def bridges_part(deployment: Deployment) -> BridgesPart | None:
    """The part ``up`` runs for bridges, or None when there are none."""
    return BridgesPart(deployment) if deployment.bridges else None
