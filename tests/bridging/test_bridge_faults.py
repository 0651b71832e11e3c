"""Bridges survive: a bridge process SIGKILLed mid-stream and restarted loses nothing (the
duplicates at-least-once brings are found by their idempotency keys), and three processes
sharing six partitions take over from one that is killed until the lag is zero."""

from __future__ import annotations

import asyncio
import collections
import re
import signal
from collections.abc import Callable, Iterator

import pytest

from tests.bridging.processes import TopicReader, World


@pytest.fixture
def world(make_world: Callable[..., World], request: pytest.FixtureRequest) -> Iterator[World]:
    w = make_world(partitions=getattr(request, "param", 3))
    try:
        yield w
    finally:
        w.stop_all()


def report(keys: list[bytes], total: int) -> tuple[int, int]:
    """(distinct idempotency keys, duplicates) among what arrived."""
    counts = collections.Counter(keys)
    assert len(keys) >= total
    return len(counts), sum(c - 1 for c in counts.values())


async def test_a_bridge_killed_mid_stream_loses_nothing(world: World) -> None:
    total = 20_000
    await world.apply()
    await world.produce_positions(0, total)
    reader = TopicReader(world.bootstrap_b, world.target)
    try:
        first = world.start_bridge()
        await reader.wait_for(lambda: reader.count() > 0, 60, "the first converted records")
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 10)
        at_kill = reader.count()
        assert 0 < at_kill < total, "killed too late to prove anything"
        world.start_bridge()
        await reader.wait_for(lambda: len(set(reader.keys())) >= total, 120, f"all {total} records")
        distinct, duplicates = report(reader.keys(), total)
        assert distinct == total
        print(f"killed after {at_kill} records; {duplicates} duplicates after the restart")
    finally:
        reader.close()


@pytest.mark.parametrize("world", [6], indirect=True)
async def test_three_processes_share_six_partitions_and_survive_a_kill(world: World) -> None:
    total = 30_000
    await world.apply()
    reader = TopicReader(world.bootstrap_b, world.target)
    try:
        bridges = [world.start_bridge() for _ in range(3)]
        await world.produce_positions(0, 3_000)
        await reader.wait_for(
            lambda: len(set(reader.keys())) >= 3_000, 90, "the first 3,000 records"
        )
        await reader.wait_for(
            lambda: len(held_partitions(world)) == 3, 30, "every process to report partitions"
        )
        held = held_partitions(world)
        assert sorted(p for ps in held.values() for p in ps) == list(range(6)), held
        bridges[0].send_signal(signal.SIGKILL)
        await asyncio.to_thread(bridges[0].wait, 10)
        await world.produce_positions(3_000, total - 3_000)
        await reader.wait_for(lambda: len(set(reader.keys())) >= total, 120, f"all {total} records")
        distinct, duplicates = report(reader.keys(), total)
        assert distinct == total
        print(f"{duplicates} duplicates after the kill")
        # The two survivors now read all six partitions between them.
        killed = f"bridge-{0}.log"

        def survivors_cover_all() -> bool:
            held = held_partitions(world)
            held.pop(killed, None)
            return sorted(p for ps in held.values() for p in ps) == list(range(6))

        await reader.wait_for(survivors_cover_all, 30, "the survivors to hold all partitions")
        # Every partition's committed offset reaches its end: the lag is zero.
        assert await asyncio.to_thread(committed_lag, world) == 0
    finally:
        reader.close()


_HELD = re.compile(r"this process now reads partitions ([\d, ]+) of")


def held_partitions(world: World) -> dict[str, list[int]]:
    """The partitions each bridge process last said it reads (from its log)."""
    held: dict[str, list[int]] = {}
    for log in sorted(world.directory.glob("bridge*.log")):
        reports = _HELD.findall(log.read_text(errors="replace"))
        if reports:
            held[log.name] = [int(p) for p in reports[-1].split(", ")]
    return held


def committed_lag(world: World) -> int:
    """Records of the source topic not yet committed by the bridge's group."""
    import confluent_kafka  # noqa: PLC0415

    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": world.bootstrap_a,
            "group.id": world.group,
            "enable.auto.commit": False,
            "log_level": 3,
        }
    )
    try:
        metadata = consumer.list_topics(world.source, timeout=10)
        partitions = [
            confluent_kafka.TopicPartition(world.source, p)
            for p in metadata.topics[world.source].partitions
        ]
        committed = consumer.committed(partitions, timeout=15)
        lag = 0
        for tp in committed:
            _, high = consumer.get_watermark_offsets(tp, timeout=10)
            lag += max(0, high - max(tp.offset, 0))
        return lag
    finally:
        consumer.close()
