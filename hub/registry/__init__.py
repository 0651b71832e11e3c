"""The schema registry: an embedded Confluent-compatible server and a client for any registry.

Names load lazily: a bridge or an ingest process needs only the client, and importing the
server and its store (SQLAlchemy) cost each of them about 0.35 s of CPU at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.registry.client import RegistryClient
    from hub.registry.codes import RegistryResponseError
    from hub.registry.compatibility import DEFAULT_LEVEL, CompatibilityLevel, check
    from hub.registry.server import create_registry_app
    from hub.registry.store import RegistryStore, SubjectVersion

__all__ = [
    "DEFAULT_LEVEL",
    "CompatibilityLevel",
    "RegistryClient",
    "RegistryResponseError",
    "RegistryStore",
    "SubjectVersion",
    "check",
    "create_registry_app",
]

_MODULES = {
    "DEFAULT_LEVEL": "hub.registry.compatibility",
    "CompatibilityLevel": "hub.registry.compatibility",
    "check": "hub.registry.compatibility",
    "RegistryClient": "hub.registry.client",
    "RegistryResponseError": "hub.registry.codes",
    "RegistryStore": "hub.registry.store",
    "SubjectVersion": "hub.registry.store",
    "create_registry_app": "hub.registry.server",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'hub.registry' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
