"""The schema registry: an embedded Confluent-compatible server and a client for any registry."""

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
