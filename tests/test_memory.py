"""The freed C heap is handed back to the system (what keeps a gateway's RSS near its latest
state's budget after it read a topic from the start)."""

from __future__ import annotations

import os
import sys

import pytest

from hub.memory import release_freed_memory


def rss_mib() -> float:
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")
def test_freed_heap_in_the_middle_goes_back_to_the_system() -> None:
    # 60 MiB of malloc'd blocks (over pymalloc's 512-byte limit), every 64th kept alive so
    # the heap cannot shrink from its top by itself: only a trim returns the holes.
    blocks = [bytes(1024) for _ in range(60 * 1024)]
    kept = blocks[::64]
    del blocks
    before = rss_mib()
    assert release_freed_memory()
    after = rss_mib()
    assert before - after > 30, (before, after)
    assert len(kept) == 960
