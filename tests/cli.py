"""The `tsunagu` command as an operator runs it, in its own process: the checkout's code
(``-c`` puts the working directory first on sys.path, so the editable install's target does not
matter), never the installed console script."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

from tests.conftest import REPO

# argv of `tsunagu` before its own arguments.
CLI = (sys.executable, "-c", "from hub.cli import main; main()")


def tsunagu(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 90.0
) -> subprocess.CompletedProcess[str]:
    """Run `tsunagu ARGS` from the checkout to its end; `env` is added to this process's."""
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO,
        env=None if env is None else {**os.environ, **env},
    )
