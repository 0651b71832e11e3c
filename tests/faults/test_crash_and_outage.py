"""Attacks on publishing across a crash and a broker outage, on real processes: ``tsunagu up``
SIGKILLed while keyed requests wait on Kafka, and the broker frozen (SIGSTOP) under a
publish. The broker runs apart from the hub (its own tansu process), so it outlives the
hub's crash as a real cluster would and can be frozen without freezing anyone else's."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.faults import TOPIC, Hub, http_request, read_topic, vehicle
from hub import headers as h
from hub.broker import EmbeddedBroker


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(log_dir=tmp_path)
    broker.start()
    yield broker
    thaw(broker)
    broker.stop()


def broker_pid(broker: EmbeddedBroker) -> int:
    assert broker._process is not None
    return broker._process.pid


def thaw(broker: EmbeddedBroker) -> None:
    with contextlib.suppress(ProcessLookupError, AssertionError):
        os.kill(broker_pid(broker), signal.SIGCONT)


def post(
    hub: Hub, api_key: str, key: str, records: list[dict[str, object]], timeout: float = 120
) -> tuple[int, dict[str, str], bytes]:
    return http_request(
        "POST",
        f"{hub.base}/v1/topics/{TOPIC}/records",
        json.dumps(records).encode(),
        {"Content-Type": "application/json", "X-API-Key": api_key, "Idempotency-Key": key},
        timeout,
    )


def post_quietly(hub: Hub, api_key: str, key: str, records: list[dict[str, object]]) -> None:
    """``post`` from a thread whose connection the test's SIGKILL will cut."""
    with contextlib.suppress(OSError):
        post(hub, api_key, key, records)


def wait_until(condition: object, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {limit:.0f} s: {what}")


@pytest.mark.timeout(420)
def test_keyed_requests_in_flight_when_up_is_killed_go_through_on_retry(
    tmp_path: Path, own_broker: EmbeddedBroker
) -> None:
    # A long publish timeout keeps the requests waiting on the frozen broker, so the kill
    # certainly lands while their placeholders are in the store.
    hub = Hub(tmp_path, own_broker.bootstrap_servers, publish_timeout_s=90)
    hub.start()
    try:
        api_key = hub.api_key()
        assert post(hub, api_key, "warm-up", [vehicle("warm-up", 0)])[0] == 200
        batches = {f"batch-{n}": [vehicle(f"batch-{n}", i) for i in range(5)] for n in range(2)}
        os.kill(broker_pid(own_broker), signal.SIGSTOP)
        for key, records in batches.items():
            threading.Thread(
                target=post_quietly, args=(hub, api_key, key, records), daemon=True
            ).start()
        wait_until(
            lambda: (
                hub.sql("SELECT count(*) FROM gateway_idempotency WHERE status IS NULL")[0][0]
                == len(batches)
            ),
            "both requests in progress",
        )
        hub.kill()
        thaw(own_broker)
        hub.start()
        for key, records in batches.items():
            status, _, body = post(hub, api_key, key, records)
            assert status == 200, (key, status, body)
            assert json.loads(body)["records"] == len(records)
    finally:
        hub.stop()
    contents = read_topic(own_broker.bootstrap_servers, TOPIC)
    for key, records in batches.items():
        for index, record in enumerate(records):
            record_key = str(record["id"]).encode()
            assert record_key in contents.per_key, (key, index)
            # Every copy (the pre-crash one too, if Kafka took it) has the same header.
            marks = contents.headers.get(record_key, set())
            assert len(marks) == 1, marks
            assert next(iter(marks)).endswith(f"/{key}/{index}".encode()), marks
    assert h.IDEMPOTENCY_KEY == "tsunagu-idempotency-key"


@pytest.mark.timeout(300)
def test_a_frozen_broker_gets_a_bounded_503_and_flips_readiness(
    tmp_path: Path, own_broker: EmbeddedBroker
) -> None:
    hub = Hub(tmp_path, own_broker.bootstrap_servers, publish_timeout_s=3)
    hub.start()
    safety: threading.Timer | None = None
    try:
        api_key = hub.api_key()
        assert post(hub, api_key, "before", [vehicle("before", 0)])[0] == 200
        assert hub.broker_gauge() == 1.0
        os.kill(broker_pid(own_broker), signal.SIGSTOP)
        # Only so that code without a bound still ends this test: the broker thaws later.
        safety = threading.Timer(45, thaw, args=(own_broker,))
        safety.start()
        status, headers, body = post(hub, api_key, "during", [vehicle("during", 0)])
        assert status == 503, body
        assert int(headers["Retry-After"]) > 0
        assert headers["Content-Type"].startswith("application/problem+json")
        wait_until(lambda: hub.broker_gauge() == 0.0, "broker gauge 0 while frozen", 30)
        assert http_request("GET", f"{hub.base}/readyz", timeout=30)[0] == 503
        thaw(own_broker)
        wait_until(lambda: hub.broker_gauge() == 1.0, "broker gauge back to 1", 60)
        # The refused request, retried with its key, now goes through.
        deadline = time.monotonic() + 60
        while (status := post(hub, api_key, "during", [vehicle("during", 0)])[0]) != 200:
            assert time.monotonic() < deadline, status
            time.sleep(1)
    finally:
        if safety is not None:
            safety.cancel()
        hub.stop()
    contents = read_topic(own_broker.bootstrap_servers, TOPIC)
    assert str(vehicle("during", 0)["id"]).encode() in contents.per_key
