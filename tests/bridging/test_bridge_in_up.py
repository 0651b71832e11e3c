"""`tsunagu up` runs the bridges of its configuration: records of Kaga's cluster arrive on
Ishikawa's, `/metrics` counts the bridge's records, and SIGTERM stops it all cleanly."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from hub.broker import free_port
from tests.bridging.processes import BRIDGE, TopicReader, World
from tests.cli import CLI


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    try:
        async with session.get(url) as response:
            return response.status, await response.text()
    except aiohttp.ClientError:
        return 0, ""


async def test_up_runs_the_bridges_of_its_configuration(
    tmp_path: Path, make_world: Callable[..., World]
) -> None:
    world = make_world()
    port = free_port()
    world.config.write_text(
        world.config.read_text().replace(
            "hub:\n", f"hub:\n  http: {{host: 127.0.0.1, port: {port}}}\n"
        )
    )
    await world.apply()
    await world.produce_positions(0, 30)
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "up.log").open("wb")
    process = subprocess.Popen(
        [
            *CLI,
            "up",
            "--config",
            str(world.config),
            "--schemas",
            str(world.schemas),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    reader = TopicReader(world.bootstrap_b, world.target)
    try:
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 60
            while (await _get(session, f"{base}/readyz"))[0] != 200:
                assert process.poll() is None, (tmp_path / "up.log").read_text()
                assert time.monotonic() < deadline, "the hub did not become ready"
                await asyncio.sleep(0.2)
            # The loop must stay free: it serves both areas' registries to the hub.
            await reader.wait_for(lambda: reader.count() >= 30, 60, "30 converted records")
            metric = f'tsunagu_bridge_records_out_total{{bridge="{BRIDGE}"}} 30.0'
            deadline = time.monotonic() + 20
            while metric not in (await _get(session, f"{base}/metrics"))[1]:
                assert time.monotonic() < deadline, f"{metric} not in /metrics"
                await asyncio.sleep(0.2)
        # Each source record once: 30 distinct idempotency keys.
        assert len(set(reader.keys())) == 30
    finally:
        reader.close()
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 30)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()
