"""``deliver`` by *group commit*: acknowledgement without a Python call per record
(see ``hub.kafka.confluent.producer``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import confluent_kafka

from hub.errors import DeliveryError, KafkaError
from hub.kafka.confluent.common import translate
from hub.kafka.types import Outgoing

__all__ = ["GroupCommitProducer"]


class _Group:
    """Records produced by any number of callers between two seals."""

    __slots__ = ("failures", "future", "size")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.size = 0
        self.failures: list[str] = []
        self.future: asyncio.Future[None] = loop.create_future()


class GroupCommitProducer:
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
