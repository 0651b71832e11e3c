"""The benchmark command keeps working (toy size); no timing is asserted here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


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


@pytest.mark.timeout(300)
def test_the_memory_attack_rows_state_their_budgets() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "attack", "--quick", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    kinds = (
        "attack: hub RSS with",
        "attack: hub peak RSS, one subscriber never reading",
        "attack: hub RSS after /latest",
    )
    assert len(rows) == len(kinds)
    for row, kind in zip(rows, kinds, strict=True):
        assert row["name"].startswith(kind), row["name"]
    for row in rows:
        assert row["metric"] == "MB"
        assert row["reference_name"] == "budget"
        assert "budget:" in row["name"]
        assert row["reference"] > row["value"] / 10  # an RSS in MB, not in bytes
