"""GTFS static import at national scale, as ``tsunagu ingest --once`` runs it in its own process.

The real Cairns feed is scaled up (trips copied) to the stop_times asked for, served over
loopback HTTP, checked, normalised, encoded and produced to the embedded broker. Measured:
wall time and peak resident memory of the ingest process. Peers: reading the same feed's
stops, routes, trips and stop_times with partridge and with gtfs-kit (both pandas), each in
its own process; they only read, they neither check references nor encode nor produce.

A floor row shows what no import that lands one Kafka record per stop time can beat on
this machine: a raw confluent-kafka loop producing as many pre-encoded records of a stop
time's size (no reading, checking, encoding or hashing) to the same broker.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path

import confluent_kafka
import fastavro
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench import ingest as harness  # the broker and server it shares
from bench.gtfs_feed import scaled_feed
from bench.processes import run_measured
from bench.table import Row

__all__ = ["static_rows"]

_PEERS = {
    "partridge": """
import sys, partridge
feed = partridge.load_raw_feed(sys.argv[1])
print(sum(len(getattr(feed, t)) for t in ("stops", "routes", "trips", "stop_times")))
""",
    "gtfs-kit": """
import sys, gtfs_kit
feed = gtfs_kit.read_feed(sys.argv[1], dist_units="km")
print(sum(len(getattr(feed, t)) for t in ("stops", "routes", "trips", "stop_times")))
""",
}

# The adapter's own read: every table streamed, decoded and checked, nothing produced.
_CHECK = """
import sys
from adapters.gtfs.check import check_feed
from adapters.gtfs.reader import ZipLimits, open_zip
index = check_feed(open_zip(open(sys.argv[1], "rb"), "feed", ZipLimits()))
print(sum(index.rows.values()))
"""

_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tsunagu-bench"


def _timed(script: str, feed: Path) -> tuple[float, int] | str:
    """(wall s, peak RSS bytes) of ``script`` run on the feed in its own process, or why it
    failed."""
    run = run_measured([sys.executable, "-c", script, str(feed)])
    if run.returncode != 0:
        err = run.stderr.strip()
        return f"failed: {err.splitlines()[-1] if err else run.returncode}"
    return run.wall_s, run.peak_rss_bytes


def _stop_time_value() -> bytes:
    """A stop time as the hub writes it (Confluent framing, Avro body) from the Cairns feed."""
    schema = fastavro.parse_schema(json.loads((harness.SCHEMAS / "StopTime.avsc").read_text()))
    record = {
        "id": "urn:ngsi-ld:GtfsStopTime:bench:2026-STP-BRT-W-1234-1~17:12",
        "area": "bench",
        "source_feed": "static",
        "observed_at": 1_790_000_000_000,
        "ingested_at": 1_790_000_000_500,
        "trip_id": "2026-STP-BRT-W-1234-1~17",
        "stop_sequence": 12,
        "stop_id": "310456",
        "arrival_time": 30_240,
        "departure_time": 30_240,
        "shape_dist_traveled": 5_532.5,
        "timepoint": True,
    }
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema, record)
    return b"\x00\x00\x00\x00\x01" + body.getvalue()


def _produce_floor(bootstrap: str, count: int) -> float:
    """Wall seconds of producing ``count`` pre-encoded stop times, with the hub's producer
    settings, until the broker acknowledged them all."""
    topic = "bench.floor.stop-times.v1"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(30)
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 5,
            "compression.type": "lz4",
            "log_level": 3,
        }
    )
    producer.produce(topic, b"warm-up")
    producer.flush(10)
    value = _stop_time_value()
    keys = [
        f"urn:ngsi-ld:GtfsStopTime:bench:trip-{i}~{i % 97}:{i % 31}".encode() for i in range(997)
    ]
    started = time.perf_counter()
    for i in range(count):
        while True:
            try:
                producer.produce(topic, value, keys[i % 997])
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush(300)
    return time.perf_counter() - started


def static_rows(directory: Path, ingest: harness.Context, stop_times: int) -> list[Row]:
    """Rows for the GTFS static import, run with the ingest benchmark's broker and server."""
    _CACHE.mkdir(parents=True, exist_ok=True)
    feed = scaled_feed(_CACHE / f"cairns-x-{stop_times}.zip", stop_times)
    ingest.server.files["static.zip"] = feed
    routing = "".join(f"\n      {e}: {t}" for e, t in harness.STATIC_TOPICS.items())
    feeds = f"""  static:
    adapter: gtfs
    url: {ingest.server.base}/feeds/static.zip
    topics:{routing}
"""
    config = harness._deployment(directory, ingest.bootstrap, ingest.server, feeds)
    summary, wall, _, rss = harness._ingest(config, "static")
    if summary.get("outcome") != "ok":
        raise RuntimeError(f"GTFS import failed: {summary}")
    produced = int(summary["produced"])
    name = f"ingest GTFS static: {stop_times:,} stop_times ({produced:,} records)"
    rows = [Row(name, "peak RSS MB", rss / 2**20, "limit", 300.0, "<= 1.0 (under 300 MB)")]
    reads: dict[str, float] = {}
    for peer_name, script in _PEERS.items():
        peer = _timed(script, feed)
        if isinstance(peer, str):
            rows.append(
                Row(name, f"wall s ({peer_name} {peer})", wall, peer_name, float("nan"), "")
            )
            continue
        reads[peer_name] = peer[0]
        rows += [
            Row(name, "wall s", wall, f"{peer_name} read", peer[0], "<= 1.0"),
            Row(name, "peak RSS MB", rss / 2**20, f"{peer_name} read", peer[1] / 2**20, "peer"),
        ]
    floor = _produce_floor(ingest.bootstrap, produced)
    rows.append(Row(name, "wall s", wall, f"raw produce of {produced:,}", floor, "floor"))
    read = f"read GTFS static: {stop_times:,} stop_times, streamed and checked, not produced"
    check = _timed(_CHECK, feed)
    if not isinstance(check, str):
        for peer_name, peer_wall in reads.items():
            rows.append(Row(read, "wall s", check[0], f"{peer_name} read", peer_wall, "info"))
    for peer_name, peer_wall in reads.items():
        rows.append(
            Row(
                f"raw produce of {produced:,} stop times",
                "wall s",
                floor,
                f"{peer_name} read",
                peer_wall,
                "info: > 1 means no import can meet the wall target",
            )
        )
    return rows
