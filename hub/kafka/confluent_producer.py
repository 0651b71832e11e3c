"""The confluent-kafka producer behind the hub's ``Producer`` interface.

Two librdkafka producers share the work, because the price of a delivery report
is a Python call per record:

- ``deliver`` (ingest, bridges: acknowledgement needed, offsets not) uses *group
  commit*. Successful deliveries raise no Python callback at all
  (``delivery.report.only.error``); every caller that produces while no group is
  in flight joins the open group, the group is then sealed, and it is complete
  when librdkafka's outstanding-message count drops to zero. Callers produce
  only while no group is in flight, so the count reaching zero means exactly
  "this group is acknowledged", and every error report belongs to that group.
  Concurrent callers share one wait instead of queueing behind each other.
- ``send_batch`` (HTTP publish: the caller answers with offsets) keeps a
  per-record delivery callback on a second producer, started on first use.

Both are idempotent with acks=all. Delivery reports are served by one poll
thread per librdkafka producer; the event loop is woken once per group or batch.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Sequence
from functools import partial
from typing import Any, cast

import confluent_kafka

from hub.errors import DeliveryError, KafkaError
from hub.kafka.confluent_common import base_config, translate
from hub.kafka.types import Cluster, Delivery, Outgoing

__all__ = ["ConfluentProducer"]


def _producer_config(cluster: Cluster, client_id: str) -> dict[str, Any]:
    return {
        **base_config(cluster, client_id),
        "enable.idempotence": True,
        "acks": "all",
        # A short linger lets librdkafka fill request batches while Python is still
        # handing it records; 5 ms is invisible next to feed latency.
        "linger.ms": 5,
        "compression.type": "lz4",
        # Java's partitioner, so keys land where every other Kafka client puts them and
        # compaction keeps one latest value per key whoever produced it.
        "partitioner": "murmur2_random",
    }


class _Group:
    """Records produced by any number of callers between two seals."""

    __slots__ = ("failures", "future", "size")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.size = 0
        self.failures: list[str] = []
        self.future: asyncio.Future[None] = loop.create_future()


class _GroupCommitProducer:
    """``deliver``: acknowledgement per group of records, no callback per success."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = {**config, "delivery.report.only.error": True, "on_delivery": self._failed}
        self._producer: confluent_kafka.Producer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: threading.Thread | None = None
        self._running = threading.Event()
        self._wake = threading.Event()
        self._open: _Group | None = None
        self._in_flight: _Group | None = None
        self._gate = asyncio.Event()  # set while no group is in flight: producing is allowed
        self._seal_scheduled = False

    async def start(self) -> None:
        if self._producer is not None:
            return
        try:
            self._producer = confluent_kafka.Producer(self._config)
        except confluent_kafka.KafkaException as exc:
            raise translate(exc) from exc
        self._loop = asyncio.get_running_loop()
        self._gate.set()
        self._running.set()
        self._poller = threading.Thread(
            target=self._poll_loop, name="tsunagu-producer-poll", daemon=True
        )
        self._poller.start()

    def _failed(self, err: confluent_kafka.KafkaError | None, _msg: Any) -> None:
        # Runs on whichever thread polled. Only errors are reported; they belong to the
        # group in flight, or to the open one for errors raised while it is being filled.
        group = self._in_flight or self._open
        if err is not None and group is not None:
            group.failures.append(err.str())

    def _poll_loop(self) -> None:
        producer = self._producer
        loop = self._loop
        assert producer is not None
        assert loop is not None
        while self._running.is_set():
            group = self._in_flight
            if group is None:
                self._wake.wait(0.1)
                self._wake.clear()
                producer.poll(0)
                continue
            producer.poll(0.001)
            if len(producer) == 0:
                loop.call_soon_threadsafe(self._complete, group)
                # Wait for the loop to take it, so the same group is not completed twice.
                while self._in_flight is group and self._running.is_set():
                    self._wake.wait(0.01)
                    self._wake.clear()

    def _complete(self, group: _Group) -> None:
        if self._in_flight is group:
            self._in_flight = None
            self._wake.set()
            self._gate.set()
        if not group.future.done():
            group.future.set_result(None)

    def _seal(self) -> None:
        self._seal_scheduled = False
        group, self._open = self._open, None
        if group is None:
            return
        self._in_flight = group
        self._gate.clear()
        self._wake.set()

    async def deliver(self, topic: str, records: Sequence[Outgoing], partition: int | None) -> None:
        producer, loop = self._producer, self._loop
        if producer is None or loop is None:
            raise KafkaError("producer is not started")
        # Typed loosely: its stub wants a header list type ours is not, and a cast() in the
        # hot loop would be a Python call per record.
        produce: Any = producer.produce
        part = -1 if partition is None else partition
        joined: list[_Group] = []
        done, total = 0, len(records)
        try:
            while done < total:
                if not self._gate.is_set():
                    await self._gate.wait()
                group = self._open
                if group is None:
                    group = self._open = _Group(loop)
                if not joined or joined[-1] is not group:
                    joined.append(group)
                start = done
                try:
                    # The hot loop: nothing here but handing bytes to librdkafka.
                    while done < total:
                        key, value, headers = records[done]
                        if headers:
                            produce(topic, value, key, part, headers=headers)
                        else:
                            produce(topic, value, key, part)
                        done += 1
                except BufferError:
                    # Local queue full: seal what is there and let it drain.
                    self._schedule_seal()
                    await asyncio.sleep(0.005)
                finally:
                    group.size += done - start
        except confluent_kafka.KafkaException as exc:
            raise translate(exc) from exc
        finally:
            # Even after a local error, what was produced is sealed and waited for by
            # whoever else joined the group.
            self._schedule_seal()
        for group in joined:
            await asyncio.shield(group.future)
        failures = [f for group in joined for f in group.failures]
        if failures:
            raise DeliveryError(
                f"{len(failures)} record(s) to {topic} (in a group of "
                f"{sum(g.size for g in joined)} with concurrent senders) not acknowledged: "
                f"{failures[0]}",
                retriable=True,
            )

    def _schedule_seal(self) -> None:
        # call_soon lets every caller that produces in this turn of the loop join the group.
        if not self._seal_scheduled and self._open is not None:
            self._seal_scheduled = True
            asyncio.get_running_loop().call_soon(self._seal)

    async def stop(self, timeout: float) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        remaining = await asyncio.to_thread(producer.flush, timeout)
        self._running.clear()
        self._wake.set()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join)
            self._poller = None
        # Anything still waiting is failed explicitly so no caller hangs.
        for group in (self._in_flight, self._open):
            if group is not None and not group.future.done():
                if remaining:
                    group.future.set_exception(
                        DeliveryError(f"producer stopped with {remaining} record(s) undelivered")
                    )
                else:
                    group.future.set_result(None)
        self._in_flight = self._open = None


