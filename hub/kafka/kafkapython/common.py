"""What every kafka-python client shares: its configuration from a Cluster, records as
``Incoming``, errors as ``hub.errors`` types, and a reachability check."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from hub.errors import KafkaError, KafkaUnavailableError
from hub.kafka.types import (
    Cluster,
    Incoming,
)

__all__ = ["base_config", "incoming", "require_reachable", "translate"]


# librdkafka property -> kafka-python keyword, for the settings a Cluster may carry.
_PROPERTY_NAMES = {
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "sasl_plain_username",
    "sasl.password": "sasl_plain_password",
    "ssl.ca.location": "ssl_cafile",
    "ssl.certificate.location": "ssl_certfile",
    "ssl.key.location": "ssl_keyfile",
}


def base_config(cluster: Cluster, client_id: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap_servers": cluster.bootstrap_servers.split(","),
        "client_id": client_id,
    }
    for prop, value in cluster.properties.items():
        name = _PROPERTY_NAMES.get(prop)
        if name is None:
            raise KafkaError(f"kafka-python backend does not support the property {prop!r}")
        config[name] = value
    return config


def incoming(polled: Mapping[Any, Sequence[Any]]) -> list[Incoming]:
    """kafka-python's poll result as Incoming records."""
    return [
        Incoming(
            r.topic,
            r.partition,
            r.offset,
            r.key,
            r.value,
            [(name, bytes(value)) for name, value in (r.headers or ())],
            r.timestamp if r.timestamp is not None and r.timestamp >= 0 else None,
        )
        for records in polled.values()
        for r in records
    ]


def translate(exc: Exception) -> KafkaError:
    retriable = bool(getattr(exc, "retriable", False))
    return KafkaError(f"{type(exc).__name__}: {exc}", retriable=retriable, code=type(exc).__name__)


async def require_reachable(cluster: Cluster, timeout: float = 5.0) -> None:
    """Fail fast when no bootstrap server accepts a TCP connection.

    kafka-python, given an unreachable cluster, retries in a background thread
    and leaks the refused sockets; checking first keeps that out of the process.
    """
    reasons: list[str] = []
    for server in cluster.bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            reasons.append(f"{server}: {exc or type(exc).__name__}")
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise KafkaUnavailableError(cluster.label, "; ".join(reasons))
