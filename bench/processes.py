"""Child processes whose CPU time and peak memory the benchmarks measure."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
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


# ``exec`` records the high-water mark of the address space it replaces in the process's
# ``ru_maxrss``, and a child that subprocess spawns (vfork) execs from its parent's address
# space: spawned straight from a benchmark that has peaked at hundreds of MB, every command
# would seem to peak at least that high (a 20,000-row GTFS import "used" 375 MB). Commands
# are therefore spawned by this launcher, which is small, and it reports what its child used.
_LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as report:
    report.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_utime + usage.ru_stime} "
                 f"{usage.ru_maxrss} {wall}")
"""


def run_measured(argv: Sequence[str]) -> Finished:
    """Run ``argv`` to its end, its output going to files (a pipe nobody reads while the
    child runs would block it once full), and measure it (time, CPU and memory of that
    command alone)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory(prefix="tsunagu-bench-run-") as scratch,
    ):
        report = os.path.join(scratch, "usage")
        launcher = [sys.executable, "-S", "-c", _LAUNCHER, report, *argv]
        process = subprocess.Popen(launcher, stdout=out, stderr=err)
        launcher_code, _ = reap(process)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        if launcher_code != 0 or not os.path.exists(report):
            return Finished(launcher_code or 1, stdout, stderr, 0.0, 0, 0.0)
        with open(report) as numbers:
            code, cpu_s, max_rss_kb, wall_s = numbers.read().split()
        return Finished(
            int(code), stdout, stderr, float(cpu_s), int(max_rss_kb) * 1024, float(wall_s)
        )
