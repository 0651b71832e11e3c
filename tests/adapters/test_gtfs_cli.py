"""`tsunagu ingest --feed ID --once` on a GTFS feed, as an operator runs it beside `tsunagu up`:
one JSON line on stdout, a progress bar on stderr, exit 1 with a located error for a
broken feed."""

from __future__ import annotations

import functools
import http.server
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.broker import free_port
from tests.adapters.gtfs_feeds import BROKEN, GTFS
from tests.cli import tsunagu
from tests.test_up import start, wait_ready


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without a log line per request on the test's stderr."""

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def feed_directory(tmp_path: Path) -> Iterator[str]:
    """The sample feeds, served by a plain HTTP server on loopback."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "cairns.zip").write_bytes((GTFS / "cairns_gtfs.zip").read_bytes())
    (root / "broken.zip").write_bytes((BROKEN / "duplicate_stop_sequence.zip").read_bytes())
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_ingest_once_prints_a_summary_and_draws_progress(
    tmp_path: Path, feed_directory: str
) -> None:
    port = free_port()
    routing = "".join(
        f"\n      {e}: qld.transit.{e.replace('_', '-')}.v1"
        for e in ("stops", "routes", "trips", "stop_times")
    )
    topics = "".join(
        f"""
  qld.transit.{e.replace("_", "-")}.v1:
    area: qld
    schema: tsunagu.mobility.{schema}
    cleanup: compact
    licence: CC-BY-4.0
    publisher: Translink"""
        for e, schema in (
            ("stops", "Stop"),
            ("routes", "Route"),
            ("trips", "Trip"),
            ("stop_times", "StopTime"),
        )
    )
    config = tmp_path / "topics.yaml"
    config.write_text(
        f"""version: 1
hub:
  http: {{host: 127.0.0.1, port: {port}}}
  store: {{url: "sqlite:///{tmp_path / "hub.db"}"}}
areas:
  qld: {{title: Queensland, timezone: Australia/Brisbane}}
topics:{topics}
feeds:
  cairns:
    adapter: gtfs
    url: {feed_directory}/cairns.zip
    schedule: {{interval: 1d}}
    enabled: false
    topics:{routing}
  broken:
    adapter: gtfs
    url: {feed_directory}/broken.zip
    schedule: {{interval: 1d}}
    enabled: false
    topics:{routing}
"""
    )
    schemas = Path(__file__).resolve().parents[2] / "schemas" / "avro"
    files = ("--config", str(config), "--schemas", str(schemas))
    process = start(config, schemas)
    try:
        wait_ready(f"http://127.0.0.1:{port}", process)
        done = tsunagu("ingest", *files, "--feed", "cairns", "--once", "--progress")
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["outcome"] == "ok"
        assert summary["produced"] == 416 + 22 + 1339 + 37790
        assert "stop_times.txt" in done.stderr
        assert "37790/37790" in done.stderr  # the bar knows the total from the check pass

        again = tsunagu("ingest", *files, "--feed", "cairns", "--once", "--no-progress")
        assert json.loads(again.stdout)["outcome"] == "not_modified"

        broken = tsunagu("ingest", *files, "--feed", "broken", "--once", "--no-progress")
        assert broken.returncode == 1
        failed = json.loads(broken.stdout)
        assert failed["outcome"] == "error"
        assert "stop_times.txt:4: stop_sequence 10 appears twice" in failed["errors"][0]
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
