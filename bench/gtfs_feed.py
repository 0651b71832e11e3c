"""A large GTFS feed for benchmarks: the real Cairns feed with its trips copied until
stop_times.txt has the rows asked for (each copy a new trip id, same stops and times)."""

from __future__ import annotations

import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CAIRNS = REPO / "tests" / "data" / "gtfs" / "cairns_gtfs.zip"


def scaled_feed(path: Path, stop_times: int) -> Path:
    """Write (once: kept as a cache) a feed of about ``stop_times`` rows at ``path``."""
    if path.exists():
        return path
    with zipfile.ZipFile(CAIRNS) as source:
        tables = {name: source.read(name).decode("utf-8-sig") for name in source.namelist()}
    base_times = tables["stop_times.txt"].splitlines()
    base_trips = tables["trips.txt"].splitlines()
    copies = max(1, -(-stop_times // (len(base_times) - 1)))
    partial = path.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, text in tables.items():
            if name not in ("stop_times.txt", "trips.txt"):
                archive.writestr(name, text)
        for name, lines, trip_column in (
            ("trips.txt", base_trips, base_trips[0].split(",").index("trip_id")),
            ("stop_times.txt", base_times, 0),
        ):
            with archive.open(name, "w", force_zip64=True) as member:
                member.write((lines[0] + "\n").encode())
                body = lines[1:]
                written = 0
                for copy in range(copies):
                    out = []
                    for line in body:
                        cells = line.split(",")
                        cells[trip_column] = f"{cells[trip_column]}~{copy}"
                        out.append(",".join(cells))
                        written += 1
                        if name == "stop_times.txt" and written >= stop_times:
                            break
                    member.write(("\n".join(out) + "\n").encode())
                    if name == "stop_times.txt" and written >= stop_times:
                        break
    partial.rename(path)
    return path
