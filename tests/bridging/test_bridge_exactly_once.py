"""Exactly-once within one cluster: with Kafka transactions, a bridge killed mid-stream and
restarted leaves each record exactly once for a read_committed consumer.

The test has a broker of its own. Late in a full run on the session broker, tansu once
never aborted the killed process's open transaction: the restarted bridge's records were
all in the log, but read_committed readers stayed behind the stuck transaction (500
committed, 20,500 in the log after 200 s; an earlier run timed out the same way). On a
fresh broker it is aborted after the 10 s transaction timeout; the test takes about 30 s."""

from __future__ import annotations

import asyncio
import collections
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.broker import EmbeddedBroker
from tests.bridging.processes import TopicReader, World


# Two group joins on the embedded broker, a transaction timeout and 20,000 records in
# transactions: on a loaded machine that takes longer than the suite's default 120 s.
@pytest.mark.timeout(300)
async def test_a_killed_transactional_bridge_still_delivers_each_record_once(
    make_world: Callable[..., World], tmp_path: Path
) -> None:
    total = 20_000
    with EmbeddedBroker(log_dir=tmp_path / "broker") as broker:
        await _kill_and_restart(make_world, broker.bootstrap_servers, total)


async def _kill_and_restart(make_world: Callable[..., World], bootstrap: str, total: int) -> None:
    world = make_world(
        bootstrap_a=bootstrap,  # both areas on one cluster
        bootstrap_b=bootstrap,
        bridge_options=", delivery: exactly-once",
    )
    await world.apply()
    await world.produce_positions(0, total)
    committed = TopicReader(world.bootstrap_b, world.target, read_committed=True)
    everything = TopicReader(world.bootstrap_b, world.target)
    try:
        first = world.start_bridge()
        await committed.wait_for(lambda: committed.count() > 0, 60, "the first transaction")
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 10)
        at_kill = committed.count()
        assert at_kill < total, "killed too late to prove anything"
        world.start_bridge()
        try:
            await committed.wait_for(lambda: committed.count() >= total, 200, f"{total} records")
        except AssertionError as exc:
            # Once in a full run on a loaded machine the restarted bridge delivered too
            # little in 120 s, though it takes about 30 s alone: say where it stood.
            raise AssertionError(
                f"{exc}: {committed.count()} committed, {everything.count()} in the log, "
                f"{at_kill} at the kill; bridge logs:\n{world.logs()[-6000:]}"
            ) from exc
        await asyncio.sleep(2)  # anything more would be a duplicate: give it time to show
        keys = collections.Counter(committed.keys())
        assert len(keys) == total
        assert max(keys.values()) == 1, "a committed record arrived twice"
        assert committed.count() == total
        # Uncommitted writes of the killed transaction may sit in the log, but a
        # read_committed consumer never sees them.
        print(f"killed after {at_kill} committed records; {everything.count()} in the log")
    finally:
        committed.close()
        everything.close()
        world.stop_all()
