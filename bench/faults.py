"""``python -m bench.faults [SCENARIO ...] [--size small|full] [--json]``: the fault suite.

Each scenario runs real processes (``tsunagu up`` or ``tsunagu ingest`` as subprocesses,
an embedded tansu broker of its own, a SQLite store in a temporary folder), does harm
while they work, lets them recover, and reports:

- acknowledged: records the hub said it took (HTTP 2xx, or, for ingest, the feed's
  records once a run completes);
- found: how many of those are in Kafka, by record id (equal when nothing is lost);
- duplicates: copies beyond the first in Kafka (a retry after a crash that fell between
  Kafka taking a batch and the answer; the copies carry the same idempotency-key header);
- audit rows against acknowledged requests (publish scenarios);
- recovery: seconds from the end of the fault (kill, SIGCONT, restart, unlock) to the
  first acknowledged request after it.

``small`` is what CI runs (tests/faults); ``full`` holds the broker frozen 20 s and
publishes more. Scenarios: up-sigkill, ingest-sigkill, broker-frozen, broker-stopped,
store-locked. A bridge killed mid-stream is tests/bridging/test_bridge_exactly_once.py.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import confluent_kafka

from bench.hub_process import wait_ready
from hub import headers as h
from hub.broker import EmbeddedBroker, free_port

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas" / "avro"
TOPIC = "faults.mobility.vehicle-positions.v1"
CLI = [sys.executable, "-c", "from hub.cli import main; main()"]


@dataclass(frozen=True)
class Size:
    """How much each scenario does."""

    clients: int = 3
    requests_per_client: int = 12
    records_per_request: int = 20
    freeze_s: float = 6.0
    lock_s: float = 4.0
    publish_timeout_s: float = 3.0
    feed_records: int = 20_000
    # how long publishers keep retrying one request before giving up
    deadline_s: float = 90.0


SIZES = {
    "small": Size(),
    "full": Size(
        clients=6,
        requests_per_client=60,
        records_per_request=100,
        freeze_s=20.0,
        lock_s=10.0,
        publish_timeout_s=10.0,
        feed_records=100_000,
        deadline_s=300.0,
    ),
}


@dataclass
class Figures:
    """What one scenario measured."""

    scenario: str
    acknowledged: int
    found: int
    duplicates: int
    acknowledged_requests: int | None = None
    audit_rows: int | None = None
    recovery_s: float | None = None
    # acknowledged records found in Kafka without an idempotency-key header (publish)
    unmarked: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.acknowledged - self.found


# --- processes ---------------------------------------------------------------------------


def http_request(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one HTTP exchange on a connection closed afterwards
    (a crashed hub cuts connections: none may be left for the garbage collector);
    OSError when there is no answer."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.headers), response.read()
    except http.client.HTTPException as exc:
        raise OSError(f"no HTTP answer: {exc!r}") from exc
    finally:
        conn.close()


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    status, _, body = http_request("GET", url, timeout=timeout)
    return status, body


class Hub:
    """``tsunagu up`` on a Kafka cluster of its own choosing and a SQLite store in
    ``directory``, restartable on the same port and store (bench.hub_process.running_hub
    runs one process, on the embedded broker that dies with it)."""

    def __init__(self, directory: Path, bootstrap: str, publish_timeout_s: float | None) -> None:
        self.directory = directory
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.store = directory / "hub.db"
        self.config = directory / "topics.yaml"
        timeout = (
            ""
            if publish_timeout_s is None
            else f"  gateway: {{publish_timeout: {publish_timeout_s}s}}\n"
        )
        self.config.write_text(
            f"""version: 1
hub:
  http: {{host: 127.0.0.1, port: {self.port}}}
  store: {{url: "sqlite:///{self.store}"}}
{timeout}kafka: {{bootstrap_servers: "{bootstrap}"}}
areas:
  faults: {{title: Faults}}
