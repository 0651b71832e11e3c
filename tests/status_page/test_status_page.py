"""The status page in a real headless Chromium, against a running hub: the feed and topic
tables render from /v1/status, and the canvas draws the vehicles of a positions topic live
from its SSE stream, loading nothing from outside the hub."""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, async_playwright

from hub.kafka import Cluster
from tests.conftest import service_missing
from tests.gateway_docs.running_hub import RunningHub, feed_positions, running_hub, wait_for

CHROMIUM = "/usr/bin/chromium"
# Seconds the page may take to show what the hub has; generous, the machine is shared.
SHOWS_WITHIN_MS = 30_000


@pytest.fixture
async def hub(tmp_path: Path, cluster: Cluster, unique: str) -> AsyncIterator[RunningHub]:
    observed = int(time.time() * 1000) - 60_000
    body = feed_positions(("bus-1", 36.30, 136.31, observed), ("bus-2", 36.32, 136.35, observed))
    async with running_hub(tmp_path, cluster.bootstrap_servers, unique, body) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        service_missing(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    async with async_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        instance = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield instance
        finally:
            await instance.close()


def position(i: int, lat: float, lon: float) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Vehicle:town:tram-{i}", "latitude": lat, "longitude": lon}


async def drawn(page: Page) -> int:
    return int(await page.get_attribute("#positions", "data-points") or "0")


async def blue_pixels(page: Page) -> int:
    """Pixels of the canvas painted in the vehicles' colour (#0969da)."""
    count: int = await page.evaluate(
        """() => {
            const c = document.getElementById("positions");
            const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4)
                if (d[i] === 9 && d[i + 1] === 105 && d[i + 2] === 218 && d[i + 3] > 200) n++;
            return n;
        }"""
    )
    return count


async def test_status_page_shows_feeds_topics_and_live_vehicles(
    hub: RunningHub, browser: Browser
) -> None:
    async with aiohttp.ClientSession() as session:

        async def fed() -> bool:
            feeds = await hub.get_json(session, "/v1/feeds")
            return bool(feeds[0]["healthy"])

        await wait_for(fed, "the feed's first cycle")
        published = [position(1, 36.28, 136.29), position(2, 36.33, 136.36)]
        response = await hub.publish(session, hub.positions, published)
        assert response.status == 200

        page = await browser.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{hub.base}/status")

        # Tables from /v1/status.
        feed_row = page.locator('#feeds tr[data-feed="town-positions"]')
        await feed_row.wait_for(timeout=SHOWS_WITHIN_MS)
        assert "healthy" in await feed_row.inner_text()
        for topic in (hub.positions, hub.sensors):
            await page.locator(f'#topics tr[data-topic="{topic}"]').wait_for()
        await page.locator("#bridges-empty").wait_for()  # no bridges in this deployment

        # The vehicles of the feed and of the HTTP publisher, drawn from the stream.
        assert await page.input_value("#positions-topic") == hub.positions
        await page.wait_for_function(
            "() => document.getElementById('positions').dataset.points === '4'",
            timeout=SHOWS_WITHIN_MS,
        )
        assert await page.inner_text("#drawn-count") == "4"
        assert await blue_pixels(page) > 0

        # A vehicle published while the page is open appears live.
        response = await hub.publish(session, hub.positions, [position(3, 36.31, 136.33)])
        assert response.status == 200
        await page.wait_for_function(
            "() => document.getElementById('positions').dataset.points === '5'",
            timeout=SHOWS_WITHIN_MS,
        )
        assert await drawn(page) == 5

        # The page's own stream counts as a subscriber, and the next polls show it with a
        # records-per-second rate computed from two samples.
        await page.wait_for_function(
            "() => Number(document.getElementById('subscribers').textContent) >= 1",
            timeout=SHOWS_WITHIN_MS,
        )
        rate_cell = page.locator(f'#topics tr[data-topic="{hub.positions}"] td').nth(2)
        await page.wait_for_function(
            "(cell) => cell.textContent !== '\\u2013'",  # the page's dash for "no rate yet"
            arg=await rate_cell.element_handle(),
            timeout=SHOWS_WITHIN_MS,
        )

        assert errors == []
        assert requested, "the page made no requests"
        outside = [url for url in requested if not url.startswith(hub.base + "/")]
        assert outside == [], "the page must load nothing from outside the hub"
        await page.close()