class _Batch:
    """Delivery reports of one ``send_batch`` call, with each record's offset.

    Reports may arrive on the poll thread and on the event-loop thread: the count
    is taken with ``next(itertools.count)``, atomic under the GIL.
    """

    __slots__ = ("_acks", "deliveries", "failures", "future", "loop", "size")

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop) -> None:
        self.size = size
        self._acks = itertools.count(1)
        self.deliveries: list[Delivery] = [Delivery(-1, -1)] * size
        self.failures: list[str] = []
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def report(self, index: int, err: confluent_kafka.KafkaError | None, msg: Any) -> None:
        if err is None:
            self.deliveries[index] = Delivery(msg.partition(), msg.offset())
        else:
            self.failures.append(err.str())
        if next(self._acks) == self.size:
            self.loop.call_soon_threadsafe(self._finish)

    def _finish(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class _OffsetsProducer:
    """``send_batch``: a delivery callback per record, to return where each one landed."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config
        self._producer: confluent_kafka.Producer | None = None
        self._poller: threading.Thread | None = None
        self._running = threading.Event()
        self._pending: set[_Batch] = set()

    async def start(self) -> None:
        if self._producer is not None:
            return
        try:
            self._producer = confluent_kafka.Producer(self._config)
        except confluent_kafka.KafkaException as exc:
            raise translate(exc) from exc
        self._running.set()
        self._poller = threading.Thread(
            target=self._poll_loop, name="tsunagu-producer-offsets-poll", daemon=True
        )
        self._poller.start()

    def _poll_loop(self) -> None:
        producer = self._producer
        assert producer is not None
        while self._running.is_set():
            producer.poll(0.05)

    async def send_batch(
        self, topic: str, records: Sequence[Outgoing], partition: int | None
    ) -> list[Delivery]:
        producer = self._producer
        if producer is None:
            raise KafkaError("producer is not started")
        batch = _Batch(len(records), asyncio.get_running_loop())
        self._pending.add(batch)
        report = batch.report
        part = -1 if partition is None else partition
        try:
            for index, (key, value, headers) in enumerate(records):
                while True:
                    try:
                        producer.produce(
                            topic,
                            value,
                            key,
                            partition=part,
                            headers=cast(Any, headers),
                            on_delivery=partial(report, index),
                        )
                        break
                    except BufferError:
                        await asyncio.sleep(0.005)  # local queue full: the poll thread drains it
            await batch.future
        except confluent_kafka.KafkaException as exc:
            raise translate(exc) from exc
        finally:
            self._pending.discard(batch)
        if batch.failures:
            raise DeliveryError(
                f"{len(batch.failures)} of {len(records)} record(s) to {topic} not acknowledged: "
                f"{batch.failures[0]}",
                retriable=True,
            )
        return batch.deliveries

    async def stop(self, timeout: float) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        self._running.clear()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join)
            self._poller = None
        remaining = await asyncio.to_thread(producer.flush, timeout)
        for batch in list(self._pending):
            if not batch.future.done():
                batch.future.set_exception(
                    DeliveryError(f"producer stopped with {remaining} record(s) undelivered")
                )


class ConfluentProducer:
    """Idempotent producer: ``deliver`` by group commit, ``send_batch`` with offsets."""

    def __init__(self, cluster: Cluster, *, client_id: str = "tsunagu") -> None:
        config = _producer_config(cluster, client_id)
        self._groups = _GroupCommitProducer(config)
        # send_batch answers a waiting HTTP client: a 1 ms linger trades a little batching
        # for latency (ingestion's group commit keeps 5 ms).
        self._offsets = _OffsetsProducer({**config, "linger.ms": 1})
        self._started = False

    async def start(self) -> None:
        await self._groups.start()
        self._started = True

    async def stop(self, timeout: float = 10.0) -> None:
        self._started = False
        await asyncio.gather(self._groups.stop(timeout), self._offsets.stop(timeout))

    async def deliver(
        self, topic: str, records: Sequence[Outgoing], *, partition: int | None = None
    ) -> None:
        if records:
            await self._groups.deliver(topic, records, partition)

    async def send_batch(
        self, topic: str, records: Sequence[Outgoing], *, partition: int | None = None
    ) -> list[Delivery]:
        if not self._started:
            raise KafkaError("producer is not started")
        if not records:
            return []
        await self._offsets.start()  # on first use: ingest-only processes never open it
        return await self._offsets.send_batch(topic, records, partition)
