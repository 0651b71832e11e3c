"""``send_batch``: a delivery report per record, to answer where each one landed (see
``hub.kafka.confluent.producer``)."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Sequence
from functools import partial
from typing import Any, cast

import confluent_kafka

from hub.errors import DeliveryError, KafkaError
from hub.kafka.confluent.common import translate
from hub.kafka.types import Delivery, Outgoing

__all__ = ["PerRecordProducer"]


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


class PerRecordProducer:
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