topics:
  {TOPIC}:
    area: faults
    schema: tsunagu.mobility.VehiclePosition
    partitions: 3
    licence: CC-BY-4.0
    publisher: Faults
"""
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, ready_within: float = 120.0) -> None:
        self.starts += 1
        log = (self.directory / f"up-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [*CLI, "up", "--config", str(self.config), "--schemas", str(SCHEMAS)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        try:
            wait_ready(self.base, self.process, ready_within)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {self.log_tail()}") from exc

    def log_tail(self) -> str:
        path = self.directory / f"up-{self.starts}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(60)

    def stop(self, grace_s: float = 30.0) -> float | None:
        """SIGTERM, then SIGKILL after ``grace_s`` as Kubernetes does by default; the
        seconds the graceful stop took, None when it had to be killed."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.process.terminate()
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        return time.monotonic() - started

    def api_key(self) -> str:
        made = subprocess.run(
            [
                *CLI,
                "keys",
                "create",
                "--config",
                str(self.config),
                "--name",
                "faults",
                "--grant",
                f"{TOPIC}:publish",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        found = re.search(r"tk_[0-9a-f]+\.\S+", made.stdout)
        if found is None:
            raise RuntimeError(f"no key in {made.stdout!r} {made.stderr!r}")
        return found.group(0)

    def broker_gauge(self) -> float | None:
        """``tsunagu_component_ready{component="broker"}`` as /metrics shows it now."""
        with contextlib.suppress(OSError):
            status, body = _get(f"{self.base}/metrics", 3.0)
            if status == 200:
                match = re.search(
                    rb'^tsunagu_component_ready\{component="broker"\} (\S+)$', body, re.M
                )
                if match:
                    return float(match.group(1))
        return None

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.store, timeout=60)) as conn:
            return list(conn.execute(query).fetchall())

    def audit_publish_rows(self) -> int:
        rows = self.sql(
            "SELECT count(*) FROM access_audit WHERE action = 'publish' AND outcome = 'ok'"
        )
        return int(rows[0][0])


def vehicle(request_key: str, index: int) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Vehicle:faults:{request_key}-{index}",
        "vehicle_id": f"{request_key}-{index}",
        "latitude": 36.3,
        "longitude": 136.3,
        "observed_at": 1_700_000_000_000 + index,
    }


@dataclass
class Answer:
    """One HTTP answer a publisher got (status 0: no answer, the connection failed)."""

    at: float
    key: str
    status: int
    retry_after: str | None


class Publishers:
    """Client threads each sending its requests in turn, each with an Idempotency-Key and
    retried with the same key and body until a 2xx answer or the deadline."""

    def __init__(self, hub: Hub, api_key: str, size: Size) -> None:
        self.hub = hub
        self.api_key = api_key
        self.size = size
        self.deadline = time.monotonic() + size.deadline_s
        self.last_refusal = b""
        self.answers: list[Answer] = []
        self.acknowledged: dict[str, int] = {}  # request key -> records
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._client, args=(c,), daemon=True)
            for c in range(size.clients)
        ]

    def start(self) -> Publishers:
        for thread in self._threads:
            thread.start()
        return self

    def join(self) -> None:
        for thread in self._threads:
            thread.join(max(1.0, self.deadline - time.monotonic() + 5))

    @property
    def acked_records(self) -> int:
        with self._lock:
            return sum(self.acknowledged.values())

    def _client(self, client: int) -> None:
        for number in range(self.size.requests_per_client):
            key = f"c{client}-r{number}"
            body = json.dumps(
                [vehicle(key, i) for i in range(self.size.records_per_request)]
            ).encode()
            while time.monotonic() < self.deadline:
                status, retry_after = self._post(key, body)
                with self._lock:
                    self.answers.append(Answer(time.monotonic(), key, status, retry_after))
                    if 200 <= status < 300:
                        self.acknowledged[key] = self.size.records_per_request
                if 200 <= status < 300:
                    break
                # Honour Retry-After, capped so recovery is seen promptly.
                time.sleep(min(float(retry_after or 0.5), 1.0))

    def _post(self, key: str, body: bytes) -> tuple[int, str | None]:
        try:
            status, headers, answer = http_request(
                "POST",
                f"{self.hub.base}/v1/topics/{TOPIC}/records",
                body,
                {
                    "Content-Type": "application/json",
                    "X-API-Key": self.api_key,
                    "Idempotency-Key": key,
                },
                timeout=60,
            )
        except OSError:
            return 0, None
        if status >= 300:
            self.last_refusal = answer
        return status, headers.get("Retry-After")

    def statuses(self, since: float = 0.0, until: float = float("inf")) -> dict[int, int]:
        counts: dict[int, int] = {}
        with self._lock:
            for answer in self.answers:
                if since <= answer.at <= until:
                    counts[answer.status] = counts.get(answer.status, 0) + 1
        return counts

    def first_success_after(self, moment: float) -> float | None:
        with self._lock:
            times = [a.at for a in self.answers if a.at >= moment and 200 <= a.status < 300]
        return min(times) - moment if times else None

    def wait_acked(self, records: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.acked_records < records and time.monotonic() < deadline:
            time.sleep(0.05)


@dataclass
class KafkaContents:
    """Every record of a topic: count per record key and the idempotency-key headers."""

    per_key: dict[bytes, int]
    headers: dict[bytes, set[bytes]]

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.per_key.values())


