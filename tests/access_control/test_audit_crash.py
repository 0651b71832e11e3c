"""A hub process killed with SIGKILL in the middle of publish traffic: every publish it
answered 2xx has its audit row in the store afterwards, and the log still verifies."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hub.broker import free_port
from tests.cli import tsunagu
from tests.test_up import start, wait_ready, write_deployment

TOPIC = "upcity.test.counters.v1"
THREADS = 6


def publish(url: str, key: str, body: bytes) -> int | None:
    """The HTTP status of one publish, or None when the hub never answered."""
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", "X-API-Key": key},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            status: int = response.status  # urlopen's result is untyped
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


@pytest.mark.timeout(240)
def test_every_acknowledged_publish_is_audited_after_sigkill(tmp_path: Path) -> None:
    port = free_port()
    config, schemas = write_deployment(tmp_path, port)
    made = tsunagu(
        "keys", "create", "--config", str(config), "--name", "crash", "--grant", f"{TOPIC}:publish"
    )
    assert made.returncode == 0, made.stderr
    found = re.search(r"tk_[0-9a-f]+\.\S+", made.stdout)
    assert found is not None, made.stdout
    key = found.group(0)
    process = start(config, schemas)
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/v1/topics/{TOPIC}/records"
    # Every request's body has its own length, so its audit row (size_bytes) can be told
    # apart from every other request's.
    acknowledged: set[int] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def publisher(thread: int) -> None:
        i = thread
        while not stop.is_set():
            body = json.dumps([{"id": f"r-{i}-" + "x" * i}]).encode()
            status = publish(url, key, body)
            if status is None:
                return
            if 200 <= status < 300:
                with lock:
                    acknowledged.add(len(body))
            i += THREADS

    try:
        wait_ready(base, process, limit=90)
        threads = [threading.Thread(target=publisher, args=(t,)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 90
        while len(acknowledged) < 60 and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1]
            time.sleep(0.01)
        assert len(acknowledged) >= 60, "the hub acknowledged too few publishes"
        # While it runs, verify reads the checkpoints the hub publishes to its broker (here
        # instead of the local checkpoint file, to see that they are there).
        running = tsunagu(
            "audit", "verify", "--config", str(config), "--checkpoint-file", str(tmp_path / "no")
        )
        assert running.returncode == 0, running.stdout + running.stderr
        assert "could not read" not in running.stderr
        assert "checkpoints match, the newest at entry" in running.stderr
        process.send_signal(signal.SIGKILL)  # mid-stream: requests are still in flight
        process.wait(timeout=30)
    finally:
        stop.set()
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)
    for thread in threads:
        thread.join(timeout=60)

    with sqlite3.connect(tmp_path / "hub.db") as db:
        audited = {
            size
            for (size,) in db.execute(
                "SELECT size_bytes FROM access_audit WHERE action = 'publish' AND outcome = 'ok'"
            )
        }
    missing = acknowledged - audited
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged publishes unaudited"
    verified = tsunagu("audit", "verify", "--config", str(config))
    assert verified.returncode == 0, verified.stdout + verified.stderr
