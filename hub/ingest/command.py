"""``tsunagu ingest --feed ID [--once]``: one feed outside ``up``, with a progress bar."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Never

import aiohttp
from tqdm import tqdm

from hub.config import Deployment
from hub.connections import Connections
from hub.db import create_schema, make_engine
from hub.errors import ConfigError, Problem
from hub.ingest.build import build_feed_runner
from hub.ingest.part import user_agent
from hub.ingest.runner import CycleSummary
from hub.ingest.state import FeedStateStore
from hub.schemas.catalogue import SchemaCatalogue
from hub.signals import shutdown_event

__all__ = ["ProgressBars", "run_ingest"]


class ProgressBars:
    """One tqdm bar per stage of a long import (rows of stop_times.txt, ...), on stderr."""

    def __init__(self) -> None:
        self._bars: dict[str, tqdm[Never]] = {}

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage not in self._bars:
            self._bars[stage] = tqdm(desc=stage, total=total, unit=" rows", leave=True)
        bar = self._bars[stage]
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


async def run_ingest(
    deployment: Deployment,
    catalogue: SchemaCatalogue,
    connections: Connections,
    feed_id: str,
    *,
    once: bool,
    progress: bool,
    shutdown: asyncio.Event | None = None,
) -> CycleSummary | None:
    """Run the feed once (returning the summary) or until ``shutdown`` is set (by default:
    SIGINT or SIGTERM), returning None."""
    if feed_id not in deployment.feeds:
        known = ", ".join(sorted(deployment.feeds)) or "none"
        raise ConfigError(
            [Problem("topics.yaml", None, f"feeds.{feed_id}", f"no such feed (known: {known})")]
        )
    engine = make_engine(deployment.hub.store.resolved_url())
    bars = ProgressBars() if progress else None
    try:
        await create_schema(engine)
        async with aiohttp.ClientSession(headers={"User-Agent": user_agent()}) as session:
            with tempfile.TemporaryDirectory(prefix="tsunagu-downloads-") as downloads:
                runner = await build_feed_runner(
                    feed_id,
                    deployment,
                    catalogue,
                    connections,
                    FeedStateStore(engine),
                    session=session,
                    download_dir=Path(downloads),
                    progress=bars,
                )
                if once:
                    await runner.load_status()
                    return await runner.run_cycle()
                await runner.run_forever(shutdown_event(shutdown))
                return None
    finally:
        if bars is not None:
            bars.close()
        await engine.dispose()