def read_topic(
    bootstrap: str, topic: str, idle_s: float = 4.0, limit_s: float = 90.0
) -> KafkaContents:
    """Read ``topic`` from the beginning until nothing new came for ``idle_s`` (tansu's
    reported high watermark reads low, so the end is found by waiting)."""
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"faults-{os.getpid()}-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "log_level": 3,
        }
    )
    per_key: dict[bytes, int] = {}
    headers: dict[bytes, set[bytes]] = {}
    try:
        metadata = consumer.list_topics(topic, timeout=20)
        partitions = metadata.topics[topic].partitions if topic in metadata.topics else {}
        consumer.assign([confluent_kafka.TopicPartition(topic, p, 0) for p in partitions])
        deadline = time.monotonic() + limit_s
        last_new = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - last_new < idle_s:
            for message in consumer.consume(500, 0.5):
                if message.error():
                    continue
                key = message.key() or b""
                per_key[key] = per_key.get(key, 0) + 1
                for name, value in cast(list[tuple[str, bytes | None]], message.headers() or []):
                    if name == h.IDEMPOTENCY_KEY and value is not None:
                        headers.setdefault(key, set()).add(value)
                last_new = time.monotonic()
    finally:
        consumer.close()
    return KafkaContents(per_key, headers)


@contextlib.contextmanager
def _workspace(name: str) -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix=f"tsunagu-faults-{name}-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def _running_hub(directory: Path, size: Size) -> Iterator[tuple[EmbeddedBroker, Hub]]:
    broker = EmbeddedBroker(log_dir=directory)
    broker.start()
    hub = Hub(directory, broker.bootstrap_servers, size.publish_timeout_s)
    try:
        hub.start()
        yield broker, hub
    finally:
        hub.stop()
        with contextlib.suppress(ProcessLookupError, OSError):
            if broker._process is not None:
                os.kill(broker._process.pid, signal.SIGCONT)
        broker.stop()


def _publish_figures(
    scenario: str, bootstrap: str, hub: Hub, publishers: Publishers, fault_end: float
) -> Figures:
    # A graceful stop first: rows a live hub has yet to write are not missing; rows a
    # killed one never wrote are.
    stopped = hub.stop()
    contents = read_topic(bootstrap, TOPIC)
    with publishers._lock:
        acknowledged = dict(publishers.acknowledged)
        successes = sum(1 for a in publishers.answers if 200 <= a.status < 300)
    expected = {
        vehicle(key, i)["id"].encode()
        for key, records in acknowledged.items()
        for i in range(records)
    }
    found = sum(1 for key in expected if key in contents.per_key)
    return Figures(
        scenario,
        acknowledged=len(expected),
        found=found,
        duplicates=contents.duplicates,
        acknowledged_requests=successes,
        audit_rows=hub.audit_publish_rows(),
        recovery_s=publishers.first_success_after(fault_end),
        unmarked=sum(1 for k in expected if k in contents.per_key and k not in contents.headers),
        notes=[] if stopped is not None else ["up did not stop within 30 s of SIGTERM"],
    )


