"""Bridges as operators run them: `tsunagu bridge --name NAME` processes over two areas, each
with its own broker and registry, and a reader that keeps collecting what lands on B."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import confluent_kafka

from hub import headers as h
from hub.apply import apply
from hub.codec import Encoder
from hub.config import load_config
from hub.connections import Connections, EmbeddedEndpoints
from hub.kafka import Cluster, Outgoing, get_backend
from hub.schemas import SchemaCatalogue
from tests.bridging.conftest import FIXTURES, REGISTRY_AUTH
from tests.cli import CLI

BRIDGE = "kaga-to-ishikawa"


def position(i: int) -> dict[str, object]:
    return {
        "id": f"urn:ngsi-ld:Vehicle:kaga:bus-{i}",
        "area": "kaga",
        "source_feed": "kaga-bus",
        "observed_at": 1_700_000_012_345 + i,
        "ingested_at": 1_700_000_020_000,
        "vehicle_id": f"bus-{i}",
        "vehicle_label": str(100 + i),
        "route_id": "r1",
        "latitude": 36.3,
        "longitude": 136.3,
        "speed": 10.0,
    }


@dataclass
class World:
    """Two areas, a source and a target topic, a bridge between them, in ``directory``."""

    directory: Path
    schemas: Path
    config: Path
    source: str
    target: str
    bootstrap_a: str
    bootstrap_b: str
    # Each test's bridge has a consumer group of its own: the session broker outlives the
    # test, and a member a test killed must not hold up the next test's group join.
    group: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    log_files: list[Any] = field(default_factory=list)

    @classmethod
    def write(
        cls,
        directory: Path,
        schemas: Path,
        *,
        unique: str,
        bootstrap_a: str,
        bootstrap_b: str,
        registry_a: str,
        registry_b: str,
        partitions: int = 3,
        bridge_options: str = "",
        target_options: str = "",
        mapping: Path = FIXTURES / "kaga-to-ishikawa.yaml",
    ) -> World:
        source = f"kaga.mobility.vehicle-positions-{unique}.v1"
        target = f"ishikawa.transit.bus-locations-{unique}.v1"
        group = f"tsunagu-bridge-{BRIDGE}-{unique}"
        shutil.copy(mapping, directory / "mapping.yaml")
        config = directory / "topics.yaml"
        config.write_text(
            f"""version: 1
hub:
  store: {{url: "sqlite:///{directory / "hub.db"}"}}
areas:
  kaga:
    kafka: {{bootstrap_servers: "{bootstrap_a}"}}
    registry: {{url: "{registry_a}", {REGISTRY_AUTH}}}
  ishikawa:
    kafka: {{bootstrap_servers: "{bootstrap_b}"}}
    registry: {{url: "{registry_b}", {REGISTRY_AUTH}}}
topics:
  {source}:
    {{area: kaga, schema: tsunagu.mobility.VehiclePosition, partitions: {partitions},
     licence: CC-BY-4.0, publisher: Kaga City}}
  {target}:
    {{area: ishikawa, schema: ishikawa.transit.BusLocation, partitions: 3,
     licence: CC-BY-4.0, publisher: Ishikawa{target_options}}}
bridges:
  {BRIDGE}: {{source: {source}, target: {target}, mapping: mapping.yaml,
    group_id: {group}{bridge_options}}}
"""
        )
        return cls(directory, schemas, config, source, target, bootstrap_a, bootstrap_b, group)

    async def apply(self, *, source_only: bool = False) -> None:
        """Create the topics and register their schemas (only Kaga's, if asked), and make
        ``encoder`` for the source topic."""
        catalogue = SchemaCatalogue.load(self.schemas)
        deployment = load_config(self.config, catalogue)
        connections = Connections(deployment, EmbeddedEndpoints(None, None))
        if source_only:
            deployment = deployment.model_copy(
                update={"topics": {self.source: deployment.topics[self.source]}}
            )
        try:
            await apply(deployment, catalogue, connections.admin_for, connections.registry_for)
            entry = catalogue.get("tsunagu.mobility.VehiclePosition")
            schema_id = await connections.registry_for("kaga").lookup(
                f"{self.source}-value", entry.text
            )
            assert schema_id is not None
            self.encoder = Encoder(schema_id, entry.parsed)
        finally:
            await connections.close()

    async def produce(self, values: list[tuple[bytes, bytes | None]]) -> None:
        """Deliver (key, value) pairs to the source topic."""
        producer = get_backend().producer(Cluster(self.bootstrap_a))
        await producer.start()
        try:
            for start in range(0, len(values), 5_000):
                chunk = values[start : start + 5_000]
                await producer.deliver(self.source, [Outgoing(k, v) for k, v in chunk])
        finally:
            await producer.stop()

    async def produce_positions(self, first: int, count: int) -> None:
        records = [position(i) for i in range(first, first + count)]
        await self.produce([(str(r["id"]).encode(), self.encoder.encode(r)) for r in records])

    def start_bridge(self, tag: str = "") -> subprocess.Popen[bytes]:
        log = (self.directory / f"bridge{tag}-{len(self.processes)}.log").open("wb")
        self.log_files.append(log)
        process = subprocess.Popen(
            [
                *CLI,
                "bridge",
                "--name",
                BRIDGE,
                "--config",
                str(self.config),
                "--schemas",
                str(self.schemas),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.directory.glob("bridge*.log"))

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        for log in self.log_files:
            log.close()


class TopicReader:
    """Collects every message of a topic from the beginning, in a thread, until closed."""

    def __init__(self, bootstrap: str, topic: str, *, read_committed: bool = False) -> None:
        self.messages: list[Any] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._config = {
            "bootstrap.servers": bootstrap,
            "group.id": "unused",
            "enable.auto.commit": False,
            "isolation.level": "read_committed" if read_committed else "read_uncommitted",
            "log_level": 3,
        }
        self.topic = topic
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        consumer = confluent_kafka.Consumer(self._config)
        try:
            partitions: list[int] = []
            while not partitions and not self._stop.is_set():
                metadata = consumer.list_topics(self.topic, timeout=10)
                partitions = list(metadata.topics[self.topic].partitions)
            consumer.assign(
                [
                    confluent_kafka.TopicPartition(self.topic, p, confluent_kafka.OFFSET_BEGINNING)
                    for p in partitions
                ]
            )
            while not self._stop.is_set():
                message = consumer.poll(0.1)
                if message is not None and message.error() is None:
                    with self._lock:
                        self.messages.append(message)
        finally:
            consumer.close()

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def keys(self) -> list[bytes]:
        """The idempotency key of each message so far."""
        with self._lock:
            return [dict(m.headers() or [])[h.IDEMPOTENCY_KEY] for m in self.messages]

    async def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``condition`` without blocking the loop (it serves the test registries)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
            await asyncio.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(15)
