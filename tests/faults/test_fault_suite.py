"""The fault suite at CI size: each scenario of bench/faults.py (SIGKILL of ``up`` and of
``ingest`` while they work, the broker frozen and stopped, the store locked) run on real
processes, its figures printed as the suite's table and checked: nothing acknowledged is
missing from Kafka, every copy a retry made is marked, and work resumes after the fault.
A bridge killed mid-stream is tests/bridging/test_bridge_exactly_once.py.

Bigger runs: ``python -m bench.faults --size full``."""

from __future__ import annotations

import pytest

from bench.faults import SCENARIOS, SIZES, render


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fault_scenario(name: str) -> None:
    figures = SCENARIOS[name](SIZES["small"])
    print("\n" + render([figures]))  # the suite's table, shown with -s or -rP
    assert figures.recovery_s is not None, figures.notes
    if name != "broker-stopped":  # the embedded broker keeps memory only: loss is expected
        assert figures.found == figures.acknowledged, figures
    assert figures.unmarked == 0, figures
    # Every acknowledged publish has its audit row, crash or not.
    assert figures.audit_rows == figures.acknowledged_requests, figures
