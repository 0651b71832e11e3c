"""The table of Kafka backends, imported lazily so optional clients stay optional."""

from __future__ import annotations

import importlib

from hub.errors import KafkaError
from hub.kafka.api import Backend

# name -> "module:class"; modules load only when their backend is chosen.
_BACKENDS = {
    "confluent": "hub.kafka.confluent:ConfluentBackend",
    "kafka-python": "hub.kafka.kafkapython:KafkaPythonBackend",
}

DEFAULT_BACKEND = "confluent"


def backend_names() -> list[str]:
    """Names accepted by :func:`get_backend` (and ``hub.kafka_client`` in topics.yaml)."""
    return sorted(_BACKENDS)


def get_backend(name: str = DEFAULT_BACKEND) -> Backend:
    """Return the backend called ``name``; a clear error if it is unknown or not installed."""
    target = _BACKENDS.get(name)
    if target is None:
        raise KafkaError(f"unknown Kafka client {name!r} (known: {', '.join(backend_names())})")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise KafkaError(str(exc)) from exc
    backend: Backend = getattr(module, class_name)()
    return backend
