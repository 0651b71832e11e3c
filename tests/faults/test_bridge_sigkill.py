"""The fault suite's bridge row: ``tsunagu bridge`` (default at-least-once delivery) SIGKILLed
mid-stream and restarted on the same consumer group; every source record reaches the
target, and the copies a restart makes are counted (each carries its origin as the
idempotency-key header, so consumers can drop them). The exactly-once variant is
tests/bridging/test_bridge_exactly_once.py; the harness is tests/bridging/processes.py."""

from __future__ import annotations

import asyncio
import collections
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.faults import Figures, render
from hub.broker import EmbeddedBroker
from tests.bridging.conftest import broker_b, make_world, two_registries
from tests.bridging.processes import TopicReader, World

__all__ = ["broker_b", "make_world", "two_registries"]  # fixtures this module uses

TOTAL = 30_000


@pytest.mark.timeout(400)
async def test_fault_scenario_bridge_sigkill(
    make_world: Callable[..., World], tmp_path: Path
) -> None:
    with EmbeddedBroker(log_dir=tmp_path / "broker") as broker:
        world = make_world(
            bootstrap_a=broker.bootstrap_servers, bootstrap_b=broker.bootstrap_servers
        )
        await world.apply()
        await world.produce_positions(0, TOTAL)
        target = TopicReader(world.bootstrap_b, world.target)
        try:
            first = world.start_bridge()
            await target.wait_for(lambda: target.count() > 0, 120, "the first bridged records")
            first.send_signal(signal.SIGKILL)
            await asyncio.to_thread(first.wait, 10)
            killed = time.monotonic()
            at_kill = target.count()
            assert at_kill < TOTAL, "killed too late to prove anything"
            world.start_bridge()
            try:
                await target.wait_for(
                    lambda: len(set(target.keys())) >= TOTAL, 200, f"{TOTAL} distinct records"
                )
            except AssertionError as exc:
                raise AssertionError(
                    f"{exc}: {len(set(target.keys()))} distinct, {target.count()} in all, "
                    f"{at_kill} at the kill; bridge logs:\n{world.logs()[-4000:]}"
                ) from exc
            recovery = time.monotonic() - killed
            await asyncio.sleep(2)  # late copies, if any, show up in the count
            keys = collections.Counter(target.keys())
        finally:
            target.close()
            world.stop_all()
    figures = Figures(
        "bridge-sigkill",
        acknowledged=TOTAL,
        found=len(keys),
        duplicates=sum(keys.values()) - len(keys),
        recovery_s=recovery,
        notes=[
            f"{at_kill} record(s) on the target at the kill",
            "recovery: from the kill to every record on the target",
        ],
    )
    print("\n" + render([figures]))  # the suite's table, shown with -s or -rP
    assert figures.found == figures.acknowledged