def _status_note(counts: dict[int, int]) -> str:
    names = {0: "no answer"}
    return ", ".join(f"{n} x {names.get(s, str(s))}" for s, n in sorted(counts.items())) or "none"


# --- scenarios ---------------------------------------------------------------------------


def up_sigkill(size: Size) -> Figures:
    """SIGKILL ``tsunagu up`` while publishers send keyed batches; restart it on the same
    store (the broker runs apart and keeps its data); publishers retry until answered."""
    with _workspace("up") as directory, _running_hub(directory, size) as (broker, hub):
        publishers = Publishers(hub, hub.api_key(), size).start()
        total = size.clients * size.requests_per_client * size.records_per_request
        publishers.wait_acked(total // 3)
        hub.kill()
        killed = time.monotonic()
        in_flight = hub.sql("SELECT count(*) FROM gateway_idempotency WHERE status IS NULL")[0][0]
        hub.start()
        publishers.join()
        figures = _publish_figures("up-sigkill", broker.bootstrap_servers, hub, publishers, killed)
        figures.notes.append(f"{in_flight} request(s) in progress at the kill")
        figures.notes.append(f"after the kill: {_status_note(publishers.statuses(killed))}")
        return figures


def broker_frozen(size: Size) -> Figures:
    """SIGSTOP the broker for ``freeze_s`` while publishers send, then SIGCONT it."""
    with _workspace("frozen") as directory, _running_hub(directory, size) as (broker, hub):
        assert broker._process is not None
        pid = broker._process.pid
        publishers = Publishers(hub, hub.api_key(), size).start()
        total = size.clients * size.requests_per_client * size.records_per_request
        publishers.wait_acked(total // 4)
        os.kill(pid, signal.SIGSTOP)
        frozen = time.monotonic()
        gauge_zero_after: float | None = None
        while time.monotonic() - frozen < size.freeze_s:
            if gauge_zero_after is None and hub.broker_gauge() == 0.0:
                gauge_zero_after = time.monotonic() - frozen
            time.sleep(0.25)
        os.kill(pid, signal.SIGCONT)
        thawed = time.monotonic()
        gauge_one_after: float | None = None
        while gauge_one_after is None and time.monotonic() - thawed < 60:
            if hub.broker_gauge() == 1.0:
                gauge_one_after = time.monotonic() - thawed
            time.sleep(0.25)
        publishers.join()
        figures = _publish_figures(
            "broker-frozen", broker.bootstrap_servers, hub, publishers, thawed
        )
        during = publishers.statuses(frozen, thawed)
        figures.notes.append(f"frozen {size.freeze_s:g} s: {_status_note(during)}")
        figures.notes.append(
            "broker gauge 0 after "
            + ("never" if gauge_zero_after is None else f"{gauge_zero_after:.1f} s")
            + ", back to 1 "
            + ("never" if gauge_one_after is None else f"{gauge_one_after:.1f} s after SIGCONT")
        )
        return figures


# How long the broker-stopped scenario waits for publishing to resume by itself.
_SELF_HEAL_WAIT_S = 20.0


def _succeeds_within(publishers: Publishers, since: float, seconds: float) -> bool:
    """Whether a publish is acknowledged within ``seconds`` from now (after ``since``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if publishers.first_success_after(since) is not None:
            return True
        time.sleep(0.5)
    return False


def broker_stopped(size: Size) -> Figures:
    """SIGKILL the broker, start a new one on the same port: the embedded broker keeps
    memory only, so what was acknowledged before is gone (the figures say how much)."""
    with _workspace("stopped") as directory, _running_hub(directory, size) as (broker, hub):
        notes: list[str] = []
        publishers = Publishers(hub, hub.api_key(), size).start()
        total = size.clients * size.requests_per_client * size.records_per_request
        publishers.wait_acked(total // 3)
        assert broker._process is not None
        broker._process.kill()
        broker._process.wait()
        stopped = time.monotonic()
        time.sleep(size.freeze_s / 2)
        broker.start()
        restarted = time.monotonic()
        # The new broker has no topics: recreate them as an operator would (tsunagu
        # apply), wait for the hub to publish again, and restart it if it does not.
        applied = subprocess.run(
            [*CLI, "apply", "--config", str(hub.config), "--schemas", str(SCHEMAS)],
            capture_output=True,
            timeout=120,
            check=False,
        )
        notes.append(f"tsunagu apply after the restart: exit {applied.returncode}")
        if not _succeeds_within(publishers, restarted, _SELF_HEAL_WAIT_S):
            notes.append(
                f"no publish succeeded within {_SELF_HEAL_WAIT_S:g} s of apply (last "
                f"answer: {publishers.last_refusal[:200]!r}); up was restarted"
            )
            took = hub.stop()
            notes.append(
                "up did not stop within 30 s of SIGTERM and was killed"
                if took is None
                else f"up stopped {took:.1f} s after SIGTERM"
            )
            hub.start()
        publishers.join()
        figures = _publish_figures(
            "broker-stopped", broker.bootstrap_servers, hub, publishers, restarted
        )
        figures.notes.append(
            f"broker down: {_status_note(publishers.statuses(stopped, restarted))}"
        )
        figures.notes += notes
        figures.notes.append("memory-only broker: records acknowledged before the stop are lost")
        return figures


def store_locked(size: Size) -> Figures:
    """Hold SQLite's write lock from another connection for ``lock_s`` while publishers
    send keyed batches (the idempotency and audit writes need that lock)."""
    with _workspace("store") as directory, _running_hub(directory, size) as (broker, hub):
        publishers = Publishers(hub, hub.api_key(), size).start()
        total = size.clients * size.requests_per_client * size.records_per_request
        publishers.wait_acked(total // 4)
        conn = sqlite3.connect(hub.store, timeout=60, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            locked = time.monotonic()
            time.sleep(size.lock_s)
            conn.execute("ROLLBACK")
        finally:
            conn.close()
        unlocked = time.monotonic()
        publishers.join()
        figures = _publish_figures(
            "store-locked", broker.bootstrap_servers, hub, publishers, unlocked
        )
        figures.notes.append(
            f"locked {size.lock_s:g} s: {_status_note(publishers.statuses(locked, unlocked))}"
        )
        return figures


def ingest_sigkill(size: Size) -> Figures:
    """SIGKILL ``tsunagu ingest`` while it publishes a GTFS-Realtime feed of
    ``feed_records`` vehicles, then run it again to completion on the same store."""
    from bench.ingest import _deployment, _feed_message, _Server  # noqa: PLC0415

    with _workspace("ingest") as directory, _Server(directory) as server:
        broker = EmbeddedBroker(log_dir=directory)
        broker.start()
        try:
            feed_path = directory / "vehicles.pb"
            feed_path.write_bytes(_feed_message(size.feed_records))
            server.files["vehicles.pb"] = feed_path
            topic = "bench.mobility.vehicle-positions.v1"  # one of bench.ingest's topics
            feeds = f"""  rt:
    adapter: gtfs-rt
    url: {server.base}/feeds/vehicles.pb
    topic: {topic}
"""
            config = _deployment(directory, broker.bootstrap_servers, server, feeds)
            argv = [
                *CLI,
                "ingest",
                "--config",
                str(config),
                "--schemas",
                str(SCHEMAS),
                "--feed",
                "rt",
                "--once",
                "--no-progress",
            ]
            log = (directory / "ingest-1.log").open("wb")
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            log.close()
            # Kill as soon as records reach Kafka: mid-cycle (the watermark reads low, and
            # the rest of the cycle is quick).
            deadline = time.monotonic() + 120
            seen = 0
            while time.monotonic() < deadline and process.poll() is None:
                seen = _count_quickly(broker.bootstrap_servers, topic)
                if seen > 0:
                    break
                time.sleep(0.05)
            finished_first = process.poll() is not None
            process.kill()
            process.wait()
            killed = time.monotonic()
            second = subprocess.run(argv, capture_output=True, timeout=300, check=False)
            recovered = time.monotonic() - killed
            summaries = [line for line in second.stdout.splitlines() if line.startswith(b"{")]
            summary: dict[str, Any] = json.loads(summaries[-1]) if summaries else {}
            contents = read_topic(broker.bootstrap_servers, topic)
            figures = Figures(
                "ingest-sigkill",
                acknowledged=size.feed_records,
                found=len(contents.per_key),
                duplicates=contents.duplicates,
                recovery_s=recovered if second.returncode == 0 else None,
            )
            figures.notes.append(
                f"{seen} record(s) in Kafka when killed"
                + (" (the first run had already finished)" if finished_first else "")
            )
            figures.notes.append(
                f"second run: {summary.get('produced')} produced, "
                f"{summary.get('unchanged')} unchanged"
            )
            if second.returncode != 0:
                figures.notes.append(f"second run failed: {second.stderr[-300:]!r}")
            figures.notes.append("recovery: the whole second run (start-up included)")
            return figures
        finally:
            broker.stop()


def _count_quickly(bootstrap: str, topic: str) -> int:
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "faults-peek", "log_level": 3}
    )
    try:
        metadata = consumer.list_topics(topic, timeout=5)
        if topic not in metadata.topics or not metadata.topics[topic].partitions:
            return 0
        total = 0
        for partition in metadata.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(
                confluent_kafka.TopicPartition(topic, partition), timeout=5
            )
            total += high - low
    except confluent_kafka.KafkaException:
        return 0
    else:
        return total
    finally:
        consumer.close()


SCENARIOS: dict[str, Callable[[Size], Figures]] = {
    "up-sigkill": up_sigkill,
    "ingest-sigkill": ingest_sigkill,
    "broker-frozen": broker_frozen,
    "broker-stopped": broker_stopped,
    "store-locked": store_locked,
}


def render(rows: list[Figures]) -> str:
    """The figures as a plain-text table, notes below it."""
    header = (
        "scenario",
        "acked",
        "in Kafka",
        "lost",
        "dupes",
        "acked req",
        "audit rows",
        "recovery",
    )
    lines = [header] + [
        (
            f.scenario,
            str(f.acknowledged),
            str(f.found),
            str(f.lost),
            str(f.duplicates),
            "-" if f.acknowledged_requests is None else str(f.acknowledged_requests),
            "-" if f.audit_rows is None else str(f.audit_rows),
            "-" if f.recovery_s is None else f"{f.recovery_s:.1f} s",
        )
        for f in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    table = "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines
    )
    notes = [f"{f.scenario}: {note}" for f in rows for note in f.notes]
    return table + ("\n\n" + "\n".join(notes) if notes else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("scenarios", nargs="*", help=f"default all: {', '.join(SCENARIOS)}")
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--json", action="store_true", help="print figures as JSON")
    args = parser.parse_args(argv)
    unknown = [n for n in args.scenarios if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    rows = [SCENARIOS[name](SIZES[args.size]) for name in args.scenarios or list(SCENARIOS)]
    if args.json:
        sys.stdout.write(json.dumps([{**asdict(r), "lost": r.lost} for r in rows], indent=2) + "\n")
    else:
        sys.stdout.write(render(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
