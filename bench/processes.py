"""Child processes whose CPU time and peak memory the benchmarks measure."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass


def reap(
    process: subprocess.Popen[bytes], stop: signal.Signals | None = None
) -> tuple[int, resource.struct_rusage]:
    """Exit code and resource usage of ``process``, after sending it ``stop`` if given.

    ``Popen.send_signal`` polls first, and that poll reaps a child that has already exited
    by itself, leaving ``wait4`` nothing to report (ECHILD); an unreaped child keeps its pid,
    so signalling it directly is safe.
    """
    if stop is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, stop)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage


@dataclass(frozen=True)
class Finished:
    """What a measured run of a command left: exit code, output, CPU, memory, time."""

    returncode: int
    stdout: str
    stderr: str
    cpu_s: float
    peak_rss_bytes: int
    wall_s: float


def run_measured(argv: Sequence[str]) -> Finished:
    """Run ``argv`` to its end, its output going to files (a pipe nobody reads while the
    child runs would block it once full), and measure it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(list(argv), stdout=out, stderr=err)
        code, usage = reap(process)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return Finished(
            code,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss * 1024,
            wall,
        )
