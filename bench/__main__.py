"""``python -m bench [NAME ...] [--quick] [--json]``: run benchmarks, print one table."""

from __future__ import annotations

import argparse
import importlib
import sys

import orjson

from bench.table import Row, render

# name -> module with run(quick: bool) -> list[Row]; the first entry runs first.
BENCHMARKS = {
    "produce": "bench.produce",
    "ingest": "bench.ingest",
    "gateway": "bench.gateway",
    "bridge": "bench.bridge",
    "attack": "bench.attack",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default all: {', '.join(BENCHMARKS)})"
    )
    parser.add_argument("--quick", action="store_true", help="toy sizes (for CI)")
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    rows: list[Row] = []
    for name in args.names or list(BENCHMARKS):
        rows += importlib.import_module(BENCHMARKS[name]).run(args.quick)
    if args.json:
        sys.stdout.write(
            orjson.dumps([r.as_json() for r in rows], option=orjson.OPT_INDENT_2).decode() + "\n"
        )
    else:
        sys.stdout.write(render(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
