"""The one signal helper of the long-running commands: SIGINT and SIGTERM set the shutdown
event, and a caller that brings its own event keeps the trigger (no handler installed)."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from hub.signals import shutdown_event


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_a_signal_sets_the_shutdown_event(sig: signal.Signals) -> None:
    loop = asyncio.get_running_loop()
    try:
        shutdown = shutdown_event()
        os.kill(os.getpid(), sig)
        await asyncio.wait_for(shutdown.wait(), timeout=30)
    finally:
        for installed in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(installed)


async def test_an_injected_event_is_the_trigger_and_no_handler_is_installed() -> None:
    injected = asyncio.Event()
    assert shutdown_event(injected) is injected
    # Nothing was installed, so there is nothing of ours to remove.
    assert not asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
