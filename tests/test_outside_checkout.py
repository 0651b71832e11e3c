"""The hub as a newcomer runs it after the README's install: from any folder, not only from
the checkout (an editable install builds no hub/_data, so the demo files must still be found)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_validate_finds_the_demo_deployment_from_another_folder(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from hub.cli import main; main()", "validate"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("topics.yaml: valid")
