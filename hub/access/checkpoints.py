"""Audit checkpoints on Kafka: the head of the audit chain, signed with the audit key,
published to a topic outside the store, so that every hub replica sharing one store (and
`tsunagu audit verify` anywhere) sees how far the log reached even when no local checkpoint
file survives (a pod's disk, a new machine).

Publishing lags the commits by at most `interval_s` and never delays an answer; the local
checkpoint file (written before a publish is answered) is what covers the last second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time

from hub import metrics
from hub.access.audit import AuditLog, Checkpoint
from hub.errors import KafkaError
from hub.kafka import Admin, Backend, Cluster, Outgoing, Producer, Reader, TopicSpec

__all__ = [
    "CHECKPOINT_TOPIC",
    "KafkaCheckpoints",
    "checkpoint_topic_spec",
    "publish_checkpoints",
    "read_checkpoints",
]

log = logging.getLogger(__name__)

#: Where the hub publishes its audit checkpoints.
CHECKPOINT_TOPIC = "_tsunagu.audit-checkpoints"


def checkpoint_topic_spec(replication_factor: int = 1, topic: str = CHECKPOINT_TOPIC) -> TopicSpec:
    """The checkpoint topic: one partition (order is the writers'), compacted per writer, so
    each writer's latest head stays for as long as the cluster keeps the topic."""
    return TopicSpec(
        topic,
        partitions=1,
        replication_factor=replication_factor,
        config={"cleanup.policy": "compact"},
    )


class KafkaCheckpoints:
    """Publishes the newest checkpoint an `AuditLog` reports (its `checkpoint_listeners`),
    at most once per `interval_s`, in the background; `close` publishes the last one."""

    def __init__(
        self, producer: Producer, *, interval_s: float = 1.0, topic: str = CHECKPOINT_TOPIC
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.interval_s = interval_s
        # Compaction keeps the newest record per key: one key per hub process.
        self.writer = f"{socket.gethostname()}:{id(self):x}".encode()
        self._latest: Checkpoint | None = None
        self._published = 0
        self._next_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def __call__(self, point: Checkpoint) -> None:
        if self._latest is None or point.seq > self._latest.seq:
            self._latest = point
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._publish_soon())

    async def _publish_soon(self) -> None:
        await asyncio.sleep(max(0.0, self._next_at - time.monotonic()))
        await self.publish()

    async def publish(self) -> None:
        """Publish the newest checkpoint now, unless it already was."""
        point = self._latest
        if point is None or point.seq <= self._published:
            return
        self._next_at = time.monotonic() + self.interval_s
        try:
            await self.producer.send_batch(self.topic, [Outgoing(self.writer, point.to_json())])
        except KafkaError as exc:
            metrics.AUDIT_CHECKPOINT_FAILURES.inc()
            # Once when it starts failing, once when it recovers; the next commit retries.
            if not self._failing:
                log.warning("could not publish the audit checkpoint to Kafka: %s", exc)
            self._failing = True
            return
        if self._failing:
            log.info("audit checkpoints reach Kafka again")
        self._failing = False
        self._published = max(self._published, point.seq)

    async def close(self) -> None:
        """Publish what is not yet (call after the log's last commit), stop the producer."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.publish()
        await self.producer.stop()


async def publish_checkpoints(
    log: AuditLog,
    backend: Backend,
    cluster: Cluster,
    admin: Admin,
    *,
    replication_factor: int = 1,
    topic: str = CHECKPOINT_TOPIC,
) -> KafkaCheckpoints | None:
    """Create the checkpoint topic if missing and publish `log`'s checkpoints to it; None
    when the log has no key (unsigned checkpoints would prove nothing)."""
    if log.seal is None:
        return None
    await admin.create_topics([checkpoint_topic_spec(replication_factor, topic)])
    producer = backend.producer(cluster, client_id="tsunagu-audit")
    await producer.start()
    sink = KafkaCheckpoints(producer, topic=topic)
    log.checkpoint_listeners.append(sink)
    return sink


async def read_checkpoints(
    reader: Reader, *, quiet_s: float = 1.0, timeout_s: float = 5.0
) -> list[Checkpoint]:
    """Every checkpoint on the topic `reader` reads, from its first retained offset past the
    end offsets reported at the start until nothing arrives for `quiet_s` (a broker may
    report the end low); at most about `timeout_s`, since a running hub keeps publishing.
    Records that are not checkpoints are skipped; `AuditLog.verify` checks the signatures."""
    marks = await reader.watermarks()
    await reader.assign({partition: low for partition, (low, _high) in marks.items()})
    ends = {partition: high for partition, (_low, high) in marks.items()}
    positions = {partition: low for partition, (low, _high) in marks.items()}
    deadline = time.monotonic() + timeout_s
    points: list[Checkpoint] = []
    while True:
        reached = all(positions[p] >= ends[p] for p in ends)
        batch = await reader.get_batch(500, timeout=quiet_s)
        for record in batch:
            positions[record.partition] = record.offset + 1
            if record.value is not None:
                with contextlib.suppress(ValueError):
                    points.append(Checkpoint.parse(record.value))
        if (reached and not batch) or time.monotonic() > deadline:
            return points
