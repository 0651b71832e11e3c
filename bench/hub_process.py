"""`tsunagu up` in a process of its own, for the benchmarks that measure the hub from outside
(its CPU time and memory are then its own, read from /proc): the deployment of bench
positions on loopback, the process with its log in a file, readiness, a key for the bench's
clients and a stop bounded as Kubernetes bounds it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.access import Grant, KeyStore
from hub.broker import free_port
from hub.db import make_engine

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Position",
    "namespace": "bench.gateway",
    "doc": "A vehicle position for the fan-out benchmark.",
    "fields": [
        {"name": "id", "type": "string", "doc": "Global id."},
        {"name": "area", "type": "string", "doc": "Area."},
        {"name": "source_feed", "type": "string", "doc": "Feed."},
        {
            "name": "observed_at",
            "type": {"type": "long", "logicalType": "timestamp-millis"},
            "doc": "Observed, ms.",
        },
        {
            "name": "ingested_at",
            "type": {"type": "long", "logicalType": "timestamp-millis"},
            "doc": "Ingested, ms.",
        },
        {"name": "latitude", "type": "double", "doc": "Degrees."},
        {"name": "longitude", "type": "double", "doc": "Degrees."},
    ],
}

# What every bench topic has; a topic's own settings follow these lines.
TOPIC = """    area: bench
    schema: bench.gateway.Position
    licence: CC-BY-4.0
    publisher: Bench
"""


def write_deployment(directory: Path, port: int, topics: dict[str, str]) -> tuple[Path, Path]:
    """topics.yaml and the schema directory of a hub on ``port`` whose store is in
    ``directory``; ``topics`` maps each topic to its own settings (YAML lines under it)."""
    schemas = directory / "avro"
    schemas.mkdir()
    (schemas / "Position.avsc").write_text(json.dumps(SCHEMA))
    config = directory / "topics.yaml"
    declared = "".join(f"  {name}:\n{TOPIC}{settings}" for name, settings in topics.items())
    config.write_text(
        f"""version: 1
hub:
  http: {{host: 127.0.0.1, port: {port}}}
  store: {{url: "sqlite:///{directory / "hub.db"}"}}
areas:
  bench: {{title: Bench}}
topics:
{declared}"""
    )
    return config, schemas


def wait_ready(base: str, process: subprocess.Popen[bytes], limit: float = 90.0) -> dict[str, Any]:
    """The hub's /v1/info once /readyz says it is ready."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tsunagu up exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
                if response.status == 200:
                    with urllib.request.urlopen(f"{base}/v1/info", timeout=2) as info:
                        result: dict[str, Any] = json.loads(info.read())
                        return result
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("tsunagu up did not become ready")


async def _bench_key(store_url: str, name: str, grants: Sequence[Grant]) -> str:
    # One client address opens every connection, which the anonymous per-address rate
    # limit would (rightly) refuse; the benchmarks measure throughput and memory, not it.
    engine = make_engine(store_url)
    try:
        issued = await KeyStore(engine).create(name, rate_per_minute=1e7, grants=tuple(grants))
    finally:
        await engine.dispose()
    return issued.plaintext


@dataclass(frozen=True)
class RunningHub:
    """A ready hub process: its pid, base URL, /v1/info and a key for the bench's clients."""

    process: subprocess.Popen[bytes]
    base: str
    info: dict[str, Any]
    key: str


@contextlib.contextmanager
def running_hub(
    directory: Path, topics: dict[str, str], key_name: str, grants: Sequence[Grant]
) -> Iterator[RunningHub]:
    """`tsunagu up` on a free port over `topics` (see `write_deployment`), ready, with a key
    named `key_name` holding `grants`; stopped with SIGTERM when the block ends."""
    port = free_port()
    config, schemas = write_deployment(directory, port, topics)
    log_path = directory / "hub.log"
    log = log_path.open("wb")  # a file: a full pipe would stall the hub
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from hub.cli import main; main()",
            "up",
            *("--config", str(config), "--schemas", str(schemas)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        info = wait_ready(base, process)
        key = asyncio.run(_bench_key(f"sqlite:///{directory / 'hub.db'}", key_name, grants))
        yield RunningHub(process, base, info, key)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            # As Kubernetes would after its default grace: kill, and say what it was doing.
            process.kill()
            process.wait()
            log.close()
            tail = log_path.read_text(errors="replace")[-3000:]
            message = f"tsunagu up did not stop within 30 s; its log ends:\n{tail}"
            raise RuntimeError(message) from None
        log.close()
