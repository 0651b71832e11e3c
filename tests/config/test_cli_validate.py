"""`tsunagu validate` as a user runs it: located problems and the exit status."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.cli import tsunagu

from .conftest import copy_fixture

FIXTURES = Path(__file__).parent / "fixtures"


def run_validate(*args: str) -> subprocess.CompletedProcess[str]:
    return tsunagu("validate", *args)


def test_three_errors_are_located_and_exit_nonzero() -> None:
    result = run_validate("--config", str(FIXTURES / "three_errors.yaml"))
    assert result.returncode == 1
    lines = [
        line for line in result.stderr.splitlines() if re.search(r"three_errors\.yaml:\d+:", line)
    ]
    assert len(lines) == 3, result.stderr
    assert "YAML syntax error" in lines[0]
    assert "unknown key 'partitons'" in result.stderr
    assert "unknown topic 'kaga.mobility.vehicle-position.v1'" in result.stderr


def test_a_valid_file_exits_zero(workspace: Path, schema_dir: Path) -> None:
    config = copy_fixture("valid.yaml", workspace)
    result = run_validate("--config", str(config), "--schemas", str(schema_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(": valid")
