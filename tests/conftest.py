"""Shared fixtures: the real embedded Kafka broker and service requirements.

With CI=true a required service that cannot start fails the test instead of
skipping it, so a green CI run really exercised the real parts.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from hub.broker import EmbeddedBroker
from hub.errors import BrokerStartError
from hub.kafka import Cluster

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def in_ci() -> bool:
    """True when running under CI (CI=true), where missing services are failures."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_missing(what: str) -> NoReturn:
    """Fail under CI, skip elsewhere, naming the missing service."""
    if in_ci():
        pytest.fail(f"required service unavailable under CI: {what}", pytrace=False)
    pytest.skip(f"service unavailable: {what}")


def embedded_broker(
    tmp_path_factory: pytest.TempPathFactory, name: str, what: str
) -> Iterator[EmbeddedBroker]:
    """A started embedded broker logging under a fresh `name` directory, stopped after; a
    broker that cannot start is `what` missing (a skip, or a failure in CI)."""
    instance = EmbeddedBroker(log_dir=tmp_path_factory.mktemp(name))
    try:
        instance.start()
    except BrokerStartError as exc:
        service_missing(f"{what}: {exc}")
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One embedded tansu broker for the whole test session."""
    yield from embedded_broker(tmp_path_factory, "broker", "embedded Kafka broker")


@pytest.fixture(scope="session")
def cluster(broker: EmbeddedBroker) -> Cluster:
    """The embedded broker as a Cluster."""
    return Cluster(broker.bootstrap_servers)


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic and group names, so tests never share state."""
    return uuid.uuid4().hex[:10]
