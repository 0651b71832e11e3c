"""The benchmark command keeps working (toy size); no timing is asserted here."""

from __future__ import annotations

import json
import subprocess
import sys


def test_quick_benchmarks_print_json_rows() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,  # the bridge peer installs Quix Streams into its own virtualenv once
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows, "no benchmark rows"
    for row in rows:
        assert set(row) >= {
            "name",
            "metric",
            "value",
            "reference_name",
            "reference",
            "ratio",
            "target",
        }
        assert row["value"] > 0
        assert row["reference"] > 0
