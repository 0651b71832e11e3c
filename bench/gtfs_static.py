"""GTFS static import at national scale, as ``tsunagu ingest --once`` runs it in its own process.

The real Cairns feed is scaled up (trips copied) to the stop_times asked for, served over
loopback HTTP, checked, normalised, encoded and produced to the embedded broker. Measured:
wall time and peak resident memory of the ingest process. Peer: reading the same feed's
stops, routes, trips and stop_times with partridge (pandas) in its own process; partridge
only reads, it neither checks references nor encodes nor produces.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench import ingest as harness  # the broker and server it shares
from bench.gtfs_feed import scaled_feed
from bench.processes import run_measured
from bench.table import Row

__all__ = ["static_rows"]

_PEER = """
import sys, partridge
feed = partridge.load_raw_feed(sys.argv[1])
print(sum(len(getattr(feed, t)) for t in ("stops", "routes", "trips", "stop_times")))
"""

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
    peer = _timed(_PEER, feed)
    if isinstance(peer, str):
        rows.append(Row(name, f"wall s (partridge {peer})", wall, "partridge", float("nan"), ""))
        return rows
    peer_wall, peer_rss = peer
    rows += [
        Row(name, "wall s", wall, "partridge read", peer_wall, "<= 1.0"),
        Row(name, "peak RSS MB", rss / 2**20, "partridge read", peer_rss / 2**20, "peer"),
    ]
    check = _timed(_CHECK, feed)
    if not isinstance(check, str):
        read = f"read GTFS static: {stop_times:,} stop_times, streamed and checked, not produced"
        rows.append(Row(read, "wall s", check[0], "partridge read", peer_wall, "info"))
    return rows
